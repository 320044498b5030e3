"""The plugin's Durable Functions room: the ``durable_functions`` fixture and the audit of its orchestrations.

Registered by ``durabletask_pytest.plugin`` (``pytest_plugins``); imports the Durable Functions SDK only when a
test asks for the fixture.
"""
