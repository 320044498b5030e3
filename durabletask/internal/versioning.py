"""Orchestration versioning: options, version comparison and the worker-side version check.

Re-exported by :mod:`durabletask.worker` under the published names.
"""

from __future__ import annotations

import re
from enum import Enum

from durabletask.internal import orchestrator_service_pb2 as pb


class VersionMatchStrategy(Enum):
    """How a worker compares an orchestration's version with its own."""

    NONE = 1
    STRICT = 2
    CURRENT_OR_OLDER = 3


class VersionFailureStrategy(Enum):
    """What a worker does with an orchestration whose version does not match."""

    REJECT = 1
    FAIL = 2


class VersioningOptions:
    """Versioning settings of a worker (see ``TaskHubGrpcWorker.use_versioning``)."""

    version: str | None = None
    default_version: str | None = None
    match_strategy: VersionMatchStrategy | None = None
    failure_strategy: VersionFailureStrategy | None = None

    def __init__(self, version: str | None = None,
                 default_version: str | None = None,
                 match_strategy: VersionMatchStrategy | None = None,
                 failure_strategy: VersionFailureStrategy | None = None):
        """
        Args:
            version: the version of orchestrations this worker runs (compared with each orchestration's version).
            default_version: version given to sub-orchestrations started without an explicit ``version=``.
            match_strategy: how versions are compared.
            failure_strategy: what happens to an orchestration whose version does not match.
        """
        self.version = version
        self.default_version = default_version
        self.match_strategy = match_strategy
        self.failure_strategy = failure_strategy


_NUMERIC_VERSION = re.compile(r"^v?(\d+(?:\.\d+)*)$", re.IGNORECASE)


def _numeric_parts(version: str) -> tuple[int, ...] | None:
    match = _NUMERIC_VERSION.match(version.strip())
    if match is None:
        return None
    parts = [int(p) for p in match.group(1).split(".")]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def compare_versions(source: str | None, target: str | None) -> int:
    """Compare two versions: -1, 0 or 1. Dotted numbers compare numerically (1.10.0 > 1.9.0), anything
    else by string; an empty/absent version is older than any version."""
    if not source and not target:
        return 0
    if not source:
        return -1
    if not target:
        return 1
    left, right = _numeric_parts(source), _numeric_parts(target)
    if left is not None and right is not None:
        return (left > right) - (left < right)
    return (source > target) - (source < target)


def check_orchestration_version(options: VersioningOptions | None,
                                orchestration_version: str | None) -> pb.TaskFailureDetails | None:
    """Failure details describing a version mismatch, or None when the worker may run the orchestration."""
    if options is None or options.match_strategy in (None, VersionMatchStrategy.NONE):
        return None
    comparison = compare_versions(orchestration_version, options.version)
    if options.match_strategy == VersionMatchStrategy.STRICT:
        if comparison != 0:
            return _mismatch(f"The orchestration version '{orchestration_version or ''}' does not match the "
                             f"worker version '{options.version or ''}'.")
        return None
    if options.match_strategy == VersionMatchStrategy.CURRENT_OR_OLDER:
        if comparison > 0:
            return _mismatch(f"The orchestration version '{orchestration_version or ''}' is greater than the "
                             f"worker version '{options.version or ''}'.")
        return None
    return _mismatch(f"The version match strategy '{options.match_strategy}' is unknown.")


def _mismatch(message: str) -> pb.TaskFailureDetails:
    return pb.TaskFailureDetails(errorType="VersionMismatch", errorMessage=message, isNonRetriable=True)
