"""The Durable Functions management API the bridge serves, over HTTP against a real fake sidecar (no Azure SDK).

``DurableOrchestrationClient`` calls these routes (its ``rpcBaseUrl``) and ``create_check_status_response`` hands
out their webhook URLs; the example app's tests (tests/interop/test_durable_functions_apps.py) drive them through
the SDK itself. Here the routes, status codes, bodies and token rules are checked directly.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from durabletask_testing import FakeSidecar
from durabletask_testing.functions.app import AppFunctions
from durabletask_testing.functions.http_api import ManagementApi, ManagementServer
from durabletask_testing.functions.worker import FunctionsWorker

TOKEN = "functions-s3cret"


@pytest.fixture
def fake() -> Iterator[FakeSidecar]:
    with FakeSidecar(api_token=TOKEN) as sidecar:
        yield sidecar


@pytest.fixture
def api(fake: FakeSidecar) -> Iterator[ManagementApi]:
    management = ManagementApi(fake.address, [("authorization", f"Bearer {TOKEN}")],
                               orchestrators=lambda: {"greet"}, api_token=TOKEN)
    server = ManagementServer(management).start()
    yield management
    server.stop()


def call(url: str, method: str = "GET", body: Any = None, headers: dict[str, str] | None = None,
         ) -> tuple[int, Any, dict[str, str]]:
    data = None if body is None else json.dumps(body).encode()
    sent = {"Content-Type": "application/json", **(headers or {})} if data is not None else dict(headers or {})
    request = urllib.request.Request(url, data=data, method=method, headers=sent)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            raw, status, got = answer.read(), answer.status, dict(answer.headers)
    except urllib.error.HTTPError as error:
        raw, status, got = error.read(), error.code, dict(error.headers)
    return status, (json.loads(raw) if raw else None), got


def test_start_answers_202_with_the_check_status_payload_and_its_urls_are_served(api: ManagementApi,
                                                                                 fake: FakeSidecar) -> None:
    status, payload, headers = call(f"{api.rpc_base_url}orchestrators/greet/order-1", "POST", {"n": 1})

    assert status == 202
    assert payload["id"] == "order-1" and headers["Location"] == payload["statusQueryGetUri"]
    assert fake.instance("order-1") is not None and fake.instance("order-1").input == '{"n": 1}'
    status, body, _ = call(payload["statusQueryGetUri"])  # carries ?code=<token>
    assert status == 202  # not finished: no worker runs it here
    assert body["instanceId"] == "order-1" and body["runtimeStatus"] == "Pending" and body["input"] == {"n": 1}


def test_an_orchestrator_the_app_does_not_have_is_refused_naming_those_it_has(api: ManagementApi) -> None:
    status, body, _ = call(f"{api.rpc_base_url}orchestrators/nope", "POST")

    assert status == 400
    assert "'nope'" in body["Message"] and "greet" in body["Message"]


def test_raise_event_needs_json_and_an_unknown_instance_is_404(api: ManagementApi) -> None:
    call(f"{api.rpc_base_url}orchestrators/greet/waiting", "POST")
    url = f"{api.rpc_base_url}instances/waiting/raiseEvent/Approval"

    assert call(url, "POST", {"approved": True})[0] == 202
    assert call(f"{api.rpc_base_url}instances/missing/raiseEvent/Approval", "POST", {})[0] == 404
    request = urllib.request.Request(url, data=b"yes", method="POST", headers={"Content-Type": "text/plain"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 400
    assert "application/json" in json.loads(refused.value.read())["Message"]


def test_list_terminate_and_purge_instances(api: ManagementApi, fake: FakeSidecar) -> None:
    for instance_id in ("a-1", "a-2", "b-1"):
        call(f"{api.rpc_base_url}orchestrators/greet/{instance_id}", "POST")

    status, listed, _ = call(f"{api.rpc_base_url}instances/?instanceIdPrefix=a-")
    assert status == 200 and sorted(item["instanceId"] for item in listed) == ["a-1", "a-2"]
    assert call(f"{api.rpc_base_url}instances/b-1", "DELETE")[0] == 412  # still pending: the fake refuses
    assert call(f"{api.rpc_base_url}instances/b-1/terminate?reason=done", "POST")[0] == 202
    # A termination is the framework's own answer: the bridge's worker completes it without the app's code.
    with FunctionsWorker(AppFunctions([]), fake.address, [("authorization", f"Bearer {TOKEN}")]):
        assert fake.wait_until_idle(10)
    status, body, _ = call(f"{api.rpc_base_url}instances/b-1")
    assert status == 200 and body["runtimeStatus"] == "Terminated" and body["output"] == "done"
    assert call(f"{api.rpc_base_url}instances/b-1/terminate", "POST")[0] == 410
    assert call(f"{api.rpc_base_url}instances/b-1", "DELETE")[1] == {"instancesDeleted": 1}
    assert fake.instance("b-1") is None
    assert call(f"{api.rpc_base_url}instances/b-1", "DELETE")[0] == 404


def test_entity_signal_reaches_the_fake_as_an_entity_operation(api: ManagementApi, fake: FakeSidecar) -> None:
    status, _, _ = call(f"{api.rpc_base_url}entities/Counter/k1?op=add", "POST", 5)

    assert status == 202
    assert [entity.entity_id for entity in fake.entities()] == ["@counter@k1"]  # its batch waits for a worker
    assert call(f"{api.rpc_base_url}entities/counter/unknown")[0] == 404


@pytest.mark.parametrize("how", ["none", "wrong bearer", "wrong code"])
def test_without_the_token_every_route_is_401(api: ManagementApi, how: str) -> None:
    base = f"{api.base_url}/runtime/webhooks/durabletask/instances/x"
    url, headers = {"none": (base, {}), "wrong bearer": (base, {"Authorization": "Bearer nope"}),
                    "wrong code": (f"{base}?code=nope", {})}[how]

    status, body, _ = call(url, headers=headers)

    assert status == 401 and "token" in body["Message"]


@pytest.mark.parametrize("how", ["bearer", "code", "rpc path"])
def test_the_token_is_taken_as_a_bearer_header_a_code_parameter_or_the_rpc_path(api: ManagementApi, how: str) -> None:
    webhook = f"{api.base_url}/runtime/webhooks/durabletask/instances/missing"
    url, headers = {"bearer": (webhook, {"Authorization": f"Bearer {TOKEN}"}),
                    "code": (f"{webhook}?code={TOKEN}", {}),
                    "rpc path": (f"{api.rpc_base_url}instances/missing", {})}[how]

    assert call(url, headers=headers)[0] == 404  # admitted; no such instance


def test_a_foreign_host_header_is_refused_as_the_control_api_refuses_it(api: ManagementApi) -> None:
    parts = urlsplit(api.base_url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    connection.request("GET", f"/runtime/webhooks/durabletask/instances/x?code={TOKEN}",
                       headers={"Host": "attacker.example"})
    answer = connection.getresponse()

    assert answer.status == 421
    connection.close()


def test_binding_a_public_address_without_a_token_is_refused(fake: FakeSidecar) -> None:
    with pytest.raises(ValueError, match="without an API token"):
        ManagementServer(ManagementApi(fake.address), host="0.0.0.0")


def test_serve_with_a_functions_app_it_cannot_import_exits_2_naming_it(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "durabletask_testing", "serve", "--port", "0",
                             "--functions-app", "no_such_module:app"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=60)

    assert result.returncode == 2
    assert "--functions-app no_such_module:app" in result.stderr and "no_such_module" in result.stderr
