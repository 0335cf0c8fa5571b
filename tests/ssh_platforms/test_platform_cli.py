"""The simulated CLIs behave like the devices (prompts, paging, error texts, commit/save, staging), and the
drivers turn device refusals into DeviceError carrying the device's own words."""

from __future__ import annotations

from typing import Any

import pytest
from routerfix.simulators._vyatta.shell import VyattaSession
from routerfix.simulators.cisco_ios.shell import IosRouter, IosSession
from routerfix.simulators.openwrt.shell import OpenWrtRouter, OpenWrtSession
from routerfix.simulators.vyos.device import make_router as make_vyos

import routerfix
from routerfix.errors import DeviceError
from routerfix.model import PortForward

from .conftest import config_text, connect

# --- Cisco IOS --------------------------------------------------------------------------------------


def test_ios_errors_prompts_and_paging() -> None:
    router = IosRouter()
    s = IosSession(router)
    assert s.prompt() == "R1#"
    assert s.execute("show ip nat foo") == " " * len("R1#show ip nat ") + \
        "^\n% Invalid input detected at '^' marker.\n"
    assert s.execute("show") == "% Incomplete command.\n\n"
    page = s.execute("show running-config")
    assert len(page.rstrip("\n").split("\n")) == 23 and s.prompt() == " --More-- "
    assert s.execute("") != "" and s.prompt() == " --More-- "  # Enter: one more line
    s.execute("q")
    assert s.prompt() == "R1#"
    s.execute("configure terminal")
    assert s.prompt() == "R1(config)#"
    s.execute("ip dhcp pool X")
    assert s.prompt() == "R1(dhcp-config)#"
    assert "% Invalid input" in s.execute("hardware-address zz")
    s.execute("end")
    assert s.prompt() == "R1#"


def test_ios_write_memory_survives_reload_and_unsaved_does_not() -> None:
    router = IosRouter()
    s = IosSession(router)
    for line in ("configure terminal", "no ip nat service sip udp port 5060", "end"):
        s.execute(line)
    router.reload()
    assert "no ip nat service sip" not in router.render()
    for line in ("configure terminal", "no ip nat service sip udp port 5060", "end", "write memory"):
        s.execute(line)
    router.reload()
    assert "no ip nat service sip udp port 5060" in router.render()


def test_ios_driver_raises_the_device_words(sim: Any) -> None:
    with sim("cisco_ios") as device, connect(device) as driver:
        with pytest.raises(DeviceError) as caught:
            driver.send("show ip nat bogus")  # type: ignore[attr-defined]
        assert caught.value.device_message == "% Invalid input detected at '^' marker."
        with pytest.raises(DeviceError) as clash:  # a second static rule on the same global port
            driver.add_port_forward(PortForward("routerfix-sip-tcp-8443", "tcp", 8443, "192.168.1.77"))
        assert "similar static entry" in clash.value.device_message
        assert driver.session.last_prompt == "R1#", "left in configuration mode after a refusal"
        assert "192.168.1.77" not in device.handle.router.render()


def test_ios_enable_from_user_level(sim: Any) -> None:
    with sim("cisco_ios", privilege=1) as device, connect(device) as driver:
        assert driver.session.last_prompt == "R1#"
        assert routerfix.apply_ghostcall_mitigation(driver).status == "mitigated"
    sent = device.handle.device.commands
    assert "enable" in sent and sent.index("enable") < sent.index("show running-config")


def test_ios_xe_binding_columns(sim: Any) -> None:
    with sim("cisco_ios", xe=True) as device, connect(device) as driver:
        assert driver.facts().firmware.startswith("IOS-XE 17")
        assert len(driver.list_leases()) == 3


# --- VyOS / EdgeOS ----------------------------------------------------------------------------------


def test_vyos_commit_save_exit_texts() -> None:
    router = make_vyos()
    s = VyattaSession(router, "vyos")
    assert s.prompt() == "vyos@vyos:~$ "
    s.execute("configure")
    assert s.prompt() == "[edit]\nvyos@vyos# "
    assert s.execute("set nat destination rule 5 bogus 1") == \
        "\n  Configuration path: [nat destination rule 5 bogus] is not valid\n  Set failed\n\n"
    assert "Delete failed" in s.execute("delete nat destination rule 77")
    s.execute("delete system conntrack modules sip")
    assert s.execute("exit").startswith("Cannot exit: configuration modified.")
    assert s.execute("commit") == ""
    assert s.execute("exit") == "Warning: configuration changes have not been saved.\nexit\n"
    router.reboot()
    assert router.has(("system", "conntrack", "modules", "sip")), "an unsaved commit survived a reboot"
    s.execute("configure")
    s.execute("delete system conntrack modules sip")
    s.execute("commit")
    assert s.execute("save") == "Saving configuration to '/config/config.boot'...\nDone\n"
    s.execute("exit")
    router.reboot()
    assert not router.has(("system", "conntrack", "modules", "sip"))


def test_vyos_candidate_dies_with_its_session(sim: Any) -> None:
    with sim("vyos") as device:
        before = config_text("vyos", device.handle)
        with connect(device) as driver:
            driver.send("configure")  # type: ignore[attr-defined]
            driver.send("delete system conntrack modules sip")  # type: ignore[attr-defined]
        assert config_text("vyos", device.handle) == before


