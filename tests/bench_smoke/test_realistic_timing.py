"""The benchmark's realistic network and device timing: the delaying proxy puts a round trip on every packet and
keeps byte order; the device work table (docs/facts/timing.md) charges silence, not answers; the SSH host spends
the work time before answering. Lower bounds only (a loaded machine can only make things slower)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from routerfix.simulators._hosts.delay import DelayHost
from routerfix.simulators._hosts.ssh import SSHSimulatorHost
from routerfix.simulators._hosts.timing import DEVICE_TIMING, device_seconds

from routerfix.simulate import simulate

RTT = 0.2


def _echo_server(greeting: bytes) -> tuple[socket.socket, threading.Thread]:
    """A server that speaks first (like SSH), then echoes until the client closes."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            conn.sendall(greeting)
            while data := conn.recv(65536):
                conn.sendall(data)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return server, thread


def _recv_exactly(sock: socket.socket, size: int, deadline: float) -> bytes:
    data = b""
    while len(data) < size and time.monotonic() < deadline:
        data += sock.recv(size - len(data))
    return data


@contextlib.contextmanager
def _own_loop() -> Iterator[DelayHost]:
    with DelayHost() as delays:
        yield delays


@contextlib.contextmanager
def _shared_loop() -> Iterator[DelayHost]:
    """The benchmark's simulator host: the proxies on the SSH devices' loop."""
    with SSHSimulatorHost() as ssh_host, DelayHost(ssh_host.loop) as delays:
        yield delays
        delays.stop()
        assert ssh_host.running  # stopping the proxies leaves the borrowed loop serving


@contextlib.contextmanager
def _shared_uvloop() -> Iterator[DelayHost]:
    """The benchmark's simulator host where uvloop is installed (``_support.fast_loop_factory``)."""
    uvloop = pytest.importorskip("uvloop")
    with SSHSimulatorHost(loop_factory=uvloop.new_event_loop) as ssh_host, DelayHost(ssh_host.loop) as delays:
        assert type(ssh_host.loop).__module__.startswith("uvloop")
        yield delays


def test_a_proxy_on_a_borrowed_loop_refuses_calls_from_that_loop_instead_of_waiting_for_itself() -> None:
    with SSHSimulatorHost() as ssh_host, DelayHost(ssh_host.loop) as delays:
        async def add_from_the_loop() -> int:
            return delays.add(9, rtt=RTT)

        with pytest.raises(RuntimeError, match="another thread"):
            asyncio.run_coroutine_threadsafe(add_from_the_loop(), ssh_host.loop).result(5)


@pytest.mark.parametrize("host", [_own_loop, _shared_loop, _shared_uvloop],
                         ids=["own loop", "SSH host's loop", "SSH host's uvloop"])
def test_proxy_delays_connect_and_every_round_trip_and_keeps_order(host: Any) -> None:
    server, thread = _echo_server(b"HELLO\n")
    with server, host() as delays:
        port = delays.add(server.getsockname()[1], rtt=RTT)
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
            assert _recv_exactly(client, 6, time.monotonic() + 10) == b"HELLO\n"
            banner_after = time.monotonic() - started
            chunks = [f"chunk-{i:03d};".encode() for i in range(200)]
            sent = time.monotonic()
            for chunk in chunks:  # many small writes: the proxy must neither reorder nor merge-drop them
                client.sendall(chunk)
            echoed = _recv_exactly(client, sum(map(len, chunks)), time.monotonic() + 10)
            echo_after = time.monotonic() - sent
    thread.join(5)
    assert banner_after >= RTT * 0.95  # the server's first words arrive one round trip after connect
    assert echo_after >= RTT * 0.95  # and every answer pays the round trip
    assert echoed == b"".join(chunks)


