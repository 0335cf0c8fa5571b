"""Item 5: an unknown SSH host key, a changed host key, a self-signed TLS certificate without a pin and a wrong
pin are each refused by default, before any credential is sent, with a message that says how to trust the
device deliberately."""

from __future__ import annotations

from pathlib import Path

import pytest
from routerfix.simulators._hosts.ssh import SSHSimulatorHost

import routerfix
from routerfix.errors import TrustError

from .faults import FAST, _http, fresh_device, ssh_device
from .targets import ALL_TARGETS, Target

SSH = [t for t in ALL_TARGETS if t.kind == "ssh" and t.id != "mikrotik-v6"]
TLS = [t for t in ALL_TARGETS if t.id in ("netgear-R7000", "netgear-R7800", "asuswrt")]


def _ssh_options(device: routerfix.simulators.SimulatedDevice, known_hosts: Path) -> dict[str, object]:
    opts = {k: v for k, v in device.connect_options().items() if k != "host_key_fingerprint"}
    opts["known_hosts"] = str(known_hosts)
    return opts


@pytest.mark.parametrize("target", SSH, ids=str)
def test_unknown_ssh_host_key_refused(target: Target, ssh_host: SSHSimulatorHost, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text("")
    with fresh_device(target, ssh_host) as device:
        with pytest.raises(TrustError) as caught:
            routerfix.connect(target.driver, device.host, timeouts=FAST, **_ssh_options(device, known))
        message = str(caught.value)
        assert ssh_device(device).fingerprint in message, message       # shows what it saw
        assert "host_key_fingerprint" in message and "accept_new_host_key" in message, message
        assert ssh_device(device).auth_attempts == 0, "the password was sent to an untrusted host"
        assert known.read_text() == "", "an unknown key was written to known_hosts without being asked"
        # trusting it deliberately, as the message says, works
        pinned = {**_ssh_options(device, known), "host_key_fingerprint": ssh_device(device).fingerprint}
        with routerfix.connect(target.driver, device.host, timeouts=FAST, **pinned):
            pass


@pytest.mark.parametrize("target", SSH, ids=str)
def test_changed_ssh_host_key_refused(target: Target, ssh_host: SSHSimulatorHost, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    with fresh_device(target, ssh_host) as other, fresh_device(target, ssh_host) as device:
        # known_hosts says this host:port has the *other* device's key (same key type): the key changed
        known.write_text(f"[127.0.0.1]:{device.port} {ssh_device(other).public_key_line()}\n")
        for extra in ({}, {"accept_new_host_key": True}):
            with pytest.raises(TrustError) as caught:
                routerfix.connect(target.driver, device.host, timeouts=FAST,
                                  **{**_ssh_options(device, known), **extra})
            message = str(caught.value)
            assert "CHANGED" in message or "does not match" in message, message
            assert "ssh-keygen -R" in message, message
        assert ssh_device(device).auth_attempts == 0
        assert known.read_text().count("\n") == 1, "known_hosts was modified"


@pytest.mark.parametrize("target", SSH, ids=str)
def test_wrong_ssh_pin_refused(target: Target, ssh_host: SSHSimulatorHost) -> None:
    with fresh_device(target, ssh_host) as other, fresh_device(target, ssh_host) as device:
        with pytest.raises(TrustError) as caught:
            routerfix.connect(target.driver, device.host, timeouts=FAST,
                              **{**device.connect_options(), "host_key_fingerprint": ssh_device(other).fingerprint})
        assert "host_key_fingerprint" in str(caught.value)
        assert ssh_device(device).auth_attempts == 0


@pytest.mark.parametrize("target", TLS, ids=str)
def test_self_signed_tls_without_pin_refused(target: Target) -> None:
    with fresh_device(target) as device:
        opts = {k: v for k, v in device.connect_options().items() if k != "tls_fingerprint"}
        with pytest.raises(TrustError) as caught:
            routerfix.connect(target.driver, device.host, timeouts=FAST, **opts)
        message = str(caught.value)
        fingerprint = device.options["tls_fingerprint"]
        assert "tls_fingerprint" in message and fingerprint in message, message
        assert _http(device).requests == [], "a request (with credentials) went to an untrusted server"
        with routerfix.connect(target.driver, device.host, timeouts=FAST, **{**opts, "tls_fingerprint": fingerprint}):
            pass


@pytest.mark.parametrize("target", TLS, ids=str)
def test_wrong_tls_pin_refused(target: Target) -> None:
    with fresh_device(target) as other, fresh_device(target) as device:
        with pytest.raises(TrustError) as caught:
            routerfix.connect(target.driver, device.host, timeouts=FAST,
                              **{**device.connect_options(), "tls_fingerprint": other.options["tls_fingerprint"]})
        message = str(caught.value)
        assert "pin" in message and device.options["tls_fingerprint"] in message, message
        assert _http(device).requests == []


def test_verify_off_is_explicit_and_reported() -> None:
    """Turning verification off is possible only by asking, and the result says so."""
    target = next(t for t in TLS if t.driver == "netgear")
    with fresh_device(target) as device:
        opts = {k: v for k, v in device.connect_options().items() if k != "tls_fingerprint"}
        with routerfix.connect(target.driver, device.host, timeouts=FAST, **{**opts, "verify_tls": False}) as d:
            assert d.transport_security == "tls-unverified"