@pytest.mark.parametrize("platform", ["vyos", "edgeos"])
def test_vyatta_commit_failure_is_reported_and_discarded(platform: str, sim: Any) -> None:
    with sim(platform) as device, connect(device) as driver:
        before = config_text(platform, device.handle)
        prefix = "set nat destination rule 7" if platform == "vyos" else "set service nat rule 7"
        with pytest.raises(DeviceError) as caught:
            driver._commit([f"{prefix} description 'half-made'"])  # type: ignore[attr-defined]
        assert caught.value.device_message == "Commit failed"
        assert driver.session.last_prompt.endswith("$"), "left in configuration mode"
        assert config_text(platform, device.handle) == before
        with pytest.raises(DeviceError) as bad:
            driver._commit(["set nat nonsense 1"])  # type: ignore[attr-defined]
        assert "is not valid" in bad.value.device_message


@pytest.mark.parametrize("platform", ["vyos", "edgeos"])
def test_vyatta_refused_line_in_a_block_discards_the_whole_candidate(platform: str, sim: Any) -> None:
    with sim(platform) as device, connect(device) as driver:
        before = config_text(platform, device.handle)
        good = "delete system conntrack modules sip" if platform == "vyos" else \
            "set system conntrack modules sip disable"
        with pytest.raises(DeviceError) as caught:
            driver._commit(["set nat nonsense 1", good])  # type: ignore[attr-defined]
        assert "is not valid" in caught.value.device_message
        assert driver.session.last_prompt.endswith("$"), "left in configuration mode"
        assert config_text(platform, device.handle) == before
        assert sorted(device.handle.router.running) == sorted(device.handle.router.saved)
        sent = device.handle.device.commands
        assert sent[sent.index("set nat nonsense 1"):] == ["set nat nonsense 1", good, "exit discard"], \
            "a refused candidate must leave with exit discard, never commit"


def test_edgeos_paging_and_prompt() -> None:
    from routerfix.simulators.edgeos.device import make_router as make_edge

    s = VyattaSession(make_edge(), "ubnt")
    assert s.prompt() == "ubnt@ubnt:~$ "
    first = s.execute("show configuration commands")
    assert len(first.rstrip("\n").split("\n")) == 23 and s.prompt() == ":"
    s.execute("q")
    assert s.execute("terminal length 0") == "" and s.prompt() == "ubnt@ubnt:~$ "
    assert len(s.execute("show configuration commands").split("\n")) > 24


# --- OpenWrt -----------------------------------------------------------------------------------------


def test_openwrt_uci_staging_and_errors() -> None:
    router = OpenWrtRouter()
    s = OpenWrtSession(router)
    assert s.prompt() == "root@OpenWrt:~# "
    assert s.execute("uci get firewall.nosuch.x") == "uci: Entry not found\n"
    assert s.execute("uci set dhcp.lan.limit='50'; echo $?") == "0\n"
    assert s.execute("uci changes dhcp") == "dhcp.lan.limit='50'\n"
    assert OpenWrtSession(router).execute("uci get dhcp.lan.limit") == "50\n", "staged changes are per device"
    router.reboot()
    assert s.execute("uci get dhcp.lan.limit") == "150\n", "staged changes survived a reboot"
    assert s.execute("uci delete dhcp.nosuch && echo never") == "uci: Entry not found\n"
    assert s.execute("bogus") == "-ash: bogus: not found\n"


def test_openwrt_driver_refuses_to_commit_someone_elses_changes(sim: Any) -> None:
    with sim("openwrt") as device:
        OpenWrtSession(device.handle.router).execute("uci set firewall.@zone[0].input='REJECT'")
        with connect(device) as driver:
            with pytest.raises(DeviceError) as caught:
                routerfix.apply_ghostcall_mitigation(driver)
            assert "firewall" in caught.value.device_message
        assert device.handle.router.changes["firewall"] == ["firewall.@zone[0].input='REJECT'"]
        assert not any(s.id == "routerfix_sip" for s in device.handle.router.committed["firewall"])


def test_openwrt_refusal_commits_nothing(sim: Any) -> None:
    with sim("openwrt") as device, connect(device) as driver:
        before = config_text("openwrt", device.handle)
        with pytest.raises(DeviceError) as caught:
            driver._write(("firewall",), ["uci set firewall.routerfix_x=redirect",  # type: ignore[attr-defined]
                                          "uci delete firewall.nosuch"], "")
        assert caught.value.device_message == "uci: Entry not found"
        assert config_text("openwrt", device.handle) == before
        assert not device.handle.router.staged, "a refused change was left staged"


def test_ios_enable_secret_never_in_an_error(sim: Any) -> None:
    from routerfix.drivers.cisco_ios import CiscoIosDriver

    from routerfix.errors import TransportError

    from .conftest import FAST

    with sim("cisco_ios", privilege=1) as device:
        driver = CiscoIosDriver(device.host, timeouts=FAST, **device.connect_options())
        device.handle.device.drop_after(2)  # enable, <the secret>: dropped (the terminal settings come later)
        with pytest.raises(TransportError) as caught:
            driver._open_once()  # one attempt (open() would retry and succeed)
        driver.close()
        assert device.password not in str(caught.value) and device.password not in repr(caught.value.args)
