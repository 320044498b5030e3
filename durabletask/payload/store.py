"""The payload-store interface of the published SDK.

This SDK has the names so code written against the published package imports, but it does not move large
payloads into a store: passing ``payload_store=`` to a client or worker raises :class:`NotImplementedError`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass


@dataclass
class LargePayloadStorageOptions:
    """When payloads would be externalized: size threshold, maximum stored size, compression."""

    threshold_bytes: int = 262_144
    max_stored_payload_bytes: int = 10_485_760
    enable_compression: bool = True


class PayloadStore(ABC):
    """A store holding payloads too large for the sidecar, referenced by tokens."""

    @property
    @abstractmethod
    def options(self) -> LargePayloadStorageOptions:
        """The store's externalization options."""

    @abstractmethod
    def upload(self, data: bytes, *, instance_id: str | None = None) -> str:
        """Store ``data``; returns its token."""

    @abstractmethod
    async def upload_async(self, data: bytes, *, instance_id: str | None = None) -> str:
        """Store ``data`` (asyncio); returns its token."""

    @abstractmethod
    def download(self, token: str) -> bytes:
        """The data stored under ``token``."""

    @abstractmethod
    async def download_async(self, token: str) -> bytes:
        """The data stored under ``token`` (asyncio)."""

    @abstractmethod
    def is_known_token(self, value: str) -> bool:
        """True when ``value`` is a token of this store."""


def refuse_payload_store(payload_store: PayloadStore | None) -> None:
    """Raise NotImplementedError when a payload store is configured (not supported by this SDK)."""
    if payload_store is not None:
        raise NotImplementedError(
            "payload_store: this SDK does not externalize large payloads; use the published durabletask package "
            "for payload stores.")
