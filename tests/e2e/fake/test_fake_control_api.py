"""The control API over HTTP and its Python client RemoteFake: clock, faults, inspection and reset from outside.

Driven through a real SDK worker and client over gRPC; the control API is served beside an in-process fake
(the CLI serves the same ControlServer; tests/e2e/fake/test_fake_control_cli.py covers that path).
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from durabletask import client, task, worker
from durabletask_testing import FakeSidecar
from durabletask_testing.control import ControlServer, RemoteFake, RemoteFakeError

TOKEN = "control-s3cret"


def charge(ctx: task.ActivityContext, amount: int) -> str:
    return f"charged {amount}"


def approval(ctx: task.OrchestrationContext, amount: int):  # type: ignore[no-untyped-def]
    decision = ctx.wait_for_external_event("approval")
    timeout = ctx.create_timer(timedelta(hours=24))
    winner = yield task.when_any([decision, timeout])
    if winner == timeout:
        return "timed out"
    return (yield ctx.call_activity(charge, input=amount))


@pytest.fixture
def fake() -> Iterator[FakeSidecar]:
    with FakeSidecar(clock="real", api_token=TOKEN) as sidecar:
        yield sidecar


@pytest.fixture
def remote(fake: FakeSidecar) -> Iterator[RemoteFake]:
    with ControlServer(fake, api_token=TOKEN) as control:
        yield RemoteFake(control.url, api_token=TOKEN)


@pytest.fixture
def sdk(fake: FakeSidecar) -> Iterator[tuple[worker.TaskHubGrpcWorker, client.TaskHubGrpcClient]]:
    metadata = [("authorization", f"Bearer {TOKEN}")]
    with worker.TaskHubGrpcWorker(host_address=fake.address, metadata=metadata) as w:
        w.add_orchestrator(approval)
        w.add_activity(charge)
        w.start()
        c = client.TaskHubGrpcClient(host_address=fake.address, metadata=metadata)
        yield w, c
        c.close()


def test_a_24_hour_timeout_moved_by_the_control_api(remote: RemoteFake, sdk: tuple) -> None:  # type: ignore[type-arg]
    start = datetime(2030, 1, 1, tzinfo=timezone.utc)
    remote.reset(clock="manual", start_time=start)
    assert (remote.clock.mode, remote.clock.now()) == ("manual", start)
    _, c = sdk
    instance_id = c.schedule_new_orchestration(approval, input=5)
    assert remote.wait_until_idle(timeout=10)
    remote.clock.advance(timedelta(hours=24))
    state = c.wait_for_orchestration_completion(instance_id, timeout=10)
    assert state is not None and state.serialized_output == '"timed out"'
    [snapshot] = remote.instances()
    assert (snapshot.instance_id, snapshot.name, snapshot.status_name) == (instance_id, "approval", "COMPLETED")
    assert snapshot.last_updated_at - start >= timedelta(hours=24)
    kinds = [event.WhichOneof("eventType") for event in remote.history(instance_id)]
    assert "timerFired" in kinds and kinds[-1] == "executionCompleted"
    timeline = remote.timeline(instance_id)
    assert "TimerFired" in timeline and "+24:00:00.000" in timeline


def test_faults_set_through_the_control_api_are_injected_and_logged(remote: RemoteFake, sdk: tuple) -> None:  # type: ignore[type-arg]
    remote.reset(clock="auto")
    remote.faults.fail_activity("charge", times=1, message="card network down")
    _, c = sdk
    instance_id = c.schedule_new_orchestration(approval, input=7)
    c.wait_for_orchestration_start(instance_id, timeout=10)
    c.raise_orchestration_event(instance_id, "approval", data=True)
    state = c.wait_for_orchestration_completion(instance_id, timeout=10)
    assert state is not None and state.failure_details is not None
    assert "card network down" in state.failure_details.message
    [record] = remote.faults.log
    assert (record.kind, record.instance_id) == ("fail_activity", instance_id)
    remote.faults.fail_entity("tally", times=2).lose_entity_result("tally").lose_result_at("activity", 3)
    plan = _plan_repr(remote)
    assert "fail_entity(tally)" in plan and "lose_entity_result(tally)" in plan, plan
    remote.faults.chaos(42, rate=0.5)
    assert remote.faults.seed == 42
    remote.faults.clear()
    assert remote.faults.seed is None


def test_reset_empties_the_fake_between_tests(remote: RemoteFake, sdk: tuple) -> None:  # type: ignore[type-arg]
    remote.reset(clock="auto")
    _, c = sdk
    c.schedule_new_orchestration(approval, input=1)
    assert remote.wait_until_idle(timeout=10)
    assert len(remote.instances()) == 1
    remote.reset()
    assert remote.instances() == [] and remote.faults.log == []
    assert remote.instance("missing") is None


def _plan_repr(remote: RemoteFake) -> str:
    """The fake's fault plan as the control API describes it after adding a harmless rule."""
    status, body = _raw(remote.control_url, "POST", "faults", {"kind": "disconnect_workers", "after": 1000})
    assert status == 200
    return str(body["faults"])


