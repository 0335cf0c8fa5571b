"""The web simulators' event-loop front end (``HttpSimulator.serve_on``, what the benchmarks' simulator processes
use) answers exactly as the threaded one: every check runs on both, and every web driver's mitigation sends the
same requests and meets the same answers on either."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from routerfix.simulators._hosts.http import GARBAGE, HttpSimulator, SimRequest, SimResponse

import routerfix
from routerfix.driver import Timeouts
from routerfix.simulate import simulate

pytest.importorskip("httptools")

FRONTS = ["threads", "loop"]
DEADLINE = 10.0


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop running in a thread of its own, as the benchmarks' simulator host runs one."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(DEADLINE)
    loop.close()


def _device(req: SimRequest) -> SimResponse:
    """A tiny device: ``/n`` counts the requests it handled, ``/form`` echoes the form, ``/cookie`` sets one."""
    _device.handled += 1  # type: ignore[attr-defined]
    if req.path == "/form":
        return SimResponse(200, "&".join(f"{k}={v}" for k, v in req.form_list), content_type="text/plain")
    if req.path == "/cookie":
        return SimResponse(200, "ok").set_cookie("sid", "abc", http_only=True)
    if req.path == "/missing":
        return SimResponse(404, "not found")
    return SimResponse(200, f"handled {_device.handled}", content_type="text/plain")  # type: ignore[attr-defined]


_device.handled = 0  # type: ignore[attr-defined]


@pytest.fixture(params=FRONTS)
def serve(request: pytest.FixtureRequest, loop: asyncio.AbstractEventLoop
          ) -> Iterator[Callable[..., HttpSimulator]]:
    """Start an :class:`HttpSimulator` served by threads or on the loop."""
    started: list[HttpSimulator] = []

    def start(handler: Callable[[SimRequest], SimResponse] = _device, **kw: Any) -> HttpSimulator:
        sim = HttpSimulator(handler, server_header="test-device", **kw).start()
        started.append(sim)
        if request.param == "loop":
            sim.serve_on(loop)
        return sim

    yield start
    for sim in started:
        sim.stop()


def _raw(sim: HttpSimulator, data: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", sim.port), timeout=DEADLINE)
    sock.sendall(data)
    return sock


def _read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (which it must do within the deadline)."""
    chunks = []
    deadline = time.monotonic() + DEADLINE
    with sock:
        while True:
            assert time.monotonic() < deadline, "the server kept the connection open"
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def _read_answers(sock: socket.socket, bodies: list[bool]) -> list[tuple[bytes, bytes]]:
    """One answer per entry of ``bodies`` (whether it has a body: not to a HEAD), each read by its
    Content-Length, within the deadline."""
    data = b""
    answers: list[tuple[bytes, bytes]] = []
    deadline = time.monotonic() + DEADLINE
    while len(answers) < len(bodies) and time.monotonic() < deadline:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if sep:
            length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            if not bodies[len(answers)]:
                length = 0
            if len(rest) >= length:
                answers.append((head, rest[:length]))
                data = rest[length:]
                continue
        data += sock.recv(65536)
    return answers


def test_answers_carry_the_device_headers_status_and_body(serve: Callable[..., HttpSimulator]) -> None:
    sim = serve()
    with requests.Session() as session:
        page = session.get(sim.url + "/cookie", timeout=DEADLINE)
        missing = session.get(sim.url + "/missing", timeout=DEADLINE)
    assert page.status_code == 200 and page.text == "ok"
    assert page.headers["Server"] == "test-device" and page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert page.headers["Set-Cookie"] == "sid=abc; Path=/; HttpOnly" and "GMT" in page.headers["Date"]
    assert missing.status_code == 404 and missing.reason == "Not Found" and missing.text == "not found"
    assert [(r.method, r.path, r.status) for r in sim.requests] == [("GET", "/cookie", 200), ("GET", "/missing", 404)]


