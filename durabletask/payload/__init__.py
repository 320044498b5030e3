"""Large-payload externalization interface (names only: this SDK does not externalize payloads yet)."""

from durabletask.payload.store import LargePayloadStorageOptions, PayloadStore

__all__ = ["LargePayloadStorageOptions", "PayloadStore"]
