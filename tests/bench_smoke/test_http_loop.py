"""The web simulators' event-loop front end (``HttpSimulator.serve_on``, what the benchmarks' simulator processes
use) answers as the threaded one: every check runs on both (the loop on asyncio's loop and on uvloop, the handler
checked to run on the loop's thread), their raw answers are compared byte for byte, and every web driver's
mitigation sends the same requests and meets the same answers on either."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import struct
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

DEADLINE = 10.0


class Loop:
    """An event loop running in a thread of its own, as the benchmarks' simulator host runs one."""

    def __init__(self, factory: Callable[[], asyncio.AbstractEventLoop]) -> None:
        self.loop = factory()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + DEADLINE
        while not self.loop.is_running():
            assert time.monotonic() < deadline, "the loop did not start"
            time.sleep(0.001)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(DEADLINE)
        self.loop.close()


def _loop_factories() -> list[Any]:
    factories: list[Any] = [pytest.param(asyncio.new_event_loop, id="asyncio")]
    with contextlib.suppress(ImportError):
        import uvloop

        factories.append(pytest.param(uvloop.new_event_loop, id="uvloop"))
    return factories


@pytest.fixture(scope="module", params=_loop_factories())
def loop(request: pytest.FixtureRequest) -> Iterator[Loop]:
    running = Loop(request.param)
    yield running
    running.close()


def _device(req: SimRequest) -> SimResponse:
    """A tiny device: ``/form`` echoes the form, ``/cookie`` sets one, ``/closing`` ends the connection,
    ``/latin`` sends a header Latin-1 cannot carry; anything else says what it was asked."""
    if req.path == "/form":
        return SimResponse(200, "&".join(f"{k}={v}" for k, v in req.form_list), content_type="text/plain")
    if req.path == "/cookie":
        return SimResponse(200, "ok").set_cookie("sid", "abc", http_only=True)
    if req.path == "/missing":
        return SimResponse(404, "not found")
    if req.path == "/closing":
        return SimResponse(200, "bye").header("Connection", "close")
    if req.path == "/latin":
        return SimResponse(200, "x").header("X-Name", "\u0416")
    return SimResponse(200, f"{req.method} {req.path} {req.query}", content_type="text/plain")


