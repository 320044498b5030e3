"""Custom properties for failure details: a worker option that turns an exception into extra, portable data."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class ExceptionPropertiesProvider(Protocol):
    """Pass one to ``TaskHubGrpcWorker(exception_properties_provider=...)``: the mapping it returns for an
    exception raised by an activity or orchestrator is stored in ``FailureDetails.properties``."""

    def get_exception_properties(self, exception: Exception) -> Mapping[str, Any] | None:
        """JSON-like properties describing ``exception``, or None for none."""
        ...
