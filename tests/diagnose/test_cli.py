"""``routerfix diagnose``: exit codes, JSON that follows the shipped schema, and text from packets shown as text."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import dpkt
import pytest

from routerfix.cli import main
from routerfix.diagnose import SCHEMA_PATH, diagnose

DATA = Path(__file__).parent / "data"


def _validate(data: dict[str, object]) -> None:
    schema = json.loads(SCHEMA_PATH.read_text())
    try:
        import jsonschema
    except ImportError:  # structural check where jsonschema is not installed
        assert set(schema["required"]) <= set(data)
        return
    jsonschema.validate(data, schema)


@pytest.mark.parametrize(("name", "code"), [("lo-legit.pcap", 0), ("lo-scan-blocked.pcap", 0),
                                            ("lo-scan-reaching.pcapng", 7), ("lo-no-sip.pcap", 8)])
def test_json_output_and_exit_code(name: str, code: int, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagnose", str(DATA / name), "--json"]) == code
    data = json.loads(capsys.readouterr().out)
    _validate(data)
    assert data["exit_code"] == code


def test_mitigated_flag_exit_5(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagnose", str(DATA / "lo-scan-reaching.pcapng"), "--mitigated", "--json"]) == 5
    assert "replace the router" in json.loads(capsys.readouterr().out)["next_step"].lower()


def test_missing_file_is_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagnose", str(tmp_path / "nope.pcap")]) == 2


def test_unreadable_file_only_is_a_failure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junk = tmp_path / "junk.txt"
    junk.write_text("hello\n")
    assert main(["diagnose", str(junk), "--json"]) == 1
    assert "not a packet capture" in json.loads(capsys.readouterr().out)["error"]["message"]


def test_limits_are_stated(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagnose", str(DATA / "lo-scan-reaching.pcapng"), "--json", "--max-packets", "5"]) in (0, 7, 8)
    data = json.loads(capsys.readouterr().out)
    _validate(data)
    assert data["limits"]["max_packets"] == 5
    assert data["limits_reached"] == ["max_packets"]
    assert data["files"][0]["packets"] == 5


HOSTILE_UA = "[bold red]pwn[/bold red] \x1b[2J\x1b]0;title\x07 <script>alert(1)</script> \u202eevil"


def _hostile_capture(path: Path) -> None:
    """A capture with one hand-made INVITE whose User-Agent and From carry markup and terminal escapes."""
    message = (f"INVITE sip:100@192.168.88.100 SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.166:5060;branch=z9hG4bK1\r\n"
               f"From: \"[link=file:///etc]x[/link]\" <sip:1000@198.51.100.166>;tag=1\r\nTo: <sip:100@x>\r\n"
               f"Call-ID: hostile\r\nCSeq: 1 INVITE\r\nUser-Agent: {HOSTILE_UA}\r\nContent-Length: 0\r\n\r\n")
    udp = dpkt.udp.UDP(sport=5060, dport=5060, data=message.encode())
    udp.ulen = len(udp)
    ip = dpkt.ip.IP(src=socket.inet_aton("198.51.100.166"), dst=socket.inet_aton("192.168.88.100"), p=17, data=udp)
    ip.len = len(ip)
    with path.open("wb") as handle:
        writer = dpkt.pcap.Writer(handle, linktype=dpkt.pcap.DLT_RAW)
        writer.writepkt(bytes(ip), ts=1_700_000_000.0)


def test_text_from_packets_is_never_markup(tmp_path: Path) -> None:
    capture = tmp_path / "hostile.pcap"
    _hostile_capture(capture)
    done = subprocess.run([sys.executable, "-m", "routerfix.cli", "diagnose", str(capture)], capture_output=True,
                          text=True, timeout=60, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 7, done.stdout + done.stderr  # no provider learned, but caller ID 1000: a scan
    assert "[bold red]pwn[/bold red]" in done.stdout
    assert "[link=file:///etc]x[/link]" in done.stdout
    assert "\x1b[2J" not in done.stdout and "\x1b]0;" not in done.stdout and "\u202e" not in done.stdout


def test_html_is_escaped(tmp_path: Path) -> None:
    capture = tmp_path / "hostile.pcap"
    _hostile_capture(capture)
    page = diagnose([capture])._repr_html_()
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "\x1b" not in page and "\u202e" not in page


def test_terminal_table_names_the_verdict_evidence_and_limits() -> None:
    from rich.console import Console

    console = Console(record=True, width=100, color_system=None)
    console.print(diagnose([DATA / "lo-scan-reaching.pcapng"]))
    text = console.export_text()
    assert "scan-reaching-phone" in text and "routerfix mitigate" in text
    assert "requests from elsewhere: 198.51.100.166" in text and "friendly-scanner" in text
    assert "max_packets=5000000" in text


def test_notebook_html_for_a_clean_site() -> None:
    page = diagnose([DATA / "lo-legit.pcap"])._repr_html_()
    assert "no-scan" in page and "Alice Example" in page and "requests from elsewhere" not in page


def test_zero_limit_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagnose", str(DATA / "lo-legit.pcap"), "--max-packets", "0"]) == 2
