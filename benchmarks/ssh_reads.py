"""SSH command reads, client CPU per round trip: routerfix as installed (AES-GCM against an OpenSSH device, a
receive on the channel with the time left, the socket read ahead with the kernel's timeout), the same on a plain
socket (routerfix until 0.3.0: paramiko's two reads per packet, a ``poll()`` before each read and send), the two
again on AES-CTR with HMAC-SHA2-256 (paramiko's first choice: what a device without AES-GCM agrees on), and that
exchange read with ``select()`` on the channel over a plain socket (routerfix until 0.3.0; paramiko then also
signals every arriving packet through a pipe).

``--sessions`` Linux simulators per way (OpenSSH 9.2p1's ciphers, docs/facts/linux.md L54) in a simulator process of
their own (``_support.simulators``, no added latency), so this process's CPU is the client's alone. Each way has
sessions of its own (the cipher and the socket are set at login; a channel once passed to ``select()`` keeps its
pipe); all of a way's sessions run ``--commands`` commands at once on threads, as a fleet's workers do; the ways
alternate, median of ``--runs`` rounds, in µs per command.

    .venv/bin/python benchmarks/ssh_reads.py [--runs 5] [--sessions 8] [--commands 300] [--json]     # ≈ 50 s
"""

from __future__ import annotations

import argparse
import json
import select
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest.mock import patch

import routerfix
from routerfix.base.ssh import SSHDriver
from routerfix.transport import ssh as ssh_transport
from routerfix.transport import ssh_kex
from routerfix.transport._readahead import ReadAheadSocket
from routerfix.transport.ssh import SSHSession, clean_text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _support import cpu_seconds, median, simulators


def select_command(session: SSHSession, command: str, timeout: float = 10.0) -> str:
    """One command read the old way: ``select()`` on the channel, then a receive, until the prompt line."""
    channel = session.channel
    channel.sendall((command + session.enter).encode())
    raw = b""
    while True:
        ready, _, _ = select.select([channel], [], [], timeout)
        if not ready:
            raise TimeoutError(command)
        chunk = channel.recv(65536)
        if not chunk:
            raise EOFError(command)
        raw += chunk
        text = clean_text(raw.decode("utf-8", "replace"))
        body = text.split("\n", 1)[1] if "\n" in text else ""
        if body and session.prompt.fullmatch(body.rsplit("\n", 1)[-1].rstrip()):
            return body


def routerfix_command(session: SSHSession, command: str, timeout: float = 10.0) -> str:
    """One command read as routerfix reads it."""
    return session.command(command, timeout=timeout)


CTR_FIRST = tuple(name for name in ssh_kex.Transport._preferred_ciphers if name not in ssh_kex.AEAD_CIPHERS)
"""paramiko's own cipher order (AES-CTR first)."""
WAYS: dict[str, tuple[Callable[[SSHSession, str], str], tuple[str, ...], bool]] = {
    "routerfix, aes128-gcm": (routerfix_command, ssh_kex.Transport._preferred_ciphers, True),
    "routerfix, aes128-gcm, plain socket": (routerfix_command, ssh_kex.Transport._preferred_ciphers, False),
    "routerfix, aes128-ctr": (routerfix_command, CTR_FIRST, True),
    "routerfix, aes128-ctr, plain socket": (routerfix_command, CTR_FIRST, False),
    "select(), aes128-ctr, plain socket": (select_command, CTR_FIRST, False),
}
"""Label: how a command is read, the client's cipher order at login, whether the socket reads ahead."""


def _plain(sock: Any) -> Any:
    return sock


def connect(device: Any, ciphers: tuple[str, ...], ahead: bool, label: str) -> SSHDriver:
    """A routerfix SSH driver logged in to ``device`` with ``ciphers`` as the client's order, its socket read ahead
    or plain (``ahead``); the cipher agreed must be the one ``label`` names."""
    with patch.object(ssh_kex.Transport, "_preferred_ciphers", ciphers), \
            patch.object(ssh_transport, "read_ahead", ssh_transport.read_ahead if ahead else _plain):
        driver = routerfix.connect(device.driver, device.host, **device.connect_options())
    assert isinstance(driver, SSHDriver)
    transport = driver.session.channel.get_transport()
    agreed = transport.remote_cipher
    if agreed.removesuffix("@openssh.com") not in label.split(", ") or \
            isinstance(transport.sock, ReadAheadSocket) is not ahead:
        driver.close()
        raise AssertionError(f"{label}: the session agreed on {agreed} over {transport.sock!r}")
    return driver


def cpu_per_command_us(way: Callable[[SSHSession, str], str], sessions: list[SSHSession], commands: int) -> float:
    """This process's CPU per command, every session running ``commands`` commands at once, in µs."""
    failures: list[BaseException] = []

    def work(session: SSHSession) -> None:
        try:
            for i in range(commands):
                if f"ran-{i}" not in way(session, f"echo ran-{i}"):
                    raise AssertionError(f"no output for command {i}")
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            failures.append(exc)

    start = cpu_seconds()
    threads = [threading.Thread(target=work, args=(s,)) for s in sessions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return (cpu_seconds() - start) / (commands * len(sessions)) * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--commands", type=int, default=300)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    count = args.sessions * len(WAYS)
    drivers: list[SSHDriver] = []
    with simulators([("linux", {})] * count, latency=0.0) as devices:
        try:
            for index, (label, (_, ciphers, ahead)) in enumerate(WAYS.items()):
                drivers += [connect(d, ciphers, ahead, label)
                            for d in devices[index * args.sessions:(index + 1) * args.sessions]]
            rounds: dict[str, list[float]] = {name: [] for name in WAYS}
            for _ in range(args.runs):
                for index, (name, (way, _, _)) in enumerate(WAYS.items()):
                    own = [d.session for d in drivers[index * args.sessions:(index + 1) * args.sessions]]
                    rounds[name].append(cpu_per_command_us(way, own, args.commands))
        finally:
            for driver in drivers:
                driver.close()
    results = {name: round(median(values), 1) for name, values in rounds.items()}
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for name, value in results.items():
            print(f"{name:36} {value:8.1f} µs client CPU per command ({args.sessions} sessions at once)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
