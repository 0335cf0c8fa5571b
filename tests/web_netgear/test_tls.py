"""TLS: a pinned self-signed certificate works; a wrong pin or no pin is refused with how to pin; plain HTTP
is allowed and reported."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest

import routerfix

from .conftest import connect


def test_pin_right(netgear: Any) -> None:
    with netgear("R7000") as device, connect(device) as router:
        assert router.transport_security == "tls-pinned"
        assert router.get_nat_mode() is routerfix.NatMode.SECURE


def test_pin_wrong(netgear: Any) -> None:
    with netgear("R7000") as device:
        with pytest.raises(routerfix.TrustError, match="does not match the pinned") as info:
            connect(device, tls_fingerprint="sha256:" + "ab" * 32)
        assert device.handle.server.fingerprint in str(info.value)
        assert device.handle.server.recorded() == []


def test_no_pin_self_signed(netgear: Any) -> None:
    with netgear("R7800") as device:
        options = {k: v for k, v in device.connect_options().items() if k != "tls_fingerprint"}
        with pytest.raises(routerfix.TrustError, match="tls_fingerprint=") as info:
            routerfix.connect("netgear", device.host, **options)
        assert device.handle.server.fingerprint in str(info.value)
        assert "password" not in str(info.value)


def test_unverified_is_reported(netgear: Any) -> None:
    with netgear("R7800") as device:
        options = {k: v for k, v in device.connect_options().items() if k != "tls_fingerprint"}
        with routerfix.connect("netgear", device.host, verify_tls=False, **options) as router:
            assert router.transport_security == "tls-unverified"


def test_plain_http_is_reported(netgear: Any, model: str) -> None:
    with netgear(model, tls=False) as device, connect(device) as router:
        result = routerfix.apply_ghostcall_mitigation(router)
        assert result.status == "mitigated" and result.transport_security == "plain-http"


def test_pin_needs_a_sha256(netgear: Any) -> None:
    with netgear("R7000") as device, pytest.raises(routerfix.InvalidValue):
        connect(device, tls_fingerprint="md5:abcd")


def test_one_ssl_context_per_trust_setting_and_no_ca_store_for_a_pin() -> None:
    from routerfix.transport.tls import HttpOptions, shared_context

    pinned = shared_context(HttpOptions(tls_fingerprint="sha256:" + "ab" * 32))
    assert pinned is shared_context(HttpOptions(tls_fingerprint="sha256:" + "cd" * 32))
    assert pinned is shared_context(HttpOptions(verify_tls=False))
    assert pinned is not None and pinned.verify_mode == ssl.CERT_NONE and pinned.cert_store_stats()["x509_ca"] == 0
    verified = shared_context(HttpOptions())
    assert verified is shared_context(HttpOptions()) and verified is not None
    assert verified.verify_mode == ssl.CERT_REQUIRED and verified.cert_store_stats()["x509_ca"] > 0
    assert shared_context(HttpOptions(scheme="http")) is None


def test_ca_file_is_verified_through_the_shared_context(netgear: Any, tmp_path: Path) -> None:
    with netgear("R7800") as device:
        ca = tmp_path / "router-ca.pem"
        ca.write_bytes(device.handle.server.cert_pem)
        options = {k: v for k, v in device.connect_options().items() if k != "tls_fingerprint"}
        with routerfix.connect("netgear", device.host, ca_file=str(ca), **options) as router:
            assert router.transport_security == "tls" and router.get_nat_mode() is routerfix.NatMode.SECURE
        with pytest.raises(routerfix.InvalidValue, match="ca_file"):
            routerfix.connect("netgear", device.host, ca_file=str(tmp_path / "missing.pem"), **options)