WORK_CASES = [
    ("linux", "arping -D -c 2 -w 2 -I br-lan 192.168.1.9 2>&1; echo rfx $?", "Received 0 response(s)\n", 2.0),
    ("linux", "arping -D -c 2 -w 2 -I br-lan 192.168.1.9 2>&1; echo rfx $?", "Received 1 response(s)\n", 0.0),
    ("openwrt", "ping -c 1 -W 1 192.168.1.9", "1 packets transmitted, 0 packets received, 100% packet loss", 1.0),
    ("openwrt", "ping -c 1 -W 1 192.168.1.9", "1 packets transmitted, 1 packets received, 0% packet loss", 0.0),
    ("openwrt", "uci commit firewall && /etc/init.d/firewall reload && echo OK", "OK\n", 0.6),
    # the detached revert job's reload (single-quoted script, runs minutes later) costs nothing now
    ("openwrt", "start-stop-daemon -S -b -m -p /tmp/k/revert.pid -x /bin/sh -- -c 'sleep 600 && "
     "/etc/init.d/firewall reload' && uci commit firewall && /etc/init.d/firewall reload && echo OK", "OK\n", 0.6),
    ("cisco_ios", "ping 192.168.1.9 repeat 2 timeout 1", "..\nSuccess rate is 0 percent (0/2)", 2.0),
    ("cisco_ios", "ping 192.168.1.9 repeat 2 timeout 1", ".!\nSuccess rate is 50 percent (1/2)", 1.0),
    ("cisco_ios", "write memory", "Building configuration...\n[OK]", 1.0),
    ("cisco_ios", "show running-config", "", 0.0),
    ("vyos", "commit", "", 0.58),
    ("edgeos", "save", "Saving configuration to '/config/config.boot'...\nDone", 0.3),
    ("mikrotik", "/ip firewall nat add chain=dstnat", "", 0.0),
    ("cisco_ios", "wr", "[OK]", 1.0),
    ("cisco_ios", "copy running-config startup-config", "[OK]", 1.0),
    ("openwrt", "fw4 restart", "", 0.5),
    ("openwrt", "fw3 reload", "", 0.5),
    ("openwrt", "reload_config", "", 0.5),
    ("openwrt", "/etc/init.d/firewall restart; echo RFX1 $?", "", 0.5),
    ("linux", "command -v arping busybox systemd-run || true; ip -4 neigh show", "", 0.0),
]


@pytest.mark.parametrize(("driver", "line", "output", "seconds"), WORK_CASES)
def test_device_work_charges_silence_and_saves(driver: str, line: str, output: str, seconds: float) -> None:
    assert device_seconds(DEVICE_TIMING[driver], line, output) == pytest.approx(seconds)


def test_a_line_is_searched_for_every_rule_that_can_match_it() -> None:
    """A rule's hints (text a line must hold to be searched at all) cover every line its pattern matches."""
    for driver, line, _output, _seconds in WORK_CASES:
        for rule in DEVICE_TIMING[driver]:
            if rule.line.search(line):
                assert any(hint in line for hint in rule.hints), (driver, rule.fact, line)


def test_ssh_host_spends_work_time_before_answering_and_queues_typed_ahead_lines() -> None:
    paramiko = pytest.importorskip("paramiko")
    with simulate("cisco_ios") as dev:
        device = dev.handle.device
        device.knobs.work = lambda line, _out: 0.3 if line.startswith("show version") else 0.0
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        client.connect(dev.host, port=dev.port, username=dev.username, password=dev.password,
                       look_for_keys=False, allow_agent=False, timeout=10)
        try:
            channel = client.invoke_shell()
            text = b""
            deadline = time.monotonic() + 10
            while b"#" not in text and time.monotonic() < deadline:
                text += channel.recv(65536)
            started = time.monotonic()
            channel.send(b"show version\nshow version\nterminal length 0\n")  # typed ahead: they queue
            text = b""
            while text.count(b"terminal length 0") < 1 and time.monotonic() < deadline:
                text += channel.recv(65536)
            elapsed = time.monotonic() - started
        finally:
            client.close()
    assert elapsed >= 0.6 * 0.95  # two queued 0.3 s lines before the third answers