@pytest.fixture(params=["threads", "loop"])
def front(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def serve(front: str, loop: Loop) -> Iterator[Callable[..., HttpSimulator]]:
    """Start an :class:`HttpSimulator` served by threads or on the loop."""
    started: list[HttpSimulator] = []

    def start(handler: Callable[[SimRequest], SimResponse] = _device, **kw: Any) -> HttpSimulator:
        def checked(req: SimRequest) -> SimResponse:
            on_loop = threading.get_ident() == loop.thread.ident
            assert on_loop == (front == "loop"), f"served on the wrong thread ({front})"  # a 500 page if not
            return handler(req)

        sim = HttpSimulator(checked, server_header="test-device", **kw).start()
        started.append(sim)
        if front == "loop":
            sim.serve_on(loop.loop)
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
    Content-Length; fewer if the server closes first or the deadline passes."""
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
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return answers


def _wait_for(predicate: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + DEADLINE
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


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
    with _raw(sim, b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nHEAD /b HTTP/1.1\r\nHost: x\r\n\r\n"
                   b"GET /missing HTTP/1.1\r\nHost: x\r\n\r\n") as sock:
        (head1, body1), (head2, body2), (head3, _) = _read_answers(sock, [True, False, True])
    assert head1.startswith(b"HTTP/1.1 200 OK\r\n") and body1 == b"GET /a "
    assert head2.startswith(b"HTTP/1.1 200 OK\r\n") and head2.endswith(b"Content-Length: 8") and body2 == b""
    assert head3.startswith(b"HTTP/1.1 404 Not Found\r\n")
    assert [r.path for r in sim.requests] == ["/a", "/b", "/missing"]  # answered in order


def test_pipelined_requests_are_answered_in_order_when_the_first_is_slow(
        serve: Callable[..., HttpSimulator]) -> None:
    sim = serve()
    sim.add_fault("delay", "GET /slow", seconds=0.2)
    behind = 300  # more than the interpreter's stack would take if each answer called the next
    pipeline = b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n" + b"GET /missing HTTP/1.1\r\nHost: x\r\n\r\n" * behind
    with _raw(sim, pipeline) as sock:
        answers = _read_answers(sock, [True] * (1 + behind))
    assert len(answers) == 1 + behind
    assert answers[0][0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert all(head.startswith(b"HTTP/1.1 404 Not Found\r\n") for head, _ in answers[1:])
    assert [r.path for r in sim.requests] == ["/slow"] + ["/missing"] * behind


def test_connection_close_and_http_1_0_end_the_connection_after_the_answer(
        serve: Callable[..., HttpSimulator]) -> None:
    sim = serve()
    closing = _read_until_closed(_raw(sim, b"GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
    old = _read_until_closed(_raw(sim, b"GET /b HTTP/1.0\r\n\r\n"))
    by_device = _read_until_closed(_raw(sim, b"GET /closing HTTP/1.1\r\nHost: x\r\n\r\n"))
    assert closing.startswith(b"HTTP/1.1 200 OK\r\n") and closing.endswith(b"\r\n\r\nGET /a ")
    assert old.startswith(b"HTTP/1.1 200 OK\r\n") and old.endswith(b"\r\n\r\nGET /b ")
    assert by_device.startswith(b"HTTP/1.1 200 OK\r\n") and by_device.endswith(b"\r\n\r\nbye")


def test_a_client_that_half_closes_still_gets_its_answer(serve: Callable[..., HttpSimulator]) -> None:
    sim = serve(latency=0.2)
    sock = _raw(sim, b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
    sock.shutdown(socket.SHUT_WR)
    answer = _read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and answer.endswith(b"\r\n\r\nGET /a ")


def test_a_request_whose_client_is_gone_is_still_handled_and_recorded(serve: Callable[..., HttpSimulator]) -> None:
    sim = serve(latency=0.3)
    sim.add_fault("status", "GET /apply", status=503)
    with _raw(sim, b"GET /apply HTTP/1.1\r\nHost: x\r\n\r\n") as sock:  # reset before the answer is due
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    assert _wait_for(lambda: len(sim.requests) == 1)
    assert sim.requests[0].status == 503 and [f.times for f in sim.faults] == [0]  # used up; the client never hears


def test_expect_100_continue_is_answered_before_the_body(serve: Callable[..., HttpSimulator]) -> None:
    sim = serve()
    with _raw(sim, b"POST /form HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                   b"Content-Length: 3\r\nExpect: 100-continue\r\n\r\n") as sock:
        first = b""
        deadline = time.monotonic() + DEADLINE
        while b"\r\n\r\n" not in first and time.monotonic() < deadline:
            first += sock.recv(65536)
        assert first == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"a=1")
        [(head, body)] = _read_answers(sock, [True])
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and body == b"a=1"


@pytest.mark.parametrize("kind", ["status", "garble", "drop", "drop-after"])
def test_faults_answer_as_armed(serve: Callable[..., HttpSimulator], kind: str) -> None:
    handled: list[str] = []

    def counting(req: SimRequest) -> SimResponse:
        handled.append(req.path)
        return _device(req)

    sim = serve(counting)
    sim.add_fault(kind, "GET /a", status=503)
    if kind in ("drop", "drop-after"):
        with pytest.raises(requests.ConnectionError):
            requests.get(sim.url + "/a", timeout=DEADLINE)
    else:
        answer = requests.get(sim.url + "/a", timeout=DEADLINE)
        assert answer.status_code == (503 if kind == "status" else 200)
        assert (answer.content == GARBAGE) == (kind == "garble")
    assert handled == (["/a"] if kind in ("garble", "drop-after") else [])
    assert [r.status for r in sim.requests] == [{"status": 503, "garble": 200}.get(kind, 0)]
    assert requests.get(sim.url + "/a", timeout=DEADLINE).text == "GET /a "  # one-shot: the next is served


def test_latency_and_a_delay_fault_hold_the_answer_and_its_record(serve: Callable[..., HttpSimulator]) -> None:
    sim = serve(latency=0.1)
    sim.add_fault("delay", "GET /slow", seconds=0.3)
    with requests.Session() as session:
        start = time.monotonic()
        session.get(sim.url + "/fast", timeout=DEADLINE)
        fast = time.monotonic() - start
        start = time.monotonic()
        page = session.get(sim.url + "/slow", timeout=DEADLINE)
        slow = time.monotonic() - start
        recorded = sim.requests[-1].at - start
    assert fast >= 0.1 and slow >= 0.4  # lower bounds only: a loaded machine is slower, never faster
    assert recorded >= 0.4  # recorded when answered, after the wait
    stamped = time.mktime(time.strptime(page.headers["Date"], "%a, %d %b %Y %H:%M:%S GMT")) - time.timezone
    assert stamped >= time.time() - slow + 0.3 - 1  # Date is stamped when sent (one-second resolution)


def test_what_cannot_be_answered_as_built_is_a_500_page(serve: Callable[..., HttpSimulator]) -> None:
    sim = serve()
    answer = requests.get(sim.url + "/latin", timeout=DEADLINE)
    assert answer.status_code == 500 and "500 Internal Server Error" in answer.text
    assert [r.status for r in sim.requests] == [500]


def test_a_method_no_simulator_serves_is_501(serve: Callable[..., HttpSimulator]) -> None:
    sim = serve()
    answer = _read_until_closed(_raw(sim, b"PATCH /a HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"))
    assert answer.startswith(b"HTTP/1.1 501 ") and sim.requests == []


def test_an_upgrade_request_is_answered_as_a_plain_request(serve: Callable[..., HttpSimulator]) -> None:
    sim = serve()
    with _raw(sim, b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n") as sock:
        [(head, body)] = _read_answers(sock, [True])
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and body == b"GET /ws "


def test_a_request_the_parser_refuses_ends_the_connection_with_400(serve: Callable[..., HttpSimulator]) -> None:
    sim = serve()
    answer = _read_until_closed(_raw(sim, b"GE T / HTTP/1.1\r\nHost: x\r\n\r\n"))
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert sim.requests == []


def test_where_the_loop_differs_from_http_server(serve: Callable[..., HttpSimulator], front: str) -> None:
    """The documented differences (``simulators/_hosts/http_loop.py``), none of which a driver meets."""
    sim = serve()
    bad_length = _read_until_closed(_raw(sim, b"GET /a HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"
                                              b"Connection: close\r\n\r\n"))
    chunked = _read_until_closed(_raw(sim, b"POST /form HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                                           b"Content-Type: application/x-www-form-urlencoded\r\nConnection: close"
                                           b"\r\n\r\n3\r\na=1\r\n0\r\n\r\n"))
    if front == "loop":
        assert bad_length.startswith(b"HTTP/1.1 400 ")
        assert chunked.startswith(b"HTTP/1.1 200 OK\r\n") and chunked.endswith(b"\r\n\r\na=1")
    else:
        assert bad_length.startswith(b"HTTP/1.1 200 OK\r\n")  # the length read as 0
        assert chunked.startswith(b"HTTP/1.1 200 OK\r\n") and chunked.endswith(b"\r\n\r\n")  # body unread


def test_tls_serves_the_pinned_certificate(serve: Callable[..., HttpSimulator], tmp_path: Any) -> None:
    sim = serve(tls=True)
    assert sim.cert_pem is not None and sim.fingerprint is not None
    bundle = tmp_path / "cert.pem"
    bundle.write_bytes(sim.cert_pem)
    with requests.Session() as session:
        sim.add_fault("status", "GET /b", status=502)
        assert session.get(sim.url + "/a", verify=str(bundle), timeout=DEADLINE).text == "GET /a "
        assert session.get(sim.url + "/b", verify=str(bundle), timeout=DEADLINE).status_code == 502


def test_stop_frees_the_port(serve: Callable[..., HttpSimulator], front: str) -> None:
    sim = serve()
    port = sim.port
    assert requests.get(sim.url + "/a", timeout=DEADLINE).status_code == 200
    loop_server = sim._loop_server
    sim.stop()
    assert (loop_server is not None) == (front == "loop")
    if loop_server is not None:
        assert not loop_server.server.is_serving()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=DEADLINE).close()


def test_serve_on_refuses_a_second_loop_and_a_loop_that_is_not_running(loop: Loop) -> None:
    with HttpSimulator(_device) as sim:
        idle = asyncio.new_event_loop()
        try:
            with pytest.raises(RuntimeError, match="running in another thread"):
                sim.serve_on(idle)
        finally:
            idle.close()
        assert requests.get(sim.url + "/a", timeout=DEADLINE).text == "GET /a "  # still served by threads
        sim.serve_on(loop.loop)
        with pytest.raises(RuntimeError, match="already served"):
            sim.serve_on(loop.loop)
        assert requests.get(sim.url + "/a", timeout=DEADLINE).text == "GET /a "


RAW_REQUESTS = [
    b"GET /a?x=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    b"HEAD /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    b"GET //double//slash HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    b"POST /form HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 7\r\n"
    b"Connection: close\r\n\r\na=1&b=2",
    b"GET /cookie HTTP/1.0\r\n\r\n",
    b"GET /missing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    b"GET /closing HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /latin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
]


def test_both_fronts_answer_byte_for_byte_alike(loop: Loop) -> None:
    with HttpSimulator(_device, server_header="dev") as threaded, \
            HttpSimulator(_device, server_header="dev") as on_loop:
        on_loop.serve_on(loop.loop)
        for raw in RAW_REQUESTS:
            one, other = (re.sub(rb"Date: [^\r]*", b"Date: -", _read_until_closed(_raw(sim, raw)))
                          for sim in (threaded, on_loop))
            assert one == other, raw
            assert one.startswith(b"HTTP/1.1 "), raw


WEB_ROUTERS = [("netgear", {"model": "R7000"}), ("netgear", {"model": "R7800"}), ("asuswrt", {}), ("tplink", {}),
               ("linksys", {}), ("opnsense", {}), ("fortigate", {}), ("sonicwall", {}), ("upnp", {})]
"""The fleet benchmark's web routers first, then every other web driver with a mitigation (a UPnP gateway gets a
verdict: what it cannot do)."""


def _http_servers(handle: Any) -> list[HttpSimulator]:
    return [obj for obj in (handle, getattr(handle, "server", None), getattr(handle, "http", None))
            if isinstance(obj, HttpSimulator)]


def _mitigate(driver: str, knobs: dict[str, Any], loop: Loop | None
              ) -> tuple[str, list[tuple[str, str, int, tuple[str, ...]]]]:
    threads: set[int | None] = set()
    with simulate(driver, **knobs) as device:
        [sim] = _http_servers(device.handle)
        handler = sim.handler

        def seen_on(req: SimRequest) -> SimResponse:
            threads.add(threading.get_ident())
            return handler(req)

        sim.handler = seen_on
        if loop is not None:
            sim.serve_on(loop.loop)
        options = {**device.connect_options(), "timeouts": Timeouts(connect=5, read=5, apply=5)}
        with routerfix.connect(device.driver, device.host, **options) as router:
            result = routerfix.apply_ghostcall_mitigation(router)
        seen = [(r.method, r.path, r.status, tuple(sorted(r.form))) for r in sim.requests]
    if loop is not None:
        assert threads == {loop.thread.ident}, "not served on the loop"
    else:
        assert threads and threading.main_thread().ident not in threads  # a connection's own thread
    return f"{result.status} {result.plan.sink if result.plan else None}", seen


@pytest.mark.parametrize(("driver", "knobs"), WEB_ROUTERS, ids=[d + str(k.get("model", "")) for d, k in WEB_ROUTERS])
def test_every_web_router_is_mitigated_with_the_same_requests_on_either_front(
        driver: str, knobs: dict[str, Any], loop: Loop) -> None:
    on_threads = _mitigate(driver, knobs, None)
    on_the_loop = _mitigate(driver, knobs, loop)
    assert on_threads[0].startswith("verdict " if driver == "upnp" else "mitigated ")
    assert on_the_loop == on_threads
