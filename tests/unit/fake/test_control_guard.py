"""What the control API checks before routing (``RequestGuard``, the body readers) and how the server bounds its
connections: pure checks of headers, then a real ControlServer over raw HTTP."""

from __future__ import annotations

import http.client
import socket
import time
from collections.abc import Iterator
from email.message import Message
from http import HTTPStatus

import pytest

from durabletask_testing import FakeSidecar
from durabletask_testing.control import ControlError, ControlServer
from durabletask_testing.control.server import RequestGuard, _content_length, _json_body

PORT = 4002


def headers(**values: str) -> Message:
    message = Message()
    for name, value in values.items():
        message[name.replace("_", "-")] = value
    return message


def refusal(guard: RequestGuard, **values: str) -> HTTPStatus | None:
    try:
        guard.admit("POST", headers(**values))
    except ControlError as error:
        return error.status
    return None


@pytest.mark.parametrize("host", ["127.0.0.1:4002", "localhost:4002", "[::1]:4002", "LOCALHOST", "127.0.0.2:4002"])
def test_loopback_hosts_are_served(host: str) -> None:
    assert refusal(RequestGuard("127.0.0.1", PORT, None), Host=host) is None


@pytest.mark.parametrize("host", ["evil.example", "evil.example:4002", "127.0.0.1:4003", "10.0.0.1:4002",
                                  "localhost.evil.example:4002"])
def test_other_hosts_are_misdirected(host: str) -> None:
    assert refusal(RequestGuard("127.0.0.1", PORT, None), Host=host) == HTTPStatus.MISDIRECTED_REQUEST


def test_a_host_that_is_not_a_host_name_is_a_bad_request() -> None:
    assert refusal(RequestGuard("127.0.0.1", PORT, None), Host="127.0.0.1:port") == HTTPStatus.BAD_REQUEST


def test_a_named_bind_address_is_a_host_too_and_a_wildcard_checks_no_host() -> None:
    assert refusal(RequestGuard("10.0.0.5", PORT, "t"), Host="10.0.0.5:4002", Authorization="Bearer t") is None
    assert refusal(RequestGuard("0.0.0.0", PORT, "t"), Host="build-box:4002", Authorization="Bearer t") is None


@pytest.mark.parametrize(("origin", "status"), [
    ("http://127.0.0.1:4002", None),
    ("http://evil.example", HTTPStatus.FORBIDDEN),
    ("http://localhost:4002", HTTPStatus.FORBIDDEN),  # not the Host the request was sent to
    ("https://127.0.0.1:4002", HTTPStatus.FORBIDDEN),
    ("null", HTTPStatus.FORBIDDEN),
])
def test_only_the_server_s_own_origin_is_served(origin: str, status: HTTPStatus | None) -> None:
    assert refusal(RequestGuard("127.0.0.1", PORT, None), Host="127.0.0.1:4002", Origin=origin) == status


def test_cross_site_fetches_are_forbidden() -> None:
    guard = RequestGuard("127.0.0.1", PORT, None)
    assert refusal(guard, Host="127.0.0.1:4002", Sec_Fetch_Site="cross-site") == HTTPStatus.FORBIDDEN
    assert refusal(guard, Host="127.0.0.1:4002", Sec_Fetch_Site="same-origin") is None


@pytest.mark.parametrize("authorization", ["Bearer s3cret", "bearer s3cret", "BEARER s3cret"])
def test_the_bearer_scheme_is_case_insensitive(authorization: str) -> None:
    assert refusal(RequestGuard("127.0.0.1", PORT, "s3cret"), Authorization=authorization) is None


@pytest.mark.parametrize("authorization", ["Bearer wrong", "Basic s3cret", "s3cret", ""])
def test_a_wrong_authorization_is_unauthorized(authorization: str) -> None:
    assert refusal(RequestGuard("127.0.0.1", PORT, "s3cret"), Authorization=authorization) == HTTPStatus.UNAUTHORIZED


def test_chunked_bodies_need_a_length() -> None:
    guard = RequestGuard("127.0.0.1", PORT, None)
    assert refusal(guard, Transfer_Encoding="chunked") == HTTPStatus.LENGTH_REQUIRED


@pytest.mark.parametrize("value", ["\u00b2", "-1", "1e3", "0x10", "1" * 13, "\u0663"])
def test_a_content_length_must_be_ascii_digits(value: str) -> None:
    with pytest.raises(ControlError, match="Content-Length") as refused:
        _content_length(headers(Content_Length=value))
    assert refused.value.status == HTTPStatus.BAD_REQUEST


def test_two_different_content_lengths_are_refused() -> None:
    message = headers(Content_Length="2")
    message["Content-Length"] = "3"
    with pytest.raises(ControlError, match="two different Content-Length"):
        _content_length(message)


@pytest.mark.parametrize(("raw", "content_type", "status"), [
    (b"{}", "text/plain", HTTPStatus.UNSUPPORTED_MEDIA_TYPE),
    (b"", "application/x-www-form-urlencoded", HTTPStatus.UNSUPPORTED_MEDIA_TYPE),
    (b"{}", None, HTTPStatus.UNSUPPORTED_MEDIA_TYPE),
    (b"[" * 100_000 + b"]" * 100_000, "application/json", HTTPStatus.BAD_REQUEST),
    (b"[1]", "application/json", HTTPStatus.BAD_REQUEST),
    (b"\xff", "application/json", HTTPStatus.BAD_REQUEST),
])
def test_bodies_must_be_json_objects(raw: bytes, content_type: str | None, status: HTTPStatus) -> None:
    with pytest.raises(ControlError) as refused:
        _json_body(raw, content_type)
    assert refused.value.status == status and "Error" not in str(refused.value)


def test_json_bodies_are_read_with_any_charset_parameter() -> None:
    assert _json_body(b'{"a": 1}', "application/json; charset=utf-8") == {"a": 1}
    assert _json_body(b"", None) == {} and _json_body(b"  ", "application/json") == {}


# -- a real server -----------------------------------------------------------------------------------------------

@pytest.fixture
def fake() -> Iterator[FakeSidecar]:
    with FakeSidecar(clock="manual") as sidecar:
        yield sidecar


def test_a_control_api_on_every_interface_without_a_token_is_refused(fake: FakeSidecar) -> None:
    with pytest.raises(ValueError, match="without an API token"):
        ControlServer(fake, host="0.0.0.0")
    with ControlServer(fake, host="0.0.0.0", allow_remote=True) as control:
        assert control.url.startswith("http://0.0.0.0:")


def info_status(port: int) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", "/v1/info")
        return connection.getresponse().status
    finally:
        connection.close()


def status_becomes(port: int, wanted: int, seconds: float = 5.0) -> int:
    """Ask until the answer is ``wanted`` (each request is a round trip: the server's threads move meanwhile)."""
    deadline = time.monotonic() + seconds
    status = info_status(port)
    while status != wanted and time.monotonic() < deadline:
        status = info_status(port)
    return status


def test_connections_beyond_the_bound_are_answered_503_and_the_slots_come_back(fake: FakeSidecar) -> None:
    with ControlServer(fake, max_connections=2) as control:
        port = int(control.url.rsplit(":", 1)[1])
        held = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(2)]
        try:
            for sock in held:  # half a request each: the server is reading them
                sock.sendall(b"GET /v1/info HTTP/1.1\r\n")
            assert status_becomes(port, 503) == 503
        finally:
            for sock in held:
                sock.close()
        assert status_becomes(port, 200) == 200  # closed connections give their slots back
