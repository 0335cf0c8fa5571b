"""Reaching an SSH device through a jump host (``jump_host``, ``ssh_config_file``): a simulated bastion on
loopback routes the name ``router.invalid`` (never resolvable by the client, RFC 6761) to the simulator, so a
session that works went through the bastion."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from routerfix.simulators._hosts.bastion import SimulatedBastion, add_bastion, remove_bastion
from routerfix.simulators._hosts.ssh import SSHSimulatorHost

import routerfix
from routerfix.errors import InvalidValue, TransportError, TrustError
from routerfix.simulate import SimulatedDevice, simulate

from .conftest import FAST

HIDDEN = "router.invalid"


@pytest.fixture(scope="module")
def device(ssh_host: SSHSimulatorHost) -> Iterator[SimulatedDevice]:
    with simulate("linux", host=ssh_host) as sim:
        yield sim


@pytest.fixture(scope="module")
def bastion(ssh_host: SSHSimulatorHost, device: SimulatedDevice) -> Iterator[SimulatedBastion]:
    assert device.port is not None
    jump = add_bastion(ssh_host, routes={(HIDDEN, device.port): device.port})
    yield jump
    remove_bastion(ssh_host, jump)


@pytest.fixture
def known_hosts(tmp_path: Path, bastion: SimulatedBastion) -> Path:
    path = tmp_path / "known_hosts"
    path.write_text(bastion.known_hosts_line() + "\n")
    return path


def options(device: SimulatedDevice, bastion: SimulatedBastion, known_hosts: Path) -> dict[str, object]:
    return {**device.connect_options(), "timeouts": FAST, "known_hosts": str(known_hosts),
            "jump_host": f"jump@127.0.0.1:{bastion.port}", "jump_password": bastion.password}


def test_device_reached_only_through_the_bastion(device: SimulatedDevice, bastion: SimulatedBastion,
                                                 known_hosts: Path) -> None:
    before = len(bastion.tunnels)
    with routerfix.connect("linux", HIDDEN, **options(device, bastion, known_hosts)) as driver:
        forwards = driver.list_port_forwards()
    assert isinstance(forwards, tuple)
    assert bastion.tunnels[before:] == [(HIDDEN, device.port)]


def test_unknown_bastion_key_is_refused_even_with_accept_new(device: SimulatedDevice, bastion: SimulatedBastion,
                                                             tmp_path: Path) -> None:
    empty = tmp_path / "empty_known_hosts"
    logins = bastion.logins
    opts = {**options(device, bastion, empty), "accept_new_host_key": True}
    with pytest.raises(TrustError, match="jump host") as caught:
        routerfix.connect("linux", HIDDEN, **opts).open()
    assert bastion.fingerprint in str(caught.value)
    assert bastion.logins == logins  # no credential was sent to an unchecked bastion
    assert not empty.exists() or bastion.fingerprint not in empty.read_text()


def test_pinned_bastion_key(device: SimulatedDevice, bastion: SimulatedBastion, tmp_path: Path) -> None:
    opts = {**options(device, bastion, tmp_path / "none"), "jump_host_key_fingerprint": bastion.fingerprint}
    with routerfix.connect("linux", HIDDEN, **opts) as driver:
        assert driver.is_open


def test_refused_tunnel_is_a_transport_error(device: SimulatedDevice, bastion: SimulatedBastion,
                                             known_hosts: Path) -> None:
    with pytest.raises(TransportError, match="refused a tunnel to elsewhere.invalid"):
        routerfix.connect("linux", "elsewhere.invalid", **options(device, bastion, known_hosts)).open()
    assert ("elsewhere.invalid", device.port) in bastion.refused


def test_jump_options_are_checked() -> None:
    with pytest.raises(InvalidValue, match="jump_username"):
        routerfix.connect("linux", "192.0.2.1", username="u", jump_username="x")
    with pytest.raises(InvalidValue, match="jump_host"):
        routerfix.connect("linux", "192.0.2.1", username="u", jump_host="a@b@c")
    with pytest.raises(InvalidValue, match="ssh_config_file"):
        routerfix.connect("linux", "192.0.2.1", username="u", jump_host="b", ssh_config_file="/dev/null")


@pytest.mark.skipif(shutil.which("ssh") is None, reason="the OpenSSH client is not installed")
def test_ssh_config_proxyjump(device: SimulatedDevice, bastion: SimulatedBastion, known_hosts: Path,
                              tmp_path: Path) -> None:
    """OpenSSH's own client makes the first hop (ProxyJump in an ssh_config file, as netmiko reads it)."""
    import asyncssh

    key = asyncssh.generate_private_key("ssh-ed25519")
    key_file = tmp_path / "id_jump"
    key_file.write_bytes(key.export_private_key())
    key_file.chmod(0o600)
    bastion.authorized_keys.append(key.convert_to_public())
    config = tmp_path / "ssh_config"
    config.write_text(
        f"Host bastion\n  HostName 127.0.0.1\n  Port {bastion.port}\n  User jump\n  IdentityFile {key_file}\n"
        f"  IdentitiesOnly yes\n  BatchMode yes\n  StrictHostKeyChecking yes\n  UserKnownHostsFile {known_hosts}\n"
        f"  GlobalKnownHostsFile /dev/null\n"
        f"Host site7-gw\n  HostName {HIDDEN}\n  Port {device.port}\n  ProxyJump bastion\n")
    handle = device.handle if hasattr(device.handle, "known_hosts_line") else device.handle.device
    device_known = tmp_path / "device_known_hosts"
    device_known.write_text(handle.known_hosts_line(HIDDEN) + "\n")  # checked under HostName and Port, as OpenSSH
    before = len(bastion.tunnels)
    opts = {"username": device.username, "password": device.password, "timeouts": FAST,
            "ssh_config_file": str(config), "known_hosts": str(device_known)}
    with routerfix.connect("linux", "site7-gw", **opts) as driver:
        assert driver.is_open
    assert bastion.tunnels[before:] == [(HIDDEN, device.port)]
