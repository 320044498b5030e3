"""The adapter for the ``durabletask`` API (ours and the published SDK): the client as ``durable_client`` hands it out.

``DurableTestClient`` *is* a ``TaskHubGrpcClient``; it remembers the instance ids it scheduled, so that the
failure report and the clean-up of an external sidecar can find them, and explains a wait that timed out because
no worker runs. What it adds to the SDK's object lives in one :class:`ClientExtras` under one attribute. It is a
:class:`~durabletask_pytest.seams.ManagedClient`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from durabletask import client as dt_client


@dataclass
class ClientExtras:
    """What a DurableTestClient keeps beside the SDK's own state."""

    scheduled: list[str] = field(default_factory=list)
    """Instance ids returned by ``schedule_new_orchestration``, in order."""
    timeout_hint: Callable[[str], str | None] | None = None
    """Explains why a wait for an instance may have timed out (the fixture gives one)."""
    closed: bool = False
    """``close()`` was called."""
    attributes: dict[str, int] = field(default_factory=dict)
    """The identity of each SDK attribute when the test got the client (``remember_attributes``)."""


class DurableTestClient(dt_client.TaskHubGrpcClient):
    """A TaskHubGrpcClient connected to the test's sidecar that remembers which instances it scheduled."""

    _durable: ClientExtras

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._durable = ClientExtras()
        super().__init__(*args, **kwargs)

    @property
    def scheduled_instance_ids(self) -> list[str]:
        """Instance ids returned by schedule_new_orchestration during this test, in order."""
        return list(self._durable.scheduled)

    def schedule_new_orchestration(self, *args: Any, **kwargs: Any) -> str:
        """Schedule an orchestration (the SDK's method) and remember its instance id."""
        instance_id = super().schedule_new_orchestration(*args, **kwargs)
        self._durable.scheduled.append(instance_id)
        return instance_id

    def wait_for_orchestration_start(self, instance_id: str, *args: Any, **kwargs: Any) -> Any:
        """The SDK's method; a TimeoutError says so when no worker of the test was started."""
        try:
            return super().wait_for_orchestration_start(instance_id, *args, **kwargs)
        except TimeoutError as error:
            raise self._explained(error, instance_id) from error

    def wait_for_orchestration_completion(self, instance_id: str, *args: Any, **kwargs: Any) -> Any:
        """The SDK's method; a TimeoutError says so when no worker of the test was started."""
        try:
            return super().wait_for_orchestration_completion(instance_id, *args, **kwargs)
        except TimeoutError as error:
            raise self._explained(error, instance_id) from error

    def close(self) -> None:
        """Close the client (the SDK's method)."""
        self._durable.closed = True
        super().close()

    def remember_attributes(self) -> None:
        """Note the SDK's attributes as they are now, so that :meth:`ready_for_next_test` sees any change."""
        self._durable.attributes = _attribute_ids(self)

    def ready_for_next_test(self) -> bool:
        """Forget this test (instance ids, hint) for the next one; False when the client was closed or one of its
        attributes was replaced during the test (then it is not handed to another test)."""
        extras = self._durable
        if extras.closed or not extras.attributes or _attribute_ids(self) != extras.attributes:
            return False
        self._durable = ClientExtras(attributes=extras.attributes)
        return True

    def set_timeout_hint(self, hint: Callable[[str], str | None]) -> None:
        """Use ``hint(instance_id)`` to explain a wait that timed out (the fixture gives one)."""
        self._durable.timeout_hint = hint

    def _explained(self, error: TimeoutError, instance_id: str) -> TimeoutError:
        hint_for = self._durable.timeout_hint
        try:
            hint = hint_for(instance_id) if hint_for is not None else None
        except Exception:  # an explanation must never replace the real error
            hint = None
        return TimeoutError(f"{error}: {hint}") if hint else error


def _attribute_ids(client: DurableTestClient) -> dict[str, int]:
    return {name: id(value) for name, value in vars(client).items() if name != "_durable"}
