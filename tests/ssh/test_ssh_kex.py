"""routerfix.transport.ssh_kex: the private exponent of a finite-field key exchange is sized to the negotiated keys
(RFC 4419 §6.2, OpenSSH's rule), and logins that use it agree on the keys with a real SSH server."""

from __future__ import annotations

import inspect
import logging
import socket
import sys
import threading
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import paramiko
import pytest
from routerfix.simulators._hosts.ssh import SSHSimulatorHost

import routerfix
from routerfix.errors import IncompatibleDevice
from routerfix.retry import is_transient
from routerfix.simulate import SimulatedDevice, simulate
from routerfix.transport import ssh_kex

from .conftest import FAST, connect

TABLES = {"_cipher_info": vars(paramiko.Transport)["_cipher_info"],
          "_mac_info": vars(paramiko.Transport)["_mac_info"]}
GROUP14_P = int(paramiko.kex_group14.KexGroup14SHA256.P)


def negotiated(cipher: str, mac: str, *, remote_cipher: str | None = None, remote_mac: str | None = None) -> Any:
    """What an engine reads of its transport once the algorithms are agreed (paramiko's own tables)."""
    return SimpleNamespace(local_cipher=cipher, remote_cipher=remote_cipher or cipher, local_mac=mac,
                           remote_mac=remote_mac or mac, **TABLES)


@pytest.mark.parametrize(("transport", "need"), [
    (negotiated("aes128-ctr", "hmac-sha2-256"), 256),  # the floor and the MAC key: 32 bytes
    (negotiated("aes256-ctr", "hmac-sha2-256"), 256),
    (negotiated("aes128-ctr", "hmac-sha1"), 256),  # 20-byte MAC key, raised to the floor
    (negotiated("aes256-ctr", "hmac-sha2-512"), 512),  # 64-byte MAC key
    (negotiated("aes128-ctr", "hmac-sha2-256", remote_mac="hmac-sha2-512"), 512),  # either direction counts
    (negotiated("aes256-gcm@openssh.com", "hmac-sha2-256"), 256),
    (negotiated("no-such-cipher", "hmac-sha2-256"), None),
    (negotiated("aes128-ctr", "no-such-mac"), None),
    (SimpleNamespace(), None),
], ids=["aes128-sha256", "aes256-sha256", "sha1-floor", "sha512", "mixed", "gcm", "unknown-cipher", "unknown-mac",
        "nothing-agreed"])
def test_need_is_the_largest_key_material(transport: Any, need: int | None) -> None:
    assert ssh_kex.need_bits(transport) == need


def test_exponent_is_twice_the_need_and_never_longer_than_paramikos() -> None:
    assert ssh_kex.exponent_bits(negotiated("aes128-ctr", "hmac-sha2-256"), GROUP14_P, 1023) == 512
    # 2 x 512 bits is not shorter than paramiko's 1,023: paramiko's own exponent is drawn
    assert ssh_kex.exponent_bits(negotiated("aes128-ctr", "hmac-sha2-512"), GROUP14_P, 1023) is None
    # a group exchange's full-length exponent (2,047 bits) gives way to 1,024 bits
    assert ssh_kex.exponent_bits(negotiated("aes128-ctr", "hmac-sha2-512"), GROUP14_P, 2047) == 1024
    # a prime too short for the need (or no prime yet) leaves it to paramiko
    assert ssh_kex.exponent_bits(negotiated("aes128-ctr", "hmac-sha2-256"), (1 << 511) - 1, 2047) is None
    assert ssh_kex.exponent_bits(negotiated("aes128-ctr", "hmac-sha2-256"), 0, -1) is None
    assert ssh_kex.exponent_bits(SimpleNamespace(), GROUP14_P, 1023) is None


def test_drawn_exponents_are_in_range_and_differ() -> None:
    drawn = [ssh_kex.draw_exponent(512) for _ in range(200)]
    assert all(1 < x < 1 << 512 for x in drawn)
    assert len(set(drawn)) == len(drawn)
    assert max(x.bit_length() for x in drawn) == 512


