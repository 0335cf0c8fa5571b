"""Each SSH simulator offers its device family's key exchanges and ciphers (the fact rows named below), not
asyncssh's defaults.

Checks per simulator, over real sockets: the server's KEXINIT read off the wire lists exactly the fact row's
algorithms in its order (plus asyncssh's ext-info/strict-kex markers after the exchanges), a real paramiko client
negotiates the exchange that list implies for paramiko's preference order (asyncssh's defaults would give the ML-KEM
hybrid), and routerfix's transport agrees on AES-GCM exactly where the device offers it.
"""

from __future__ import annotations

import logging
import socket
import struct
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import paramiko
import pytest
from routerfix.simulators._hosts.proxy import recv_exactly
from routerfix.simulators._hosts.ssh import SSHSimulatorHost

from routerfix.simulate import SimulatedDevice, simulate
from routerfix.transport import ssh_kex

_MARKERS = ("ext-info-s", "kex-strict-s-v00@openssh.com")
_OPENSSH_7 = ("curve25519-sha256", "curve25519-sha256@libssh.org", "ecdh-sha2-nistp256", "ecdh-sha2-nistp384",
              "ecdh-sha2-nistp521", "diffie-hellman-group-exchange-sha256", "diffie-hellman-group16-sha512",
              "diffie-hellman-group18-sha512", "diffie-hellman-group14-sha256", "diffie-hellman-group14-sha1")
_OPENSSH_9_2 = _OPENSSH_7[:-1]

# (driver, simulator knobs, offered list per its fact row, what paramiko negotiates)
CASES: list[tuple[str, dict[str, Any], tuple[str, ...], str]] = [
    ("cisco_ios", {}, ("diffie-hellman-group-exchange-sha1", "diffie-hellman-group14-sha1",
                       "diffie-hellman-group14-sha256"), "diffie-hellman-group14-sha256"),  # cisco_ios.md 45
    ("cisco_ios", {"xe": True}, ("curve25519-sha256", "curve25519-sha256@libssh.org", "ecdh-sha2-nistp256",
                                 "ecdh-sha2-nistp384", "ecdh-sha2-nistp521", "diffie-hellman-group14-sha256",
                                 "diffie-hellman-group16-sha512"), "curve25519-sha256@libssh.org"),  # 45
    ("mikrotik", {}, ("diffie-hellman-group-exchange-sha256", "diffie-hellman-group-exchange-sha1",
                      "diffie-hellman-group14-sha1", "diffie-hellman-group1-sha1"),
     "diffie-hellman-group-exchange-sha256"),  # mikrotik.md M84
    ("vyos", {}, _OPENSSH_9_2, "curve25519-sha256@libssh.org"),  # vyos.md 43
    ("vyos", {"release": "1.3"}, _OPENSSH_7, "curve25519-sha256@libssh.org"),  # vyos.md 43
    ("edgeos", {}, _OPENSSH_7, "curve25519-sha256@libssh.org"),  # edgeos.md 25
    ("openwrt", {}, ("curve25519-sha256", "curve25519-sha256@libssh.org", "diffie-hellman-group14-sha256",
                     "diffie-hellman-group14-sha1"), "curve25519-sha256@libssh.org"),  # openwrt.md 45
    ("linux", {}, _OPENSSH_9_2, "curve25519-sha256@libssh.org"),  # linux.md L53
]
_OPENSSH_CIPHERS = ("chacha20-poly1305@openssh.com", "aes128-ctr", "aes192-ctr", "aes256-ctr", "aes128-gcm@openssh.com",
                    "aes256-gcm@openssh.com")
# per case above: the ciphers offered per the fact row, the one routerfix's transport agrees on
CIPHERS: list[tuple[tuple[str, ...], str]] = [
    (("aes128-ctr", "aes192-ctr", "aes256-ctr", "aes128-cbc", "3des-cbc", "aes192-cbc", "aes256-cbc"),
     "aes128-ctr"),  # cisco_ios.md 46
    (("chacha20-poly1305@openssh.com", "aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "aes128-ctr", "aes192-ctr",
      "aes256-ctr"), "aes128-gcm@openssh.com"),  # cisco_ios.md 46
    (("aes128-ctr", "aes192-ctr", "aes256-ctr", "aes128-cbc", "aes192-cbc", "aes256-cbc"),
     "aes128-ctr"),  # mikrotik.md M85
    (_OPENSSH_CIPHERS, "aes128-gcm@openssh.com"),  # vyos.md 44
    (_OPENSSH_CIPHERS, "aes128-gcm@openssh.com"),  # vyos.md 44
    (_OPENSSH_CIPHERS, "aes128-gcm@openssh.com"),  # edgeos.md 26
    (("chacha20-poly1305@openssh.com", "aes128-ctr", "aes256-ctr"), "aes128-ctr"),  # openwrt.md 46
    (_OPENSSH_CIPHERS, "aes128-gcm@openssh.com"),  # linux.md L54
]
IDS = [f"{driver}-{'-'.join(f'{k}={v}' for k, v in knobs.items()) or 'default'}" for driver, knobs, _, _ in CASES]


