"""The shared SSH layer against real SSH servers on 127.0.0.1: trust, authentication, errors, speed."""

from __future__ import annotations

import logging
import socket
import struct
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import asyncssh
import pytest
from routerfix.simulators._hosts.ssh import SimulatedSSHDevice, SSHSimulatorHost

from routerfix.base.ssh import SSHDriver, parse_bool
from routerfix.driver import Timeouts
from routerfix.errors import (
    AuthenticationError,
    ConnectionDropped,
    ConnectTimeout,
    DeviceError,
    InvalidValue,
    ReadTimeout,
    TransportError,
    TrustError,
)
from routerfix.model import DeviceFacts
from routerfix.transport._readahead import ReadAheadSocket
from routerfix.transport.ssh_trust import TrustSettings

from .conftest import FAST, EchoShell

PASSWORD = "s3cret-Pw!"


class ToyDriver(SSHDriver):
    """A minimal SSH driver for the transport tests."""

    name: ClassVar[str] = "toy"
    device_type: ClassVar[str] = "linux"
    prompt_pattern: ClassVar[str | None] = r"\S+@\S+:.*[#$]"
    error_patterns: ClassVar[tuple[str, ...]] = (r"^Error: ",)
    batch_separator: ClassVar[str | None] = "; "

    def _batch_marker(self, token: str) -> str:
        return f"echo {token} $?"

    def facts(self) -> DeviceFacts:
        return DeviceFacts("toy", "toy")


@pytest.fixture
def device(ssh_host: SSHSimulatorHost) -> Iterator[SimulatedSSHDevice]:
    dev = ssh_host.add_device("toy", EchoShell, username="admin", password=PASSWORD)
    yield dev
    ssh_host.remove_device(dev)


def toy(dev: SimulatedSSHDevice, **options: Any) -> ToyDriver:
    options.setdefault("password", PASSWORD)
    options.setdefault("timeouts", FAST)
    return ToyDriver("127.0.0.1", port=dev.port, username="admin", **options)


def test_unknown_host_key_is_refused_with_how_to(device: SimulatedSSHDevice, tmp_path: Path) -> None:
    driver = toy(device, known_hosts=str(tmp_path / "known_hosts"))
    with pytest.raises(TrustError) as info:
        driver.open()
    message = str(info.value)
    assert device.fingerprint in message
    assert f"host_key_fingerprint={device.fingerprint}" in message
    assert "accept_new_host_key=true" in message and "ssh-keyscan" in message
    assert device.auth_attempts == 0, "credentials must not be sent to an untrusted host"