def test_a_form_body_query_and_headers_reach_the_handler(serve: Callable[..., HttpSimulator]) -> None:
    sim = serve()
    answer = requests.post(sim.url + "/form?a%20b=1", data=[("x", "1"), ("x", "2"), ("y", "é")],
                           headers={"X-Thing": "v"}, timeout=DEADLINE)
    assert answer.content.decode() == "x=1&x=2&y=é"
    [seen] = sim.requests
    assert seen.query == "a b=1" and seen.form == {"x": "1", "y": "é"} and seen.headers["x-thing"] == "v"
    assert seen.body == b"x=1&x=2&y=%C3%A9" and seen.client == "127.0.0.1"


def test_one_kept_alive_connection_serves_several_requests_and_head_has_no_body(
        serve: Callable[..., HttpSimulator]) -> None:
    sim = serve()
    sock = _raw(sim, b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nHEAD /b HTTP/1.1\r\nHost: x\r\n\r\n"
                     b"GET /missing HTTP/1.1\r\nHost: x\r\n\r\n")
    (head1, body1), (head2, body2), (head3, _) = _read_answers(sock, [True, False, True])
    sock.close()
    assert head1.startswith(b"HTTP/1.1 200 OK\r\n") and body1.startswith(b"handled ")
    assert head2.startswith(b"HTTP/1.1 200 OK\r\n") and b"Content-Length: " in head2 and body2 == b""
    assert head3.startswith(b"HTTP/1.1 404 Not Found\r\n")
    assert [r.path for r in sim.requests] == ["/a", "/b", "/missing"]  # answered in order


