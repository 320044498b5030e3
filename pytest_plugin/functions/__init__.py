"""The plugin's Durable Functions room: what the ``durable_functions`` fixture hands a test.

:func:`open_functions` runs a Durable Functions app (``durabletask_testing.functions.FunctionsHost``) on the test's
sidecar and yields a :class:`DurableFunctions`; ``plugin.py`` defines the fixture over it and the replay audit
replays the app's orchestrations through it (:class:`~durabletask_pytest.seams.ManagedFunctionsApp`). The Durable
Functions SDK is imported only when a test asks for the fixture.
"""

from __future__ import annotations

from .app import DurableFunctions, FunctionsSetupError, open_functions

__all__ = ["DurableFunctions", "FunctionsSetupError", "open_functions"]