@pytest.mark.parametrize("engine", [ssh_kex.Group14SHA256, ssh_kex.Group16SHA512, ssh_kex.GexSHA256])
def test_engine_draws_paramikos_exponent_when_the_need_is_unknown(engine: type[Any]) -> None:
    kex = engine(SimpleNamespace(server_mode=False))
    if engine is ssh_kex.GexSHA256:
        kex.p = GROUP14_P
    kex._generate_x()
    assert int(kex.x).bit_length() > 1000  # paramiko's own: 1,023 bits (fixed groups) or below (p-1)/2
    assert type(kex.x) is type(ssh_kex.exponent_type()(2))  # held in GMP too when gmpy2 is installed


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """(exchange, bit length) of every exponent routerfix's exchange engines draw, in order."""
    sizes: list[tuple[str, int]] = []
    generate = ssh_kex._SizedExponent._generate_x

    def record(engine: Any) -> None:
        generate(engine)
        assert isinstance(engine.x, type(ssh_kex.exponent_type()(2)))  # a GMP integer when gmpy2 is installed
        sizes.append((type(engine).name, int(engine.x).bit_length()))

    monkeypatch.setattr(ssh_kex._SizedExponent, "_generate_x", record)
    return sizes


@pytest.fixture(scope="module")
def finite_field_devices() -> Iterator[dict[str, SimulatedDevice]]:
    """RouterOS (group exchange only, mikrotik.md M84) and classic IOS 15 (group14, cisco_ios.md 45)."""
    with SSHSimulatorHost() as host, simulate("mikrotik", host=host) as routeros, \
            simulate("cisco_ios", host=host) as ios:
        yield {"diffie-hellman-group-exchange-sha256": routeros, "diffie-hellman-group14-sha256": ios}


@pytest.mark.parametrize("kex", ["diffie-hellman-group-exchange-sha256", "diffie-hellman-group14-sha256"])
def test_paramiko_client_with_sized_exponent_agrees_keys_with_the_server(
        finite_field_devices: dict[str, SimulatedDevice], drawn: list[tuple[str, int]], kex: str) -> None:
    """A real login (asyncssh's server computes its side with OpenSSL): a wrong shared secret would fail the
    host-key signature check or the first encrypted packet; the command's answer proves the keys agree."""
    device = finite_field_devices[kex]
    client = ssh_kex.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())  # a simulator on 127.0.0.1
    try:
        client.connect("127.0.0.1", port=device.port, username=device.username, password=device.password,
                       look_for_keys=False, allow_agent=False, timeout=10)
        transport = client.get_transport()
        assert isinstance(transport, ssh_kex.Transport)
        assert transport.is_authenticated()
        channel = transport.open_session()
        channel.close()
    finally:
        client.close()
    # aes128-ctr with hmac-sha2-256, paramiko's first choices: twice 256 bits (at most; below 257 bits has odds 2^-256)
    assert [name for name, _ in drawn] == [kex] and 256 < drawn[0][1] <= 512


@pytest.mark.parametrize("kex", ["diffie-hellman-group-exchange-sha256", "diffie-hellman-group14-sha256"])
def test_drivers_log_in_with_the_sized_exponent(finite_field_devices: dict[str, SimulatedDevice],
                                                drawn: list[tuple[str, int]], kex: str) -> None:
    """The drivers' netmiko login goes through the seam: one sized exponent per login, and the session works."""
    device = finite_field_devices[kex]
    with connect(device) as driver:
        assert driver.facts().model
    assert [name for name, _ in drawn] == [kex] and 256 < drawn[0][1] <= 512