@pytest.fixture(scope="module")
def devices() -> Iterator[dict[int, SimulatedDevice]]:
    """Every case's simulator, started once on one host for the module."""
    with SSHSimulatorHost() as host, ExitStack() as stack:
        yield {i: stack.enter_context(simulate(driver, host=host, **knobs))
               for i, (driver, knobs, _, _) in enumerate(CASES)}


def offered_lists(port: int) -> list[list[str]]:
    """The first four name-lists of the server's KEXINIT (RFC 4253 §7.1: key exchanges, host keys, ciphers client to
    server, ciphers server to client), read over a plain TCP connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"SSH-2.0-routerfix_kex_probe\r\n")
        banner = b""
        while not banner.endswith(b"\n"):
            banner += recv_exactly(sock, 1)
        length, = struct.unpack(">I", recv_exactly(sock, 4))
        packet = recv_exactly(sock, length)
        payload = packet[1:]  # padding_length byte, then the payload (the padding is not read)
        assert payload[0] == 20, "the first packet is not KEXINIT"
        lists, at = [], 17  # message number, 16-byte cookie, then the name-lists
        for _ in range(4):
            size, = struct.unpack(">I", payload[at:at + 4])
            lists.append(payload[at + 4:at + 4 + size].decode("ascii").split(","))
            at += 4 + size
        return lists


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def negotiated_kex(port: int) -> str:
    """The key exchange a real paramiko client agrees with the server (its own preference order), as paramiko's
    transport log names it (``Kex: <name>``; the engine itself is dropped once the new keys are in use)."""
    channel = f"paramiko.transport.kex-probe-{port}"
    records = _Records()
    logger = logging.getLogger(channel)
    logger.addHandler(records)
    logger.setLevel(logging.DEBUG)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            transport = paramiko.Transport(sock)
            transport.set_log_channel(channel)
            try:
                transport.start_client(timeout=10)
            finally:
                transport.close()
    finally:
        logger.removeHandler(records)
    agreed = [m.removeprefix("Kex: ") for m in records.messages if m.startswith("Kex: ")]
    assert len(agreed) == 1, records.messages
    return agreed[0]


@pytest.mark.parametrize(("case", "expected"), [(i, c[2]) for i, c in enumerate(CASES)], ids=IDS)
def test_offers_the_fact_rows_key_exchanges(devices: dict[int, SimulatedDevice], case: int,
                                            expected: tuple[str, ...]) -> None:
    port = devices[case].port
    assert port is not None
    assert offered_lists(port)[0] == [*expected, *_MARKERS]


@pytest.mark.parametrize(("case", "expected"), [(i, c[0]) for i, c in enumerate(CIPHERS)], ids=IDS)
def test_offers_the_fact_rows_ciphers(devices: dict[int, SimulatedDevice], case: int,
                                      expected: tuple[str, ...]) -> None:
    port = devices[case].port
    assert port is not None
    assert offered_lists(port)[2:] == [list(expected), list(expected)]


@pytest.mark.parametrize(("case", "expected"), [(i, c[1]) for i, c in enumerate(CIPHERS)], ids=IDS)
def test_routerfix_agrees_on_aes_gcm_only_where_the_device_offers_it(devices: dict[int, SimulatedDevice], case: int,
                                                                     expected: str) -> None:
    port = devices[case].port
    assert port is not None
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        transport = ssh_kex.Transport(sock)
        try:
            transport.start_client(timeout=10)
            assert (transport.local_cipher, transport.remote_cipher) == (expected, expected)
        finally:
            transport.close()


@pytest.mark.parametrize(("case", "expected"), [(i, c[3]) for i, c in enumerate(CASES)], ids=IDS)
def test_paramiko_negotiates_what_the_device_would(devices: dict[int, SimulatedDevice], case: int,
                                                   expected: str) -> None:
    port = devices[case].port
    assert port is not None
    assert negotiated_kex(port) == expected
