"""Set-up for the plugin's own tests (they run users' test files in-process with pytester).

pytester's in-process runs remove, afterwards, every module first imported during the run. Generated protobuf
modules must never be imported a second time in one process (protobuf's C extension can crash when the same
file is registered again), so gRPC, the fake's protocol bindings and the installed SDK are imported here,
before any inner run.
"""

import grpc  # noqa: F401

import durabletask.client  # noqa: F401
import durabletask.worker  # noqa: F401
import durabletask_testing.protocol.orchestrator_service_pb2  # noqa: F401
import durabletask_testing.protocol.orchestrator_service_pb2_grpc  # noqa: F401
