"""TLS: a pinned self-signed certificate works; a wrong pin or no pin is refused with how to pin; plain HTTP
is allowed and reported."""

from __future__ import annotations

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