@pytest.mark.parametrize("kex", ["diffie-hellman-group-exchange-sha256", "diffie-hellman-group14-sha256"])
def test_without_gmpy2_the_exponent_is_a_python_int_and_logins_work(
        finite_field_devices: dict[str, SimulatedDevice], drawn: list[tuple[str, int]], kex: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The fallback where gmpy2 is not installed (no wheel for the platform): ``import gmpy2`` fails, the exponent
    is an int, and the same exchange runs in Python's arithmetic."""
    monkeypatch.setitem(sys.modules, "gmpy2", None)  # what an absent package does: ImportError
    ssh_kex.exponent_type.cache_clear()
    try:
        assert ssh_kex.exponent_type() is int
        with connect(finite_field_devices[kex]) as driver:
            assert driver.facts().model
    finally:
        ssh_kex.exponent_type.cache_clear()
    assert [name for name, _ in drawn] == [kex]


def test_exponent_is_a_gmp_integer_when_gmpy2_is_installed() -> None:
    gmpy2 = pytest.importorskip("gmpy2")
    assert ssh_kex.exponent_type() is gmpy2.mpz
    x = ssh_kex.exponent_type()(ssh_kex.draw_exponent(512))
    # what paramiko computes with it: Python's three-argument pow hands an mpz exponent to GMP, same value
    assert type(pow(2, x, GROUP14_P)) is gmpy2.mpz and pow(2, x, GROUP14_P) == pow(2, int(x), GROUP14_P)


def test_kex_seam() -> None:
    """Pins what ssh_kex relies on in paramiko: if a release changes any of this, this test says where."""
    table = vars(paramiko.Transport)["_kex_info"]
    for ours, draws_in in ((ssh_kex.Group14SHA256, "start_kex"), (ssh_kex.Group16SHA512, "start_kex"),
                           (ssh_kex.GexSHA256, "_parse_kexdh_gex_group")):
        assert issubclass(ours, table[ours.name]), f"paramiko's {ours.name} engine changed"
        assert ssh_kex.Transport._kex_info[ours.name] is ours
        step = inspect.getsource(getattr(table[ours.name], draws_in))
        assert -1 < step.find("self._generate_x()") < step.find("pow("), f"{ours.name} no longer draws x first"
    assert {k: v for k, v in ssh_kex.Transport._kex_info.items() if k not in {
        ssh_kex.Group14SHA256.name, ssh_kex.Group16SHA512.name, ssh_kex.GexSHA256.name}} == {
        k: v for k, v in table.items() if k not in {
            ssh_kex.Group14SHA256.name, ssh_kex.Group16SHA512.name, ssh_kex.GexSHA256.name}}
    # the algorithms are agreed (_parse_kex_init) before the engine draws its exponent (start_kex)
    negotiate = inspect.getsource(paramiko.Transport._negotiate_keys)
    assert -1 < negotiate.find("_parse_kex_init(m)") < negotiate.find("kex_engine.start_kex()")
    assert "transport_factory" in inspect.signature(paramiko.SSHClient.connect).parameters
    # e and K (GMP integers when gmpy2 is installed) reach the wire and the key derivation through int()
    assert "n = int(n)" in inspect.getsource(paramiko.util.deflate_long)
    assert "util.deflate_long(z)" in inspect.getsource(paramiko.Message.add_mpint)
    adds_k = getattr(paramiko.Transport, "_add_K", paramiko.Transport._compute_key)  # paramiko 5 / 4
    assert "m.add_mpint(self.K)" in inspect.getsource(adds_k)


PARAMIKO_MAJOR = int(paramiko.__version__.split(".")[0])


@pytest.mark.skipif(PARAMIKO_MAJOR < 5, reason="paramiko 4 still speaks SHA-1 SSH (see the test below)")
def test_a_router_offering_only_sha1_exchanges_is_refused_with_what_to_do(ssh_host: SSHSimulatorHost) -> None:
    """Classic IOS 15 as recorded (cisco_ios.md 45: SHA-1 exchanges only): paramiko 5 has none of them. The
    refusal is an IncompatibleDevice error (never retried) that names the device, the paramiko release and a fix;
    no credential is sent, because the key exchange fails before authentication."""
    with simulate("cisco_ios", host=ssh_host, sha1_only=True) as device:
        with pytest.raises(IncompatibleDevice) as caught, connect(device):
            pass
        assert device.handle.device.auth_attempts == 0
    message = str(caught.value)
    assert message.startswith(f"127.0.0.1 and this SSH client (paramiko {paramiko.__version__}) have no key "
                              f"exchange in common (Incompatible ssh peer (no acceptable kex algorithm))")
    assert "Not retried" in message and "pip install 'paramiko>=4,<5'" in message
    assert not is_transient(caught.value)


def test_a_device_speaking_only_ssh_1_is_told_to_enable_ssh_2() -> None:
    """paramiko refuses an SSH-1 banner with the same exception class as an algorithm mismatch; the advice differs:
    no client release speaks SSH 1 (a real listener on 127.0.0.1 that sends an SSH-1.5 identification)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]

        def serve() -> None:
            conn, _ = server.accept()
            with conn:
                conn.sendall(b"SSH-1.5\x1b[2J-Cisco-1.25\r\n")  # a terminal escape the message must not carry
                conn.recv(256)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        with pytest.raises(IncompatibleDevice) as caught:
            routerfix.connect("cisco_ios", "127.0.0.1", port=port, username="admin", password="pw-never-sent",
                              timeouts=FAST)
        thread.join(10)
    message = str(caught.value)
    assert message.startswith("127.0.0.1 does not speak SSH protocol 2 (Incompatible version (1.5[2J instead of 2.0))")
    assert "\x1b" not in message
    assert "enable SSH protocol 2 on the device" in message and "paramiko 4" not in message
    assert "pw-never-sent" not in message


@pytest.mark.skipif(PARAMIKO_MAJOR >= 5, reason="needs paramiko 4 (the advice of the refusal above)")
def test_with_paramiko_4_a_router_offering_only_sha1_exchanges_is_reached(ssh_host: SSHSimulatorHost) -> None:
    """What the refusal advises works: under paramiko 4 the same router is logged in to and read (run by hand with
    paramiko 4 on the path, e.g. PYTHONPATH=<unpacked paramiko-4.0.0 wheel> pytest tests/ssh/test_ssh_kex.py)."""
    with simulate("cisco_ios", host=ssh_host, sha1_only=True) as device, connect(device) as driver:
        assert driver.facts().model


def test_an_unreadable_banner_reaches_the_message_without_control_characters(caplog: pytest.LogCaptureFixture) -> None:
    """paramiko quotes a banner line it cannot read ("Indecipherable protocol version"): that text is the server's,
    so its control characters (a terminal escape here) are removed before it reaches a routerfix error. Through a
    jump host, whose login is paramiko's own client (netmiko's wrapper would keep only its own first line). paramiko's
    own log lines that quote the banner lose them too."""
    caplog.set_level(logging.DEBUG, logger="paramiko.transport")
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(30)
        port = server.getsockname()[1]
        stop = threading.Event()

        def serve() -> None:
            while not stop.is_set():
                try:
                    conn, _ = server.accept()
                except OSError:
                    return
                with conn:
                    conn.sendall(b"not ssh \x1b[2J\r\n" * 100)
                    conn.recv(256)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        try:
            with pytest.raises(routerfix.TransportError) as caught:
                routerfix.connect("cisco_ios", "192.0.2.1", username="admin", password="pw-never-sent",
                                  jump_host=f"admin@127.0.0.1:{port}", timeouts=FAST)
        finally:
            stop.set()
    message = str(caught.value)
    assert "Indecipherable protocol version" in message and "not ssh [2J" in message
    assert "\x1b" not in message and "pw-never-sent" not in message
    banners = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Banner: ")]
    assert banners and all(line == "Banner: not ssh [2J" for line in banners)