def _raw(url: str, method: str, path: str, body: object = None, token: str | None = TOKEN) -> tuple[int, dict]:  # type: ignore[type-arg]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = None if body is None else json.dumps(body).encode()
    if data is not None:
        headers["Content-Type"] = "application/json"  # urllib's default (a form) is refused
    request = urllib.request.Request(f"{url}/v1/{path}", data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_bad_requests_get_a_status_and_a_message_naming_the_problem(fake: FakeSidecar) -> None:
    with ControlServer(fake, api_token=TOKEN) as control:
        url = control.url
        assert _raw(url, "GET", "info", token=None)[0] == 401
        assert _raw(url, "GET", "info", token="wrong")[0] == 401
        status, body = _raw(url, "POST", "faults", {"kind": "explode"})
        assert status == 400 and "kind must be one of" in body["error"]
        status, body = _raw(url, "POST", "faults", {"kind": "fail_activity"})
        assert status == 400 and "activity must be a non-empty string" in body["error"]
        status, body = _raw(url, "POST", "clock/advance", {"seconds": 5})  # the clock is real
        assert status == 409 and "'real'" in body["error"]
        status, body = _raw(url, "POST", "reset", {"clock": "sideways"})
        assert status == 400 and "clock must be one of" in body["error"]
        status, body = _raw(url, "POST", "reset", {"clock": "manual", "start_time": "yesterday"})
        assert status == 400 and "ISO-8601" in body["error"]
        status, body = _raw(url, "GET", "instances/nope/history")
        assert status == 404 and "no instance 'nope'" in body["error"]
        assert _raw(url, "GET", "nowhere")[0] == 404
        for content_type, code in (("application/json", 400), ("application/x-www-form-urlencoded", 415)):
            request = urllib.request.Request(f"{url}/v1/reset", data=b"{not json", method="POST",
                                             headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": content_type})
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(request, timeout=10)
            assert refused.value.code == code, content_type
        assert _raw(url, "GET", "info")[1]["api"] == "durabletask-testing-control"  # still serving


def test_a_remote_fake_refuses_an_address_without_the_control_api() -> None:
    with pytest.raises(RemoteFakeError, match="cannot reach the control API"):
        RemoteFake("http://127.0.0.1:9")


def test_the_openapi_document_lists_exactly_the_routes_served(fake: FakeSidecar) -> None:
    from pathlib import Path

    from durabletask_testing.control import ROUTES

    document = json.loads((Path(__file__).resolve().parents[3] / "docs" / "control-api.openapi.json").read_text())
    documented = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    assert documented == set(ROUTES)
    with ControlServer(fake, api_token=TOKEN) as control:
        for method, path in ROUTES:  # each route answers (a 404 may only say the instance is missing)
            route = path.removeprefix("/v1/").replace("{instance_id}", "x").replace("{entity_id}", "@e@x")
            status, body = _raw(control.url, method, route, {})
            assert status != 404 or body["error"].startswith(("no instance", "no entity")), (method, path, body)


def test_entities_are_listed_with_state_and_operations(remote: RemoteFake, fake: FakeSidecar) -> None:
    from durabletask import entities

    def tally(ctx: entities.EntityContext, amount: int) -> int:
        ctx.set_state(ctx.get_state(int, 0) + amount)
        return int(ctx.get_state(int, 0))

    remote.reset(clock="auto")
    metadata = [("authorization", f"Bearer {TOKEN}")]
    with worker.TaskHubGrpcWorker(host_address=fake.address, metadata=metadata) as w:
        w.add_entity(tally)
        w.start()
        c = client.TaskHubGrpcClient(host_address=fake.address, metadata=metadata)
        c.signal_entity(entities.EntityInstanceId("tally", "t1"), "add", 4)
        assert remote.wait_until_idle(timeout=10)
        c.close()
    [entity] = remote.entities()
    assert (entity.entity_id, entity.state, entity.locked_by) == ("@tally@t1", "4", None)
    assert [(r.operation, r.outcome, r.caller) for r in entity.operations] == [("add", "completed", None)]
    assert remote.entity("@tally@t1") == entity
    assert remote.entity("@tally@none") is None


class _Answers(BaseHTTPRequestHandler):
    """A server posing as the control API: fixed answers per path (a 404 for an unknown one)."""

    answers: dict[str, object] = {}

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        answer = self.answers.get(self.path)
        status, payload = (404, {"error": "no route"}) if answer is None else (200, answer)
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_remote_fake_refuses_an_answer_without_a_time_and_tells_a_404_by_its_status() -> None:
    from durabletask_testing.control import RemoteFakeNotFound

    _Answers.answers = {
        "/v1/info": {"api": "durabletask-testing-control", "version": 1, "sidecar": "127.0.0.1:1", "clock": {}},
        "/v1/clock": {"mode": "manual", "start_time": "2024-01-01T00:00:00Z"},  # no "now"
        "/v1/instances/%20404%20": {"error": "a 200 whose text says 404 is no 404"},
    }
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answers)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        remote = RemoteFake(f"http://127.0.0.1:{server.server_address[1]}")
        with pytest.raises(RemoteFakeError, match="GET /v1/clock: the answer does not fit .*'now'"):
            remote.clock.now()
        with pytest.raises(RemoteFakeError, match="does not fit"):
            remote.instance(" 404 ")
        assert remote.instance("missing") is None
        with pytest.raises(RemoteFakeNotFound) as refused:
            remote.history("missing")
        assert refused.value.status == 404
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
