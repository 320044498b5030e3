"""The replay audit's Durable Functions part (audit/functions.py): which instances it hands to which app.

The app here is a stand-in for ``ManagedFunctionsApp`` (the real one, ``durable_functions``, needs the Durable
Functions SDK and is checked in tests/interop/test_durable_functions_apps.py); the instances are real, on a fake.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from durabletask_pytest.audit.functions import audit_functions
from durabletask_pytest.audit.replay import RemovedHistories
from durabletask_pytest.fixtures.settings import DurableSettings
from durabletask_pytest.fixtures.state import DurableTestState

from durabletask import client
from durabletask_testing import FakeSidecar


class StandInApp:
    """Replays nothing: records what it was asked to replay and finds a divergence in the names it is told to."""

    def __init__(self, names: set[str], diverging: set[str], functions: dict[str, Any] | None = None) -> None:
        self.names = names
        self.diverging = diverging
        self.functions = functions if functions is not None else {name: _plain for name in names}
        self.replayed: list[tuple[str, int, int]] = []
        self.spec_asked = 0

    def orchestrator_names(self) -> set[str]:
        return set(self.names)

    def replay_history(self, instance_id: str, history: Sequence[Any], repeats: int) -> str | None:
        self.replayed.append((instance_id, len(history), repeats))
        return f"instance {instance_id!r} diverged" if instance_id in self.diverging else None

    def orchestrator_functions(self) -> dict[str, Any]:
        return dict(self.functions)

    def import_spec(self) -> str | None:
        self.spec_asked += 1
        return None  # as an app object built inside a test: no other process can import it


def _plain(context: Any) -> Any:
    yield context.call_activity("send", sorted(["email", "sms"]))


def _with_a_set(context: Any) -> Any:
    for channel in {"email", "sms"}:
        yield context.call_activity("send", channel)


@pytest.fixture
def fake() -> Iterator[FakeSidecar]:
    with FakeSidecar() as sidecar:
        c = client.TaskHubGrpcClient(host_address=sidecar.address)
        for name, instance_id in (("steady", "s-1"), ("dice", "d-1"), ("other_sdk", "o-1")):
            c.schedule_new_orchestration(name, instance_id=instance_id)
        c.close()
        yield sidecar


def test_each_app_replays_its_own_instances_with_the_configured_repeats(fake: FakeSidecar) -> None:
    app = StandInApp({"steady", "dice"}, diverging=set())
    state = DurableTestState(settings=DurableSettings(replay_audit_repeats=3), sidecar=fake, functions_apps=[app])

    assert audit_functions(state) is None
    assert sorted((instance_id, repeats) for instance_id, _, repeats in app.replayed) == [("d-1", 3), ("s-1", 3)]


def test_a_divergence_is_reported_through_the_sdks_replay_and_purged_instances_are_audited(
        fake: FakeSidecar) -> None:
    app = StandInApp({"steady", "dice"}, diverging={"d-1", "gone"})
    removed = RemovedHistories()
    removed.record(type("Snapshot", (), {"instance_id": "gone", "name": "dice"})(), [])
    state = DurableTestState(settings=DurableSettings(), sidecar=fake, functions_apps=[app])

    findings = audit_functions(state, removed)

    assert findings is not None
    assert findings.splitlines() == ["replayed through the Durable Functions SDK's own replay:",
                                     "instance 'd-1' diverged",
                                     "instance 'gone' diverged (an instance the test purged or replaced)"]


def test_the_hash_seed_pass_is_asked_for_only_for_orchestrators_that_may_use_sets(fake: FakeSidecar) -> None:
    plain = StandInApp({"steady", "dice"}, diverging=set())
    assert audit_functions(DurableTestState(settings=DurableSettings(), sidecar=fake, functions_apps=[plain])) is None
    assert plain.spec_asked == 0  # no set in sight: no import spec looked for, no process started

    sets = StandInApp({"steady", "dice"}, diverging=set(), functions={"steady": _plain, "dice": _with_a_set})
    assert audit_functions(DurableTestState(settings=DurableSettings(), sidecar=fake, functions_apps=[sets])) is None
    assert sets.spec_asked == 1  # chosen, but an app no other process imports is skipped
