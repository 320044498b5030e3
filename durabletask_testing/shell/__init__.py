"""The gRPC shell: TaskHubSidecarService RPCs in, engine calls out; no state of its own.

The servicer (:class:`FakeSidecarServicer`) translates each RPC and maps errors to statuses; around it the API
token interceptor (:mod:`.auth`), the task hub interceptor (:mod:`.taskhub`), the size limits checked before the
engine sees a request (:mod:`.limits`) and the admission of blocking RPCs to pools of their own (:mod:`.admission`).
"""

from .admission import Admission
from .auth import (
    TOKEN_ENV_VAR,
    ApiTokenInterceptor,
    TokenError,
    bearer_matches,
    check_token,
    is_loopback,
    refusal,
    resolve_token,
)
from .limits import Limits, check_request
from .servicer import (
    CONTROL_METADATA_KEY,
    DEFAULT_HEALTH_PING_INTERVAL,
    LONG_POLL_RPCS,
    NOT_IMPLEMENTED_RPCS,
    WORK_ITEM_STREAM_RPCS,
    WORKER_TAG_METADATA_KEY,
    FakeSidecarServicer,
    abort,
)
from .taskhub import TASK_HUB_METADATA_KEY, TaskHubInterceptor, check_task_hub

__all__ = [
    "Admission",
    "ApiTokenInterceptor",
    "CONTROL_METADATA_KEY",
    "DEFAULT_HEALTH_PING_INTERVAL",
    "FakeSidecarServicer",
    "LONG_POLL_RPCS",
    "Limits",
    "NOT_IMPLEMENTED_RPCS",
    "TASK_HUB_METADATA_KEY",
    "TOKEN_ENV_VAR",
    "TaskHubInterceptor",
    "TokenError",
    "WORK_ITEM_STREAM_RPCS",
    "WORKER_TAG_METADATA_KEY",
    "abort",
    "bearer_matches",
    "check_request",
    "check_task_hub",
    "check_token",
    "is_loopback",
    "refusal",
    "resolve_token",
]
