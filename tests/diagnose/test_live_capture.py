"""``routerfix diagnose --capture``: a live capture on the router's WAN and LAN sides over the driver's SSH session,
against the Linux simulator (real SSH), then diagnosed like files. The namespace lab (tests/lab, test 9) runs the
same command against a real router with a real scan."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from routerfix.simulators.linux.device import simulate

import routerfix
from routerfix.cli import main
from routerfix.diagnose import SCHEMA_PATH, diagnose
from routerfix.diagnose.live import MAX_SECONDS, diagnose_live
from routerfix.diagnose.tcpdump import capture_command, decode_pcap
from routerfix.errors import InvalidValue, UnsupportedOperation
from routerfix.simulate import SimulatedDevice


def _validate(data: dict[str, object]) -> None:
    import jsonschema

    jsonschema.validate(data, json.loads(SCHEMA_PATH.read_text()))


@pytest.fixture
def router() -> Iterator[SimulatedDevice]:
    with simulate() as device:
        yield device


def _cli(device: SimulatedDevice, *extra: str) -> subprocess.CompletedProcess[str]:
    options = [arg for key, value in device.options.items() for arg in ("-o", f"{key}={value}")]
    argv = [sys.executable, "-m", "routerfix.cli", "diagnose", "--driver", "linux", "--host", device.host,
            "--port", str(device.port), "-u", device.username, "--no-prompt", *options, *extra]
    env = {**os.environ, "ROUTERFIX_PASSWORD": device.password}
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)


def test_cli_captures_both_sides_and_finds_the_scan_reaching_the_phone(router: SimulatedDevice) -> None:
    done = _cli(router, "--capture", "6", "--json")
    assert done.returncode == 7, done.stderr
    data = json.loads(done.stdout)
    _validate(data)
    assert data["verdict"] == "scan-reaching-phone"
    assert data["scanners"][0]["address"] == "198.51.100.166"
    assert "198.51.100.10" in data["site"]["providers"]
    capture = data["capture"]
    assert [(s["side"], s["interface"]) for s in capture["sides"]] == [("wan", "wan0"), ("lan", "br-lan")]
    assert capture["removed_from_device"] is True and capture["saved"] is None
    assert all(s["note"].endswith("packets captured") for s in capture["sides"])
    assert [f["kind"] for f in data["files"]] == ["capture", "capture"]
    state = router.handle.model.capture
    assert state.captures == 2 and not state.directories and not state.savefiles
    assert not [p for p in router.handle.model.files if p.startswith("/tmp/routerfix-capture-")]


def test_after_the_fix_the_scan_arrives_and_goes_nowhere(router: SimulatedDevice, tmp_path: Path) -> None:
    with routerfix.connect("linux", router.host, **router.connect_options()) as driver:
        routerfix.apply_ghostcall_mitigation(driver)
        result = diagnose_live(driver, 4, max_packets=50, mitigated=True, save_to=tmp_path)
    assert (result.verdict, result.exit_code) == ("scan-arriving-blocked", 0)
    assert result.capture is not None and len(result.capture["saved"]) == 2
    assert result.capture["mitigation_found"] is True
    assert result.classes.get("scan-reaching-phone") is None
    # the saved files are ordinary pcaps: the offline diagnose of them says the same
    assert diagnose(sorted(tmp_path.iterdir()), mitigated=True).verdict == "scan-arriving-blocked"


def test_packet_bound_is_passed_to_tcpdump(router: SimulatedDevice) -> None:
    with routerfix.connect("linux", router.host, **router.connect_options()) as driver:
        taken = driver.capture(30, max_packets=3)
    assert [s.note for s in taken.sides] == ["3 packets captured", "3 packets captured"]
    assert "-c 3" in taken.method and "timeout 30 " in taken.method


def test_without_tcpdump_the_refusal_says_how_to_install_it() -> None:
    with simulate() as device:
        device.handle.model.capture.installed = False
        with routerfix.connect("linux", device.host, **device.connect_options()) as driver, \
                pytest.raises(UnsupportedOperation) as caught:
            driver.capture(5, max_packets=10)
        assert not device.handle.model.capture.directories
    message = str(caught.value)
    assert "tcpdump" in message and "apt-get install tcpdump" in message and "pass the file" in message


def test_a_driver_without_capture_names_the_option_and_the_alternative(capsys: pytest.CaptureFixture[str]) -> None:
    with routerfix.connect("memory", "site-a", password="admin") as driver, \
            pytest.raises(UnsupportedOperation) as caught:
        driver.capture(5, max_packets=10)
    assert "--capture" in str(caught.value) and "SPAN" in str(caught.value)
    assert main(["diagnose", "--driver", "memory", "--host", "site-a", "--no-prompt", "--capture", "5"]) == 1
    assert "--capture" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["diagnose"], ["diagnose", "--capture", "5"],
                                  ["diagnose", "--driver", "linux", "--host", "h", "--capture", str(MAX_SECONDS + 1)],
                                  ["diagnose", "--driver", "linux", "--host", "h", "--capture", "5",
                                   "--capture-packets", "0"]])
def test_usage_errors_touch_no_router(argv: list[str]) -> None:
    assert main(argv) == 2


def test_decoding_refuses_what_is_not_a_base64_pcap() -> None:
    with pytest.raises(ValueError, match="not base64"):
        decode_pcap("bash: base64: command not found", "wan")
    with pytest.raises(ValueError, match="not a pcap"):
        decode_pcap("aGVsbG8gd29ybGQ=", "wan")
    with pytest.raises(ValueError, match="not an interface"):
        capture_command("/tmp/x", [("wan", "eth0; reboot")], 5, 10)  # type: ignore[list-item]
    with pytest.raises(InvalidValue):
        from routerfix.diagnose.live import check_bounds

        check_bounds(float("nan"), 10)


def test_openwrt_without_tcpdump_says_the_opkg_step_and_with_it_captures() -> None:
    from routerfix.simulators.openwrt.device import simulate as simulate_openwrt

    with simulate_openwrt() as device:
        state = device.handle.router
        with routerfix.connect("openwrt", device.host, **device.connect_options()) as driver:
            with pytest.raises(UnsupportedOperation, match="opkg update && opkg install tcpdump coreutils-timeout "
                                                           "coreutils-base64"):
                driver.capture(5, max_packets=10)
            state.capture.installed = True
            result = diagnose_live(driver, 4, max_packets=100)
        assert not state.capture.directories and not state.capture.savefiles
    assert (result.verdict, result.exit_code) == ("scan-reaching-phone", 7)
    assert result.capture is not None
    assert [(s["side"], s["interface"]) for s in result.capture["sides"]] == [("wan", "wan"), ("lan", "br-lan")]


def test_the_terminal_view_says_where_it_captured(router: SimulatedDevice) -> None:
    done = _cli(router, "--capture", "2")
    assert done.returncode == 7, done.stderr
    assert "live capture" in done.stdout and "wan wan0" in done.stdout and "nothing left on the router" in done.stdout


def test_after_the_fix_the_mitigation_is_read_from_the_router_and_a_scan_reaching_a_phone_means_replace() -> None:
    with simulate() as device:
        with routerfix.connect("linux", device.host, **device.connect_options()) as driver:
            applied = routerfix.apply_ghostcall_mitigation(driver)
            # a failing NAT: an inbound flow from the scanner still maps to the phone after the fix
            device.handle.model.conntrack.append({
                "protocol": "udp", "src": "198.51.100.166", "dst": "203.0.113.2", "sport": "5060", "dport": "5060",
                "reply_src": "192.168.88.100", "reply_dst": "198.51.100.166", "reply_sport": "5060",
                "reply_dport": "5060"})
            result = diagnose_live(driver, 3, max_packets=50)
    assert result.capture is not None and result.capture["mitigation_found"] is True
    assert (result.verdict, result.mitigated, result.exit_code) == ("scan-reaching-phone", True, 5)
    assert result.site.sinks == [str(applied.plan.sink)], "the sink the router's forwards point at was not read"
