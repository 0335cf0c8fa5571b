"""The ``--json`` outputs follow the JSON Schemas shipped in ``routerfix/schemas`` (Draft 2020-12): real outputs of
show, plan, mitigate, undo, fleet, detect and of a failure, from simulators, validated with jsonschema."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from routerfix.cli import main
from routerfix.schemas import SCHEMA_DIR, SCHEMAS, schema
from routerfix.simulate import simulate


def _validate(name: str, data: Any) -> None:
    jsonschema.Draft202012Validator(schema(name), format_checker=jsonschema.FormatChecker()).validate(data)


def _json(capsys: pytest.CaptureFixture[str], argv: list[str], code: int = 0) -> Any:
    got = main(argv)
    out = capsys.readouterr()
    assert got == code, out.err
    return json.loads(out.out)


def test_every_schema_is_a_valid_draft_2020_12_schema() -> None:
    assert sorted(p.name for p in SCHEMA_DIR.glob("*.schema.json")) == sorted(f"{n}.schema.json" for n in SCHEMAS)
    for name in SCHEMAS:
        document = schema(name)
        assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        jsonschema.Draft202012Validator.check_schema(document)


def test_a_schema_rejects_what_it_should() -> None:
    with pytest.raises(jsonschema.ValidationError):
        _validate("detect", {"host": "h", "status": "maybe", "driver": None, "candidates": [], "seen": [],
                             "elapsed_s": 0})


@pytest.fixture(scope="module")
def mikrotik() -> Iterator[Any]:
    with simulate("mikrotik") as device:
        yield device


def _conn(device: Any) -> list[str]:
    return ["--driver", device.driver, "--host", device.host, "--port", str(device.port), "--username",
            device.username, "--no-prompt", *[x for k, v in device.options.items() for x in ("-o", f"{k}={v}")]]


def test_single_device_outputs(mikrotik: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ROUTERFIX_PASSWORD", mikrotik.password)
    conn = [*_conn(mikrotik), "--json"]
    state = ["--state-dir", str(tmp_path)]
    _validate("show", _json(capsys, ["show", *conn]))
    _validate("plan", _json(capsys, ["plan", *conn]))
    first = _json(capsys, ["mitigate", *conn, *state, "--yes"])
    assert first["status"] == "mitigated"
    _validate("mitigate", first)
    again = _json(capsys, ["mitigate", *conn, *state, "--yes"])
    assert again["status"] == "unchanged"
    _validate("mitigate", again)
    _validate("plan", _json(capsys, ["plan", *conn]))
    undone = _json(capsys, ["undo", *conn, *state, "--yes"])
    assert undone["status"] == "undone"
    _validate("undo", undone)
    monkeypatch.setenv("ROUTERFIX_PASSWORD", "Wrong-Pass-123")
    _validate("error", _json(capsys, ["show", *conn], code=3))


def test_show_of_a_web_device(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    with simulate("netgear") as device:
        monkeypatch.setenv("ROUTERFIX_PASSWORD", str(device.password.reveal()
                                                     if hasattr(device.password, "reveal") else device.password))
        _validate("show", _json(capsys, ["show", *_conn(device), "--json"]))


def test_detect_outputs(mikrotik: Any, capsys: pytest.CaptureFixture[str]) -> None:
    found = _json(capsys, ["detect", mikrotik.host, "--port", str(mikrotik.port), "--json"])
    assert found["status"] == "identified"
    _validate("detect", found)


def test_fleet_report(fleet_inventory: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = _json(capsys, ["fleet", "plan", str(fleet_inventory), "--json", "--state-dir", str(tmp_path)], code=1)
    assert {h["status"] for h in report["hosts"]} >= {"planned", "failed"}
    assert report["rerun_command"].startswith(f"routerfix fleet plan {fleet_inventory} --only-failed ")
    _validate("fleet", report)
    _validate("fleet", json.loads(Path(report["report_file"]).read_text()))
