"""The SDK adapters: each SDK's worker and client as the fixtures hand them out, behind ``seams.ManagedWorker``.

``worker.py`` and ``client.py``: the ``durabletask`` API (ours and the published SDK share it), with the test
conveniences each adds held in one typed object; ``stubs.py``: test doubles by name, through one trampoline per
registered name; ``dapr.py``: Dapr Workflow's ``WorkflowRuntime`` and ``DaprWorkflowClient``. Nothing here is
imported before a test asks for a fixture (the SDKs are heavy).
"""
