"""``routerfix diagnose --driver mikrotik --capture``: RouterOS's packet sniffer on the WAN and LAN interfaces into
one file, read over SFTP on the driver's own SSH connection, against the RouterOS simulator (real SSH, real SFTP).
Facts: docs/facts/mikrotik.md rows M60-M71."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from routerfix.drivers.mikrotik.capture import FILE_PREFIX, file_limit_kib, keep_packets
from routerfix.simulators.mikrotik.device import simulate
from routerfix.simulators.mikrotik.sniffer import DEFAULT_SETTINGS

import routerfix
from routerfix.diagnose import SCHEMA_PATH
from routerfix.diagnose.live import diagnose_live
from routerfix.errors import InvalidValue, RouterfixError, UnsupportedOperation
from routerfix.simulate import SimulatedDevice


@pytest.fixture(scope="module")
def router() -> Iterator[SimulatedDevice]:
    with simulate() as device:
        yield device


@pytest.fixture(autouse=True)
def _fresh(router: SimulatedDevice) -> Iterator[None]:
    sniffer = router.handle.model.sniffer
    sniffer.settings = dict(DEFAULT_SETTINGS)
    sniffer.policies = {"ssh", "read", "write", "sniff", "ftp", "test"}
    router.handle.clear_records()
    yield
    for name in sniffer.files():
        os.unlink(os.path.join(sniffer.root, name))


def _commands(router: SimulatedDevice) -> list[str]:
    return list(router.handle.commands)


def test_cli_captures_over_sftp_and_leaves_the_router_as_it_was(router: SimulatedDevice) -> None:
    logins = router.handle.logins
    env = {**os.environ, "ROUTERFIX_PASSWORD": router.password}
    done = subprocess.run([sys.executable, "-m", "routerfix.cli", "diagnose", *router.cli_args(), "--no-prompt",
                           "--capture", "5", "--json"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 7, done.stderr
    data = json.loads(done.stdout)
    import jsonschema

    jsonschema.validate(data, json.loads(SCHEMA_PATH.read_text()))
    assert data["verdict"] == "scan-reaching-phone"
    assert data["scanners"][0]["address"] == "198.51.100.166"
    capture = data["capture"]
    assert [(s["side"], s["interface"]) for s in capture["sides"]] == [("wan+lan", "ether1,bridge")]
    assert capture["sides"][0]["note"].endswith("packets captured") and capture["removed_from_device"] is True
    sniffer = router.handle.model.sniffer
    assert sniffer.settings == DEFAULT_SETTINGS and sniffer.files() == {} and sniffer.starts >= 1
    assert router.handle.logins == logins + 1  # SFTP rode on the session's own connection: no second login
    assert any(":delay 5s" in c for c in _commands(router))
    assert router.password not in done.stdout + done.stderr


def test_the_operators_sniffer_settings_come_back_exactly_and_only_our_leftovers_go(router: SimulatedDevice) -> None:
    sniffer = router.handle.model.sniffer
    own = {"file-name": "mine.pcap", "filter-ip-address": "10.0.0.9/32", "filter-direction": "rx",
           "file-limit": "50KiB", "filter-interface": "ether2"}
    sniffer.settings.update(own)
    expected = dict(sniffer.settings)
    Path(sniffer.root, "mine.pcap").write_bytes(b"operator's file")
    Path(sniffer.root, FILE_PREFIX + "0badc0de.pcap").write_bytes(b"left by an interrupted run")
    with routerfix.connect("mikrotik", router.host, **router.connect_options()) as driver:
        taken = driver.capture(3, max_packets=50)
    assert sniffer.settings == expected
    assert sniffer.files() == {"mine.pcap": len(b"operator's file")}
    assert taken.removed and not taken.notes and taken.sides[0].data[:4] == b"\xd4\xc3\xb2\xa1"


def test_bounds_reach_the_sniffer_and_the_file(router: SimulatedDevice) -> None:
    with routerfix.connect("mikrotik", router.host, **router.connect_options()) as driver:
        taken = driver.capture(30, max_packets=3)
        with pytest.raises(InvalidValue):
            driver.capture(601, max_packets=3)
    assert taken.sides[0].note == "6 packets captured"  # both sides in one file: 2 x max_packets
    assert f"file-limit={file_limit_kib(3)}KiB" in taken.method and ":delay 30s" in taken.method
    assert any(f'file-limit="{file_limit_kib(3)}KiB"' in c for c in _commands(router))
    assert keep_packets(taken.sides[0].data, 2) [1] == 2
    assert not any(":delay 601s" in c for c in _commands(router))


def test_without_the_sniff_policy_it_is_refused_and_nothing_changes(router: SimulatedDevice) -> None:
    router.handle.model.sniffer.policies.discard("sniff")
    with routerfix.connect("mikrotik", router.host, **router.connect_options()) as driver, \
            pytest.raises(UnsupportedOperation, match="'sniff' policy") as caught:
        driver.capture(5, max_packets=10)
    assert router.handle.model.sniffer.settings == DEFAULT_SETTINGS and router.handle.model.sniffer.files() == {}
    assert router.password not in str(caught.value) and "SPAN" in str(caught.value)


def test_without_sftp_it_is_refused_before_any_write(router: SimulatedDevice) -> None:
    router.handle.model.sniffer.policies.discard("ftp")
    with routerfix.connect("mikrotik", router.host, **router.connect_options()) as driver, \
            pytest.raises(UnsupportedOperation, match="refused SFTP.*'ftp' policy"):
        driver.capture(5, max_packets=10)
    assert not any(c.startswith("/tool sniffer set") for c in _commands(router))


def test_a_running_sniffer_is_left_alone(router: SimulatedDevice) -> None:
    router.handle.model.sniffer.settings["running"] = "yes"
    with routerfix.connect("mikrotik", router.host, **router.connect_options()) as driver, \
            pytest.raises(UnsupportedOperation, match="running"):
        driver.capture(5, max_packets=10)
    assert router.handle.model.sniffer.settings["running"] == "yes"
    assert not any("sniffer set" in c or "sniffer stop" in c for c in _commands(router))


def test_after_the_fix_the_scan_arrives_and_goes_nowhere() -> None:
    with simulate() as device, routerfix.connect("mikrotik", device.host, **device.connect_options()) as driver:
        routerfix.apply_ghostcall_mitigation(driver)
        result = diagnose_live(driver, 4, max_packets=50)
    assert result.capture is not None and result.capture["mitigation_found"] is True
    assert (result.verdict, result.exit_code) == ("scan-arriving-blocked", 0)


def test_the_local_scratch_directory_is_out_of_reach_of_a_linux_capture_cleanup() -> None:
    import fnmatch
    import tempfile

    from routerfix.diagnose.live import SCRATCH_PREFIX
    from routerfix.diagnose.tcpdump import PREFIX

    scratch = os.path.join(tempfile.gettempdir(), SCRATCH_PREFIX + "abc123")
    assert not fnmatch.fnmatch(scratch, PREFIX + "*")


def test_records_are_cut_to_the_snap_length_and_counted() -> None:
    from routerfix.simulators._hosts.pcap import Datagram, pcap_file

    from routerfix.diagnose.live import SNAPLEN

    big = pcap_file([Datagram(0.1, "198.51.100.166", "203.0.113.2", "X" * 5000)] * 3, snaplen=65535)
    kept, count = keep_packets(big, 2)
    assert count == 2 and len(kept) == 24 + 2 * (16 + SNAPLEN)
    assert keep_packets(b"\x0a\x0d\x0d\x0a" + b"\0" * 40, 2) == (b"\x0a\x0d\x0d\x0a" + b"\0" * 40, -1)


def test_a_capture_cut_off_before_its_clean_up_says_what_it_left_on_the_router(router: SimulatedDevice) -> None:
    """The connection drops right after the sniffer ran: the file and the settings are left, and the error says so,
    with what to do (not only why the capture failed)."""
    with routerfix.connect("mikrotik", router.host, **router.connect_options()) as driver:
        driver.capture(1, max_packets=5)
        index = next(i for i, line in enumerate(_commands(router)) if ":delay" in line)
        router.handle.clear_records()
    with routerfix.connect("mikrotik", router.host, **router.connect_options()) as driver:
        router.handle.drop_after(index + 1, executes=True)  # the connection sends nothing before the capture
        with pytest.raises(RouterfixError) as caught:
            driver.capture(1, max_packets=5)
    router.handle.knobs.drop_at = None
    left = [name for name in router.handle.model.sniffer.files() if name.startswith(FILE_PREFIX)]
    assert left, "the capture's file was removed: the case tests nothing"
    assert f"/file remove {left[0]}" in str(caught.value) and "/tool sniffer print" in str(caught.value)
