"""`routerfix probe` against a tiny SIP responder on 127.0.0.1 (real UDP and TCP sockets, no root needed)."""

from __future__ import annotations

import argparse
import functools
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routerfix.cli import probe as cli_probe
from routerfix.errors import InvalidValue
from routerfix.probe import ProbeResult, build_options, parse_address, parse_response, probe

LOCAL = "127.0.0.1"


@dataclass
class Responder:
    """Answers SIP OPTIONS on UDP and TCP like a desk phone; knobs make it misbehave."""

    user_agent: str | None = "Yealink SIP-T46S 66.86.0.15"
    server_header: bool = False
    answer: bool = True
    wrong_call_id: bool = False
    requests: list[tuple[str, str]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def record(self, request: bytes) -> None:
        text = request.decode(errors="replace")
        self.requests.append((text.split("\r\n", 1)[0], text))

    def reply(self, request: bytes) -> bytes:
        text = request.decode()
        headers = {}
        for line in text.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        call_id = "someone-else@x" if self.wrong_call_id else headers["call-id"]
        lines = ["SIP/2.0 200 OK", f"Via: {headers['via']}", f"From: {headers['from']}",
                 f"To: {headers['to']};tag=abc", f"Call-ID: {call_id}", f"CSeq: {headers['cseq']}"]
        if self.user_agent:
            lines.append(f"{'Server' if self.server_header else 'User-Agent'}: {self.user_agent}")
        lines.append("Content-Length: 0")
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    def serve_udp(self, sock: socket.socket) -> None:
        sock.settimeout(0.05)
        while not self.stop.is_set():
            try:
                data, peer = sock.recvfrom(8192)
            except TimeoutError:
                continue
            self.record(data)
            if self.answer:
                sock.sendto(self.reply(data), peer)

    def serve_tcp(self, listener: socket.socket) -> None:
        listener.settimeout(0.05)
        held = []
        while not self.stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            conn.settimeout(2)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(8192)
                if not chunk:
                    break
                data += chunk
            self.record(data)
            if self.answer:
                conn.sendall(self.reply(data))
                conn.close()
            else:
                held.append(conn)
        for conn in held:
            conn.close()


@dataclass
class Site:
    responder: Responder
    udp_port: int
    tcp_port: int


@pytest.fixture
def site() -> Iterator[Site]:
    """A responder on one UDP and one TCP port of 127.0.0.1 (the same port number for both)."""
    responder = Responder()
    for _ in range(20):
        tcp = socket.socket()
        tcp.bind((LOCAL, 0))
        port = tcp.getsockname()[1]
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            udp.bind((LOCAL, port))
            break
        except OSError:
            tcp.close()
            udp.close()
    else:  # pragma: no cover
        pytest.fail("no free port pair on 127.0.0.1")
    tcp.listen(8)
    threads = [threading.Thread(target=responder.serve_udp, args=(udp,), daemon=True),
               threading.Thread(target=responder.serve_tcp, args=(tcp,), daemon=True)]
    for t in threads:
        t.start()
    try:
        yield Site(responder, port, port)
    finally:
        responder.stop.set()
        for t in threads:
            t.join(timeout=5)
        udp.close()
        tcp.close()


def free_port() -> int:
    """A port on 127.0.0.1 where nothing listens (TCP or UDP) right now."""
    with socket.socket() as s:
        s.bind((LOCAL, 0))
        return int(s.getsockname()[1])


def by_key(result: ProbeResult) -> dict[tuple[str, int], object]:
    return {(a.transport, a.port): a for a in result.answers}


def test_reports_answer_and_user_agent_on_udp_and_tcp(site: Site) -> None:
    result = probe(LOCAL, ports=(site.udp_port,), timeout=2)
    assert result.answered
    assert [(a.transport, a.state) for a in result.answers] == [("udp", "sip"), ("tcp", "sip")]
    for a in result.answers:
        assert a.status == "SIP/2.0 200 OK"
        assert a.user_agent == "Yealink SIP-T46S 66.86.0.15"
        assert a.seconds < 1.5
    data = json.loads(json.dumps(result.to_dict()))
    assert data["answered"] is True and data["address"] == LOCAL
    assert {a["transport"] for a in data["answers"]} == {"udp", "tcp"}
    # exactly one request per transport reached the responder: an OPTIONS to the named address
    assert sorted(line for line, _ in site.responder.requests) == [f"OPTIONS sip:{LOCAL}:{site.udp_port} SIP/2.0"] * 2
    assert any("Via: SIP/2.0/TCP" in text for _, text in site.responder.requests)
    assert any("Via: SIP/2.0/UDP" in text for _, text in site.responder.requests)


def test_server_header_counts_as_user_agent(site: Site) -> None:
    site.responder.server_header = True
    site.responder.user_agent = "Asterisk PBX 20.5.0"
    result = probe(LOCAL, ports=(site.udp_port,), transports=("udp",), timeout=2)
    assert result.answers[0].user_agent == "Asterisk PBX 20.5.0"


def test_nothing_listening_is_refused_quickly() -> None:
    port = free_port()
    start = time.monotonic()
    result = probe(LOCAL, ports=(port,), timeout=2)
    assert not result.answered
    assert {a.state for a in result.answers} == {"refused"}
    assert time.monotonic() - start < 1.5


def test_silent_udp_is_bounded_by_the_timeout(site: Site) -> None:
    site.responder.answer = False
    start = time.monotonic()
    result = probe(LOCAL, ports=(site.udp_port,), timeout=0.7)
    elapsed = time.monotonic() - start
    answers = by_key(result)
    assert answers[("udp", site.udp_port)].state == "silent"  # type: ignore[attr-defined]
    # TCP accepted the connection but said nothing: something is there, so it counts as answered
    assert answers[("tcp", site.tcp_port)].state == "open"  # type: ignore[attr-defined]
    assert result.answered
    assert 0.6 <= elapsed < 2.0
    # UDP was retransmitted while nothing answered (0 and 0.5 s within a 0.7 s timeout)
    assert sum(1 for line, text in site.responder.requests if "SIP/2.0/UDP" in text) == 2


def test_answer_for_another_call_is_ignored(site: Site) -> None:
    site.responder.wrong_call_id = True
    result = probe(LOCAL, ports=(site.udp_port,), transports=("udp",), timeout=0.6)
    assert result.answers[0].state == "silent"
    assert not result.answered


@pytest.mark.parametrize("bad", ["", " ", "example.com", "10.0.0.0/8", "192.0.2.1-192.0.2.9", "192.0.2.1,192.0.2.2",
                                 "0.0.0.0", "::", "224.0.0.1", "255.255.255.255", "192.0.2.1 192.0.2.2", None, 3])
def test_only_one_host_address_is_accepted(bad: object) -> None:
    with pytest.raises(InvalidValue):
        probe(bad)  # type: ignore[arg-type]


def test_address_forms() -> None:
    assert str(parse_address(" 203.0.113.2 ")) == "203.0.113.2"
    assert str(parse_address("[2001:db8::1]")) == "2001:db8::1"


@pytest.mark.parametrize("timeout", [0, -1, 31, True, "2"])
def test_timeout_is_bounded(timeout: object) -> None:
    with pytest.raises(InvalidValue):
        probe(LOCAL, timeout=timeout)  # type: ignore[arg-type]


def test_bad_ports_and_transports() -> None:
    with pytest.raises(InvalidValue):
        probe(LOCAL, ports=(0,))
    with pytest.raises(InvalidValue):
        probe(LOCAL, transports=("sctp",))


def test_request_is_a_well_formed_options() -> None:
    request = build_options(parse_address("2001:db8::1"), 5060, "udp", ("2001:db8::2", 40000), "abc@x").decode()
    assert request.startswith("OPTIONS sip:[2001:db8::1]:5060 SIP/2.0\r\n")
    assert "Via: SIP/2.0/UDP [2001:db8::2]:40000;branch=z9hG4bK" in request
    assert request.endswith("Content-Length: 0\r\n\r\n")


def test_parse_response() -> None:
    ok = b"SIP/2.0 200 OK\r\nCall-ID: a@b\r\nUser-Agent: Phone\x07 1\r\n\r\n"
    assert parse_response(ok, "a@b") == ("SIP/2.0 200 OK", "Phone? 1")
    assert parse_response(ok, "other@b") is None
    assert parse_response(b"HTTP/1.1 200 OK\r\n\r\n") is None
    assert parse_response(b"SIP/2.0 abc\r\n\r\n") is None


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600))
def test_parse_response_never_raises(data: bytes) -> None:
    parsed = parse_response(data, "x")
    assert parsed is None or parsed[0].startswith("SIP/2.0 ")


