"""Repository-wide pytest configuration."""

# pytester runs inner pytest sessions for the plugin and docs tests; it must be enabled here, at the root.
pytest_plugins = ["pytester"]

# pytester's in-process runs remove, afterwards, every module first imported during the run, and generated
# protobuf modules must never be imported twice in one process (protobuf's C extension can crash when the same
# file is registered again). Import gRPC, both sets of protocol bindings and the SDK before any inner run.
import grpc  # noqa: E402, F401

import durabletask.client  # noqa: E402, F401
import durabletask.worker  # noqa: E402, F401
import durabletask_testing.protocol.orchestrator_service_pb2_grpc  # noqa: E402, F401
