"""Fake Durable Task sidecar: in-memory TaskHubSidecarService with a virtual clock."""

from .clock import Clock
from .engine import InstanceSnapshot
from .errors import EngineError, ErrorCode
from .faults import FaultPlan, FaultRecord
from .sidecar import FakeSidecar

__all__ = ["Clock", "EngineError", "ErrorCode", "FakeSidecar", "FaultPlan", "FaultRecord", "InstanceSnapshot"]
