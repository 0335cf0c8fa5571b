"""known_hosts files as OpenSSH writes them (sshd(8), "SSH_KNOWN_HOSTS FILE FORMAT"): markers, hashed names,
wildcard and negated patterns, against a real SSH server on 127.0.0.1. A revoked key is refused before any
credential is sent; nothing in the file makes a connection crash."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Iterator
from pathlib import Path

import asyncssh
import pytest
from routerfix.simulators._hosts.ssh import SimulatedSSHDevice, SSHSimulatorHost

from routerfix.errors import TrustError

from .conftest import EchoShell
from .test_transport import PASSWORD, toy


@pytest.fixture
def device(ssh_host: SSHSimulatorHost) -> Iterator[SimulatedSSHDevice]:
    dev = ssh_host.add_device("kh", EchoShell, username="admin", password=PASSWORD)
    yield dev
    ssh_host.remove_device(dev)


def other_key() -> str:
    """``ssh-ed25519 <base64>`` of a key that is not the device's."""
    kind, blob = asyncssh.generate_private_key("ssh-ed25519").export_public_key("openssh").decode().split()[:2]
    return f"{kind} {blob}"


def hashed(name: str) -> str:
    """The name as ``ssh-keygen -H`` writes it: ``|1|base64(salt)|base64(HMAC-SHA1(salt, name))``."""
    salt = os.urandom(20)
    digest = hmac.new(salt, name.encode(), hashlib.sha1).digest()
    return f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(digest).decode()}"


def name(dev: SimulatedSSHDevice) -> str:
    return f"[127.0.0.1]:{dev.port}"


def connects(dev: SimulatedSSHDevice, known: Path, **options: object) -> bool:
    with toy(dev, known_hosts=str(known), **options) as driver:
        return bool(driver.send("hello") == "ran hello")  # type: ignore[attr-defined]


def refused(dev: SimulatedSSHDevice, known: Path, **options: object) -> str:
    before, attempts = known.read_text(), dev.auth_attempts
    with pytest.raises(TrustError) as caught:
        toy(dev, known_hosts=str(known), **options).open()
    assert dev.auth_attempts == attempts, "credentials were sent to an untrusted host"
    assert known.read_text() == before, "known_hosts was modified"
    return str(caught.value)


def test_revoked_line_of_another_key_does_not_break_the_file(device: SimulatedSSHDevice, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(f"@revoked * {other_key()}\n{device.known_hosts_line()}\n")
    assert connects(device, known)


def test_revoked_key_is_refused_even_when_listed_and_with_accept_new(device: SimulatedSSHDevice,
                                                                      tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(f"{device.known_hosts_line()}\n@revoked * {device.public_key_line()}\n")
    for options in ({}, {"accept_new_host_key": True}):
        message = refused(device, known, **options)
        assert "REVOKED" in message and device.fingerprint in message, message


def test_revoked_key_is_refused_when_pinned(device: SimulatedSSHDevice, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(f"@revoked {name(device)} {device.public_key_line()}\n")
    assert "REVOKED" in refused(device, known, host_key_fingerprint=device.fingerprint)


def test_cert_authority_lines_are_declined_clearly(device: SimulatedSSHDevice, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(f"@cert-authority * {other_key()}\n")
    message = refused(device, known)
    assert "certificate authority" in message and "host_key_fingerprint" in message, message
    known.write_text(f"@cert-authority * {other_key()}\n{device.known_hosts_line()}\n")
    assert connects(device, known)


def test_hashed_name_is_matched(device: SimulatedSSHDevice, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(f"{hashed(name(device))} {device.public_key_line()}\n")
    assert connects(device, known)
    known.write_text(f"{hashed(name(device))} {other_key()}\n")
    assert "CHANGED" in refused(device, known, accept_new_host_key=True)


def test_wildcard_pattern_is_matched(device: SimulatedSSHDevice, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(f"router.example,[127.0.0.?]:{device.port} {device.public_key_line()}\n")
    assert connects(device, known)


def test_wildcard_with_another_key_is_a_changed_key_not_a_first_use(device: SimulatedSSHDevice,
                                                                   tmp_path: Path) -> None:
    """What OpenSSH calls a changed key must not be trusted on first use."""
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.*]:* {other_key()}\n")
    message = refused(device, known, accept_new_host_key=True)
    assert "CHANGED" in message and "ssh-keygen -R" in message, message


def test_negated_pattern_excludes_the_host(device: SimulatedSSHDevice, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(f"*,!{name(device)} {other_key()}\n")
    message = refused(device, known)
    assert "is not in" in message, message  # unknown, not changed: the line does not apply to this host
    assert connects(device, known, accept_new_host_key=True)
    assert known.read_text().splitlines()[-1] == device.known_hosts_line()


def test_malformed_lines_are_skipped(device: SimulatedSSHDevice, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text("# comment\n\nonly-two fields\nhost ssh-ed25519 not*base64!\n@bogus-marker * ssh-ed25519 AAAA\n"
                     f"|1|bad|hash ssh-ed25519 AAAA\n{device.known_hosts_line()}\n")
    assert connects(device, known)


def test_cli_exit_code_for_a_revoked_key(device: SimulatedSSHDevice, tmp_path: Path) -> None:
    """The command line says 3 (not trusted), not 1 (a crash)."""
    from routerfix.cli import exit_code_for

    known = tmp_path / "known_hosts"
    known.write_text(f"@revoked * {device.public_key_line()}\n{device.known_hosts_line()}\n")
    with pytest.raises(TrustError) as caught:
        toy(device, known_hosts=str(known)).open()
    assert exit_code_for(caught.value) == 3