def test_pipelined_requests_are_answered_in_order_when_the_first_is_slow(
        serve: Callable[..., HttpSimulator]) -> None:
    sim = serve()
    sim.add_fault("delay", "GET /slow", seconds=0.3)
    sock = _raw(sim, b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /missing HTTP/1.1\r\nHost: x\r\n\r\n")
    (head1, _), (head2, _) = _read_answers(sock, [True, True])
    sock.close()
    assert head1.startswith(b"HTTP/1.1 200 OK\r\n") and head2.startswith(b"HTTP/1.1 404 Not Found\r\n")
    assert [r.path for r in sim.requests] == ["/slow", "/missing"]


def test_connection_close_and_http_1_0_end_the_connection_after_the_answer(
        serve: Callable[..., HttpSimulator]) -> None:
    sim = serve()
    closing = _read_until_closed(_raw(sim, b"GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
    old = _read_until_closed(_raw(sim, b"GET /b HTTP/1.0\r\n\r\n"))
    assert closing.startswith(b"HTTP/1.1 200 OK\r\n") and b"handled " in closing
    assert old.startswith(b"HTTP/1.1 200 OK\r\n") and b"handled " in old


def test_expect_100_continue_is_answered_before_the_body(serve: Callable[..., HttpSimulator]) -> None:
    sim = serve()
    sock = _raw(sim, b"POST /form HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                     b"Content-Length: 3\r\nExpect: 100-continue\r\n\r\n")
    first = b""
    deadline = time.monotonic() + DEADLINE
    while b"\r\n\r\n" not in first and time.monotonic() < deadline:
        first += sock.recv(65536)
    assert first.startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
    sock.sendall(b"a=1")
    rest = first[len(b"HTTP/1.1 100 Continue\r\n\r\n"):]
    while not rest.endswith(b"a=1") and time.monotonic() < deadline:
        rest += sock.recv(65536)
    sock.close()
    assert rest.startswith(b"HTTP/1.1 200 OK\r\n") and rest.endswith(b"\r\n\r\na=1")


@pytest.mark.parametrize("kind", ["status", "garble", "drop", "drop-after"])
def test_faults_answer_as_armed(serve: Callable[..., HttpSimulator], kind: str) -> None:
    sim = serve()
    sim.add_fault(kind, "GET /a", status=503)
    before = _device.handled  # type: ignore[attr-defined]
    if kind in ("drop", "drop-after"):
        with pytest.raises(requests.ConnectionError):
            requests.get(sim.url + "/a", timeout=DEADLINE)
    else:
        answer = requests.get(sim.url + "/a", timeout=DEADLINE)
        assert answer.status_code == (503 if kind == "status" else 200)
        assert (answer.content == GARBAGE) == (kind == "garble")
    handled = _device.handled - before  # type: ignore[attr-defined]
    assert handled == (1 if kind in ("garble", "drop-after") else 0)
    assert [r.status for r in sim.requests] == [{"status": 503, "garble": 200}.get(kind, 0)]
    assert requests.get(sim.url + "/a", timeout=DEADLINE).status_code == 200  # one-shot: the next is served


def test_latency_and_a_delay_fault_hold_the_answer_and_its_record(serve: Callable[..., HttpSimulator]) -> None:
    sim = serve(latency=0.1)
    sim.add_fault("delay", "GET /slow", seconds=0.3)
    with requests.Session() as session:
        start = time.monotonic()
        session.get(sim.url + "/fast", timeout=DEADLINE)
        fast = time.monotonic() - start
        start = time.monotonic()
        session.get(sim.url + "/slow", timeout=DEADLINE)
        slow = time.monotonic() - start
        recorded = sim.requests[-1].at - start
    assert fast >= 0.1 and slow >= 0.4  # lower bounds only: a loaded machine is slower, never faster
    assert recorded >= 0.4  # recorded when answered, after the wait


def test_a_request_the_parser_refuses_ends_the_connection_with_400(serve: Callable[..., HttpSimulator]) -> None:
    sim = serve()
    answer = _read_until_closed(_raw(sim, b"GE T / HTTP/1.1\r\nHost: x\r\n\r\n"))
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert sim.requests == []


def test_tls_serves_the_pinned_certificate(serve: Callable[..., HttpSimulator], tmp_path: Any) -> None:
    sim = serve(tls=True)
    assert sim.cert_pem is not None and sim.fingerprint is not None
    bundle = tmp_path / "cert.pem"
    bundle.write_bytes(sim.cert_pem)
    assert requests.get(sim.url + "/a", verify=str(bundle), timeout=DEADLINE).text.startswith("handled ")


def test_stop_frees_the_port(serve: Callable[..., HttpSimulator]) -> None:
    sim = serve()
    port = sim.port
    assert requests.get(sim.url + "/a", timeout=DEADLINE).status_code == 200
    sim.stop()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=DEADLINE).close()


WEB_ROUTERS = [("netgear", {"model": "R7000"}), ("netgear", {"model": "R7800"}), ("asuswrt", {}), ("tplink", {}),
               ("linksys", {}), ("opnsense", {}), ("fortigate", {}), ("sonicwall", {}), ("upnp", {})]
"""The fleet benchmark's web routers first, then every other web driver with a mitigation (a UPnP gateway gets a
verdict: what it cannot do)."""


def _http_servers(handle: Any) -> list[HttpSimulator]:
    return [obj for obj in (handle, getattr(handle, "server", None), getattr(handle, "http", None))
            if isinstance(obj, HttpSimulator)]


def _mitigate(driver: str, knobs: dict[str, Any], loop: asyncio.AbstractEventLoop | None
              ) -> tuple[str, list[tuple[str, str, int, tuple[str, ...]]]]:
    with simulate(driver, **knobs) as device:
        [sim] = _http_servers(device.handle)
        if loop is not None:
            sim.serve_on(loop)
        options = {**device.connect_options(), "timeouts": Timeouts(connect=5, read=5, apply=5)}
        with routerfix.connect(device.driver, device.host, **options) as router:
            result = routerfix.apply_ghostcall_mitigation(router)
        seen = [(r.method, r.path, r.status, tuple(sorted(r.form))) for r in sim.requests]
    return f"{result.status} {result.plan.sink if result.plan else None}", seen


@pytest.mark.parametrize(("driver", "knobs"), WEB_ROUTERS, ids=[d + str(k.get("model", "")) for d, k in WEB_ROUTERS])
def test_every_web_router_is_mitigated_with_the_same_requests_on_either_front(
        driver: str, knobs: dict[str, Any], loop: asyncio.AbstractEventLoop) -> None:
    on_threads = _mitigate(driver, knobs, None)
    on_the_loop = _mitigate(driver, knobs, loop)
    assert on_threads[0].startswith("verdict " if driver == "upnp" else "mitigated ")
    assert on_the_loop == on_threads
