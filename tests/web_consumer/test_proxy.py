"""Web drivers through an HTTP CONNECT or SOCKS5 proxy (the ``proxy`` option): a simulated proxy on loopback that
alone knows the device's name ``router.invalid`` (RFC 6761: never resolvable by the client) counts its tunnels;
TLS, pinned here, is checked end to end with the device through the tunnel."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from routerfix.simulators._hosts.proxy import ProxyKind, TunnelProxy

import routerfix
from routerfix.driver import Timeouts
from routerfix.errors import InvalidValue, TransportError, TrustError
from routerfix.simulate import SimulatedDevice, simulate

HIDDEN = "router.invalid"
FAST = Timeouts(connect=3, read=3, apply=3, retry_wait=0.01)
WRONG_PIN = "sha256:" + "00" * 32


@pytest.fixture(scope="module")
def device() -> Iterator[SimulatedDevice]:
    with simulate("linksys", tls=True, restart_seconds=0.05) as sim:
        yield sim


@pytest.fixture(scope="module", params=[ProxyKind.HTTP, ProxyKind.SOCKS5])
def proxy(request: pytest.FixtureRequest, device: SimulatedDevice) -> Iterator[TunnelProxy]:
    assert device.port is not None
    with TunnelProxy(request.param, routes={(HIDDEN, device.port): device.port}) as server:
        yield server


def options(device: SimulatedDevice, proxy: TunnelProxy, **extra: object) -> dict[str, object]:
    return {**device.connect_options(), "timeouts": FAST, "proxy": proxy.url, "scheme": "https",
            **extra}


def test_device_reached_only_through_the_proxy(device: SimulatedDevice, proxy: TunnelProxy) -> None:
    before = len(proxy.tunnels)
    with routerfix.connect("linksys", HIDDEN, **options(device, proxy)) as driver:
        forwards = driver.list_port_forwards()
        assert driver.transport_security == "tls-pinned"
    assert isinstance(forwards, tuple)
    assert proxy.tunnels[before:] and set(proxy.tunnels[before:]) == {(HIDDEN, device.port)}


def test_pin_is_checked_through_the_tunnel(device: SimulatedDevice, proxy: TunnelProxy) -> None:
    with pytest.raises(TrustError, match="does not match the pinned fingerprint"):
        routerfix.connect("linksys", HIDDEN, **options(device, proxy, tls_fingerprint=WRONG_PIN)).open()


def test_refused_tunnel_names_the_proxy(device: SimulatedDevice, proxy: TunnelProxy) -> None:
    with pytest.raises(TransportError, match="through proxy") as caught:
        routerfix.connect("linksys", "elsewhere.invalid", **options(device, proxy)).open()
    assert ("elsewhere.invalid", device.port) in proxy.refused
    assert "secret" not in str(caught.value)


def test_proxy_option_is_checked_and_its_credentials_never_shown() -> None:
    for bad in ("ftp://p:21", "http://p", "http://p:3128/path", "proxy:3128"):
        with pytest.raises(InvalidValue, match="proxy"):
            routerfix.get_driver("linksys")("192.0.2.1", proxy=bad)
    driver = routerfix.get_driver("linksys")("192.0.2.1", proxy="http://me:s3cret@192.0.2.9:3128")
    assert str(driver.http.proxy) == "http://192.0.2.9:3128"
    assert "s3cret" not in repr(driver.options) + repr(driver.http.proxy) + repr(driver)


def test_trust_error_never_goes_around_the_proxy(device: SimulatedDevice, proxy: TunnelProxy) -> None:
    """The certificate is not fetched over a direct connection for the message (the device answers directly here,
    so a look-up around the proxy would name its real fingerprint)."""
    assert device.port is not None
    proxy.routes[("127.0.0.1", device.port)] = device.port
    with pytest.raises(TrustError) as caught:
        routerfix.connect("linksys", "127.0.0.1", **options(device, proxy, tls_fingerprint=WRONG_PIN)).open()
    assert str(device.options["tls_fingerprint"]).split(":")[-1] not in str(caught.value)
