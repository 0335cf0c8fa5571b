"""Field report 10 against the Debian router simulator: several dnsmasq processes (docs/facts/linux.md L10-L13)."""

from __future__ import annotations

import pytest
from routerfix.simulators._hosts.ssh import SSHSimulatorHost

import routerfix
from routerfix.errors import UnsupportedOperation
from routerfix.simulate import simulate

from .conftest import connect

SINK_LINE = "02:00:5e:c0:50:60,"


def test_the_lan_interface_picks_its_dnsmasq(ssh_host: SSHSimulatorHost) -> None:
    """``pidof`` lists the guest LAN's dnsmasq first; ``lan_interface=br-lan`` picks the one serving br-lan."""
    with simulate("linux", host=ssh_host, scenario="multi") as device:
        router = device.handle.model
        guest, container = router.other_dnsmasq
        with connect(device, lan_interface="br-lan") as driver:
            result = routerfix.apply_ghostcall_mitigation(driver)
        assert result.status == "mitigated" and str(result.plan.sink).startswith("192.168.88.")
        assert SINK_LINE in router.files["/etc/dnsmasq.hosts"] and router.reloads == 1
        assert SINK_LINE in router.loaded_hosts
        for other in (guest, container):
            assert other.reloads == 0
            assert SINK_LINE not in router.files[other.hostsfile or ""]


def test_two_lans_without_a_hint_are_refused_with_a_fix_that_works_verbatim(ssh_host: SSHSimulatorHost) -> None:
    with simulate("linux", host=ssh_host, scenario="multi") as device:
        router = device.handle.model
        with connect(device) as driver, pytest.raises(UnsupportedOperation) as info:
            routerfix.apply_ghostcall_mitigation(driver)
        message = str(info.value)
        assert "dnsmasq_pid=812 " in message and "dnsmasq_pid=1650 " in message
        assert "2301" not in message, "the container's dnsmasq (another network namespace) is no candidate"
        assert "lan_interface=br-lan" in message and "lan_interface=br-guest" in message
        assert router.reloads == 0 and all(d.reloads == 0 for d in router.other_dnsmasq)
        assert router.table("ip", "routerfix") is None, "nothing written"
        # the option exactly as the message spells it
        hint = next(part for part in message.split() if part.startswith("dnsmasq_pid=812"))
        key, _, value = hint.partition("=")
        with connect(device, **{key: value}) as driver:
            assert routerfix.apply_ghostcall_mitigation(driver).status == "mitigated"
        assert SINK_LINE in router.files["/etc/dnsmasq.hosts"] and router.reloads == 1


def test_a_container_dnsmasq_is_skipped_without_options(ssh_host: SSHSimulatorHost) -> None:
    """The container's dnsmasq is listed first and claims ``--interface=br-lan`` in its own namespace."""
    with simulate("linux", host=ssh_host, scenario="container") as device:
        router = device.handle.model
        assert router.other_dnsmasq[0].pid == 2301
        with connect(device) as driver:
            result = routerfix.apply_ghostcall_mitigation(driver)
        assert result.status == "mitigated"
        assert router.reloads == 1 and router.other_dnsmasq[0].reloads == 0
        assert router.files["/etc/ctr.hosts"] == ""