def test_known_hosts_file_is_trusted(device: SimulatedSSHDevice, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(device.known_hosts_line() + "\n")
    with toy(device, known_hosts=str(known)) as driver:
        assert driver.send("hello") == "ran hello"  # type: ignore[attr-defined]


def test_changed_key_is_refused_even_with_accept_new(device: SimulatedSSHDevice, tmp_path: Path) -> None:
    other = asyncssh.generate_private_key("ssh-ed25519")
    known = tmp_path / "known_hosts"
    blob = other.export_public_key("openssh").decode().split()[1]
    known.write_text(f"[127.0.0.1]:{device.port} ssh-ed25519 {blob}\n")
    with pytest.raises(TrustError) as info:
        toy(device, known_hosts=str(known), accept_new_host_key=True).open()
    assert "CHANGED" in str(info.value) and "ssh-keygen -R" in str(info.value)
    assert known.read_text().count("\n") == 1, "the file must not be touched"
    assert device.auth_attempts == 0


def test_accept_new_adds_the_key_then_it_is_known(device: SimulatedSSHDevice, tmp_path: Path) -> None:
    known = tmp_path / "sub" / "known_hosts"
    with toy(device, known_hosts=str(known), accept_new_host_key="true"):
        pass
    assert known.read_text().strip() == device.known_hosts_line()
    assert oct(known.stat().st_mode & 0o777) == "0o600"
    with toy(device, known_hosts=str(known)) as driver:  # now trusted without the option
        assert driver.is_open


def test_pinned_fingerprint(device: SimulatedSSHDevice, tmp_path: Path) -> None:
    with toy(device, host_key_fingerprint=device.fingerprint, known_hosts=str(tmp_path / "none")) as driver:
        assert driver.send("x") == "ran x"  # type: ignore[attr-defined]
    wrong = "SHA256:" + "A" * 43
    with pytest.raises(TrustError) as info:
        toy(device, host_key_fingerprint=wrong).open()
    assert "does not match the pinned" in str(info.value) and device.fingerprint in str(info.value)


def test_trust_options_are_validated() -> None:
    with pytest.raises(InvalidValue):
        TrustSettings.from_options({"host_key_fingerprint": "MD5:aa:bb"})
    with pytest.raises(InvalidValue):
        TrustSettings.from_options({"accept_new_host_key": "maybe"})
    with pytest.raises(InvalidValue):
        TrustSettings.from_options({"key_file": "/nonexistent/key"})
    assert parse_bool("YES", "x") is True and parse_bool("0", "x") is False
    padded = TrustSettings.from_options({"host_key_fingerprint": "SHA256:" + "b" * 43 + "="})
    assert padded.host_key_fingerprint == "SHA256:" + "b" * 43


def test_bad_password_is_tried_once(device: SimulatedSSHDevice) -> None:
    with pytest.raises(AuthenticationError):
        toy(device, password="wrong-password", host_key_fingerprint=device.fingerprint).open()
    assert device.auth_attempts == 1
    assert device.logins == 0


def test_auth_failure_knob(device: SimulatedSSHDevice) -> None:
    device.knobs.fail_auth = True
    with pytest.raises(AuthenticationError):
        toy(device, host_key_fingerprint=device.fingerprint).open()
    assert device.auth_attempts == 1


def test_a_login_answer_that_comes_too_late_is_a_timeout_not_a_refusal(device: SimulatedSSHDevice) -> None:
    """paramiko raises ``AuthenticationException("Authentication timeout.")`` when the device does not answer the
    credentials within ``auth_timeout``: a busy device, not wrong credentials (an AuthenticationError would never
    be retried and tells the operator to check a password that is right)."""
    device.knobs.auth_delay = 3
    with pytest.raises(ConnectTimeout, match="did not answer the SSH login in time"):
        toy(device, host_key_fingerprint=device.fingerprint, timeouts=Timeouts(connect=0.5, read=5, apply=5)).open()
    assert device.logins == 0 and device.auth_attempts == ToyDriver.connect_attempts  # transient: retried


def test_key_authentication(ssh_host: SSHSimulatorHost, tmp_path: Path) -> None:
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    key_file = tmp_path / "id_ed25519"
    key_file.write_bytes(client_key.export_private_key("openssh"))
    key_file.chmod(0o600)
    dev = ssh_host.add_device("keyed", EchoShell, username="admin", password="unused-password",
                              authorized_keys=[client_key.convert_to_public()])
    try:
        driver = ToyDriver("127.0.0.1", port=dev.port, username="admin", timeouts=FAST, key_file=str(key_file),
                           host_key_fingerprint=dev.fingerprint)
        with driver:
            assert driver.send("k") == "ran k"
        assert dev.logins == 1
    finally:
        ssh_host.remove_device(dev)


def test_connect_retries_are_bounded() -> None:
    """A port that accepts and hangs up at once: set-up is retried (transient), exactly 3 times, quickly."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted: list[int] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            accepted.append(1)
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    started = time.monotonic()
    try:
        with pytest.raises(TransportError):
            ToyDriver("127.0.0.1", port=server.getsockname()[1], username="admin", password="x", timeouts=FAST,
                      host_key_fingerprint="SHA256:" + "A" * 43).open()
    finally:
        server.close()
    assert len(accepted) == 3
    assert time.monotonic() - started < 8


def test_ssh_socket_sends_small_lines_at_once_and_reads_ahead(device: SimulatedSSHDevice, tmp_path: Path) -> None:
    with toy(device, host_key_fingerprint=device.fingerprint, known_hosts=str(tmp_path / "none")) as driver:
        sock = driver.connection.remote_conn.get_transport().sock
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)  # no Nagle wait for the previous ACK
        if sys.platform != "win32":
            assert isinstance(sock, ReadAheadSocket)  # one read per burst, the kernel's timeout (no poll())
            assert sock.gettimeout() == 0.1  # paramiko's close check, as it set it
            seconds, micros = struct.unpack("@ll", sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, 16))
            assert 0.1 <= seconds + micros / 1e6 < 0.12
        assert driver.send("echo hi") == "hi"  # type: ignore[attr-defined]


def test_refused_port_is_a_transport_error() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    with pytest.raises(TransportError) as info:
        ToyDriver("127.0.0.1", port=port, username="a", password="x", timeouts=FAST).open()
    assert not isinstance(info.value, (AuthenticationError, TrustError))


def test_device_error_carries_the_device_words(device: SimulatedSSHDevice) -> None:
    with toy(device, host_key_fingerprint=device.fingerprint) as driver:
        with pytest.raises(DeviceError) as info:
            driver.send("fail now")  # type: ignore[attr-defined]
        assert info.value.device_message == "Error: simulated refusal"
        assert driver.send("fail now", check=False) == "Error: simulated refusal"  # type: ignore[attr-defined]


def test_batch_splits_outputs_and_reports_the_failing_command(device: SimulatedSSHDevice) -> None:
    with toy(device, host_key_fingerprint=device.fingerprint) as driver:
        assert isinstance(driver, ToyDriver)
        assert driver.send_many(["a", "b", "c"]) == ["ran a", "ran b", "ran c"]
        assert driver.round_trips == 1
        with pytest.raises(DeviceError) as info:
            driver.send_many(["a", "fail here", "c"])
        assert "fail here" in str(info.value)


def test_dropped_connection_is_noticed_at_once(device: SimulatedSSHDevice) -> None:
    with toy(device, host_key_fingerprint=device.fingerprint, timeouts=Timeouts()) as driver:  # 30 s read timeout
        device.drop_after(1)
        started = time.monotonic()
        with pytest.raises(ConnectionDropped):
            driver.send("x")  # type: ignore[attr-defined]
        assert time.monotonic() - started < 2
        assert not driver.is_open
        driver.reconnect()
        assert driver.send("y") == "ran y"  # type: ignore[attr-defined]


def test_slow_output_is_read_whole_and_timeouts_apply(device: SimulatedSSHDevice) -> None:
    with toy(device, host_key_fingerprint=device.fingerprint) as driver:
        device.knobs.chunk_size, device.knobs.chunk_delay = 3, 0.005
        assert driver.send("slowly") == "ran slowly"  # type: ignore[attr-defined]
        device.knobs.chunk_size, device.knobs.chunk_delay = 0, 0.0
        device.knobs.latency = 0.5
        with pytest.raises(ReadTimeout):
            driver.send("late", timeout=0.1)  # type: ignore[attr-defined]


def test_reads_wait_on_the_channel_itself_and_leave_its_timeout_as_it_was(device: SimulatedSSHDevice) -> None:
    with toy(device, host_key_fingerprint=device.fingerprint) as driver:
        channel = driver.session.channel
        before = channel.gettimeout()
        assert driver.send("hello") == "ran hello"  # type: ignore[attr-defined]
        device.knobs.latency = 0.5
        with pytest.raises(ReadTimeout):
            driver.send("late", timeout=0.1)  # type: ignore[attr-defined]
        assert channel.gettimeout() == before  # sends wait on it for window space: netmiko's setting stays
        # no select() on the channel: paramiko then signals every packet through a pipe too (paramiko 3-5 create it
        # in Channel.fileno(), kept as Channel._pipe)
        assert channel._pipe is None


def test_latency_batches_cost_one_round_trip(device: SimulatedSSHDevice) -> None:
    with toy(device, host_key_fingerprint=device.fingerprint) as driver:
        assert isinstance(driver, ToyDriver)
        device.knobs.latency = 0.05
        started = time.monotonic()
        driver.send_many([f"c{i}" for i in range(6)])
        batched = time.monotonic() - started
        started = time.monotonic()
        for i in range(3):
            driver.send(f"s{i}")
        sequential = time.monotonic() - started
        assert 0.05 <= batched < 0.09
        assert sequential >= 0.15


def test_password_never_reaches_logs(device: SimulatedSSHDevice, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with toy(device, host_key_fingerprint=device.fingerprint) as driver:
        driver.send("hello")  # type: ignore[attr-defined]
        assert PASSWORD not in repr(driver) and PASSWORD not in repr(driver.__dict__)
    assert PASSWORD not in caplog.text
    assert PASSWORD not in device.received.decode("utf-8", "replace")


def test_login_suffix_and_exec_are_served(ssh_host: SSHSimulatorHost) -> None:
    import asyncio

    dev = ssh_host.add_device("exec", EchoShell, username="admin", password="pw1",
                              login_name=lambda name: name.split("+", 1)[0])

    async def run() -> str:
        async with asyncssh.connect("127.0.0.1", dev.port, username="admin+ct80w", password="pw1",
                                    known_hosts=None) as conn:
            result = await conn.run("echo exec-works")
            return str(result.stdout)

    try:
        assert asyncio.run(run()).strip() == "exec-works"
    finally:
        ssh_host.remove_device(dev)


def test_netmiko_seam() -> None:
    """Pins the one netmiko seam (routerfix.transport.ssh.NetmikoSeam) and the version bound that guards it: if a
    netmiko release changes any of this, this test says where before a device does."""
    import inspect
    import re
    import tomllib
    from importlib.metadata import version

    import paramiko
    from netmiko import ConnectHandler
    from netmiko.base_connection import BaseConnection

    from routerfix.transport.ssh import NetmikoSeam, release
    from routerfix.transport.ssh_kex import SSHClient

    opening = inspect.getsource(BaseConnection._open)
    steps = [opening.find(s) for s in ("_modify_connection_params()", "establish_connection()",
                                       "_try_session_preparation()")]
    assert -1 not in steps and steps == sorted(steps), "netmiko's _open() no longer runs these steps in this order"
    assert "set_missing_host_key_policy(self.key_policy)" in inspect.getsource(BaseConnection._build_ssh_client)
    assert "self._get_ssh_client_instance()" in inspect.getsource(BaseConnection._build_ssh_client)
    assert "removeFilter(self._secrets_filter)" in inspect.getsource(BaseConnection.disconnect)

    netmiko_log = logging.getLogger("netmiko")
    conn = ConnectHandler(device_type="mikrotik_routeros", host="192.0.2.1", username="admin",
                          password="seam-Pw-1", auto_connect=False)
    policy = paramiko.RejectPolicy()
    assert conn._secrets_filter in netmiko_log.filters
    NetmikoSeam.prepare(conn, policy)
    assert conn.key_policy is policy
    assert isinstance(conn._get_ssh_client_instance(), SSHClient)  # sized DH exponents (routerfix.transport.ssh_kex)
    # a platform that brings its own paramiko client keeps it (netmiko's cisco_s200: a client without SSH auth)
    own = ConnectHandler(device_type="cisco_s200", host="192.0.2.1", username="admin", password="seam-Pw-1",
                         auto_connect=False)
    assert type(own)._get_ssh_client_instance is not BaseConnection._get_ssh_client_instance
    NetmikoSeam.prepare(own, policy)
    assert not isinstance(own._get_ssh_client_instance(), SSHClient)
    release(own)
    assert conn.username.startswith("admin+"), "RouterOS's login suffix no longer comes from netmiko"
    release(conn)
    assert conn._secrets_filter not in netmiko_log.filters

    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    bound = next(d for d in pyproject["project"]["dependencies"] if d.startswith("netmiko"))
    upper = re.search(r"<\s*(\d+)", bound)
    assert upper is not None, "netmiko needs an upper bound (the seam is checked per major version)"
    assert int(version("netmiko").split(".")[0]) < int(upper.group(1))


def test_secret_options_are_kept_as_secrets(device: SimulatedSSHDevice, tmp_path: Path) -> None:
    """Options an SSH driver names in secret_options (key_passphrase, a platform's enable secret) are Secrets."""
    from routerfix.secrets import Secret

    class Enabling(ToyDriver):
        option_names: ClassVar[frozenset[str]] = ToyDriver.option_names | {"enable_secret"}
        secret_options: ClassVar[frozenset[str]] = ToyDriver.secret_options | {"enable_secret"}

    driver = Enabling("127.0.0.1", port=device.port, username="admin", password=PASSWORD, timeouts=FAST,
                      enable_secret="En4ble-Canary", host_key_fingerprint=device.fingerprint)
    assert isinstance(driver.options["enable_secret"], Secret)
    assert driver.options["enable_secret"].reveal() == "En4ble-Canary"
    assert "En4ble-Canary" not in repr(vars(driver))
