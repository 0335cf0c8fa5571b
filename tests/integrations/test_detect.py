"""``routerfix detect`` against every simulator: each is named by its own driver (or, where the SSH banner is shared,
listed among the candidates), never as another driver; unknown servers give "unknown" with what was seen."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from routerfix.cli import main
from routerfix.detect import (
    Confidence,
    DetectStatus,
    HttpReply,
    Match,
    Observation,
    Probe,
    detect,
    fingerprints,
    match,
)
from routerfix.simulate import simulate, simulators

OPENSSH = {"linux", "vyos", "edgeos"}
"""Simulators whose SSH banner (OpenSSH) several drivers share: ambiguous by design."""


FINGERPRINTED = {fp.driver for fp in fingerprints() if fp.ssh or fp.http}
"""Drivers whose fingerprint can match (Meraki's is declared "cloud-managed: not detectable locally")."""


@pytest.mark.parametrize("name", [n for n in simulators() if n != "memory"])
def test_every_simulator_is_named_by_its_own_driver(name: str) -> None:
    with simulate(name) as device:
        assert device.port is not None
        result = detect(device.host, [device.port], timeout=2, deadline=10)
        recorded = getattr(getattr(device.handle, "server", None), "recorded", None)
    drivers = [m.driver for m in result.matches]
    if name not in FINGERPRINTED:   # a driver without a fingerprint yet: never taken for another driver
        assert result.status is not DetectStatus.IDENTIFIED, result
        assert all(m.confidence is Confidence.LOW for m in result.matches), result
        return
    assert name in drivers, result
    if name in OPENSSH:
        assert result.status is DetectStatus.AMBIGUOUS and set(drivers) == OPENSSH
        assert all(m.confidence is Confidence.LOW for m in result.matches)
    else:
        assert result.status is DetectStatus.IDENTIFIED and drivers == [name], result
    assert result.elapsed < 10
    if callable(recorded):   # web simulators: nothing was sent with credentials
        assert not any("authorization" in str(r).lower() for r in recorded())


def test_model_and_firmware_where_the_device_tells(capsys: pytest.CaptureFixture[str]) -> None:
    with simulate("netgear") as device:
        code = main(["detect", device.host, "--port", str(device.port), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["driver"] == "netgear" and out["status"] == "identified"
    assert out["candidates"][0]["model"] == "R7000" and out["candidates"][0]["firmware"]
    assert "currentsetting.htm" in out["candidates"][0]["evidence"][0]


def test_ambiguous_lists_candidates_and_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    with simulate("vyos") as device:
        code = main(["detect", device.host, "--port", str(device.port)])
    out = capsys.readouterr().out
    assert code == 1 and "ambiguous" in out and "choose one with --driver" in out
    assert all(d in out for d in OPENSSH)


@pytest.fixture
def plain_http() -> Iterator[int]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "SomeCamera/1.0"

        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"<html><head><title>IP camera</title></head></html>")

        do_POST = do_GET

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_unknown_http_server_is_unknown_with_what_was_seen(plain_http: int) -> None:
    result = detect("127.0.0.1", [plain_http], timeout=2, deadline=10)
    assert result.status is DetectStatus.UNKNOWN and result.driver is None and not result.matches
    assert any("SomeCamera/1.0" in s and "IP camera" in s for s in result.seen), result.seen


def _serve_once(payload: bytes | None) -> tuple[socket.socket, int]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)

    def run() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            if payload is not None:
                conn.sendall(payload)
            threading.Timer(30, conn.close).start()

    threading.Thread(target=run, daemon=True).start()
    return listener, listener.getsockname()[1]


def test_unknown_ssh_server_is_unknown() -> None:
    listener, port = _serve_once(b"SSH-2.0-SomethingElse_1.0\r\n")
    try:
        result = detect("127.0.0.1", [port], timeout=2, deadline=5)
    finally:
        listener.close()
    assert result.status is DetectStatus.UNKNOWN and "SomethingElse" in result.seen[0]


def test_a_silent_server_is_bounded_by_the_deadline() -> None:
    listener, port = _serve_once(None)   # accepts, never answers (neither SSH nor HTTP)
    try:
        started = time.monotonic()
        result = detect("127.0.0.1", [port], timeout=1, deadline=3)
        took = time.monotonic() - started
    finally:
        listener.close()
    assert took < 5, took
    assert result.status in (DetectStatus.UNKNOWN, DetectStatus.UNREACHABLE)


@pytest.mark.parametrize(("banner", "drivers"), [
    ("SSH-2.0-ROSSSH", ["mikrotik"]), ("SSH-1.99-Cisco-1.25", ["cisco_ios"]), ("SSH-2.0-dropbear_2022.83", ["openwrt"]),
    ("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3", sorted(OPENSSH)), ("SSH-2.0-OpenSSH_9.3 FreeBSD-20230719", []),
    ("SSH-2.0-AsyncSSH_2.14.0", [])])
def test_ssh_banners(banner: str, drivers: list[str]) -> None:
    found: list[Match] = match(Observation("192.0.2.1", 22, ssh_banner=banner), fingerprints())
    assert [m.driver for m in found if m.confidence == found[0].confidence] == drivers


@pytest.mark.parametrize(("server", "drivers"), [
    ("xxxxxxxx-xxxxx", ["fortigate"]), ("OPNsense", ["opnsense"]), ("lighttpd", []), ("nginx", []),
    ("xxxxxxxx-xxxxx-proxy", []), ("not-OPNsense", [])])
def test_server_header_fingerprints(server: str, drivers: list[str]) -> None:
    """FortiGate and OPNsense by their web servers' own names only (docs/facts/fingerprints.md H11, H13)."""
    reply = HttpReply(Probe(), 401, {"server": server}, "<html><body>Login</body></html>")
    found = match(Observation("192.0.2.1", 443, scheme="https", replies=(reply,)), fingerprints())
    assert [m.driver for m in found] == drivers


def test_meraki_is_declared_not_detectable_locally() -> None:
    meraki = next(fp for fp in fingerprints() if fp.driver == "meraki")
    assert not meraki.ssh and meraki.http is None   # cloud-managed: never guessed (H14)
