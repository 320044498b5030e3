"""Test set-up for the examples' test files.

The plugin (``durabletask_pytest``) provides the ``durable_*`` fixtures. This file only makes the example
modules importable from their tests under any pytest import mode (the tests import them by module name,
as ``python examples/<name>.py`` does).
"""

from __future__ import annotations

import sys
from pathlib import Path

EXAMPLES_DIR = Path(__file__).resolve().parent
if str(EXAMPLES_DIR) not in sys.path:
    sys.path.insert(0, str(EXAMPLES_DIR))

# The Durable Functions app is a project of its own (its pytest.ini names the app): its tests need
# azure-functions-durable and run from that folder, in a venv of that SDK (tests/interop/test_durable_functions_apps.py,
# scripts/check_wheels.py), not as part of these examples.
collect_ignore = ["durable_functions_app"]