# --- the command ---------------------------------------------------------------------------------------


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
            ports: tuple[int, ...]) -> tuple[int, str]:
    monkeypatch.setattr(cli_probe, "probe", functools.partial(probe, ports=ports))
    parser = argparse.ArgumentParser(prog="routerfix")
    sub = parser.add_subparsers(dest="command", required=True)
    cli_probe.register(sub)
    args = parser.parse_args(argv)
    code = args.func(args)
    return code, capsys.readouterr().out


def test_cli_exit_1_when_something_answers(site: Site, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = run_cli(["probe", LOCAL, "--json", "--timeout", "2"], capsys, monkeypatch, (site.udp_port,))
    assert code == cli_probe.EXIT_ANSWERED == 1
    data = json.loads(out)
    assert data["answered"] and data["answers"][0]["user_agent"] == "Yealink SIP-T46S 66.86.0.15"


def test_cli_exit_0_when_nothing_answers(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = run_cli(["probe", LOCAL, "--timeout", "1"], capsys, monkeypatch, (free_port(),))
    assert code == cli_probe.EXIT_QUIET == 0
    assert "nothing answered" in out and "UDP" in out and "TCP" in out


def test_cli_exit_2_on_usage_errors(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = run_cli(["probe", "example.com", "--json"], capsys, monkeypatch, (5060,))
    assert code == cli_probe.EXIT_USAGE == 2
    assert json.loads(out)["error"]["error"] == "InvalidValue"
    code, _ = run_cli(["probe", LOCAL, "--timeout", "0"], capsys, monkeypatch, (5060,))
    assert code == 2
    assert cli_probe.main(["--timeout"]) == 2
