"""Undo records (routerfix.records): atomic saves, names that never collide, keys with the port, the chain
across runs, and what the CLI's --save adds."""

from __future__ import annotations

import itertools
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import Lease, router
from routerfix.drivers.memory.driver import MemoryRouter

import routerfix
from routerfix import NatMode, PortForward, records
from routerfix.enums import Operation
from routerfix.planner import managed_view
from routerfix.records import DeviceKey, Journal, JournalStatus, atomic_write, load_record, record_name, undo_chain

ROUTERFIX = [sys.executable, "-m", "routerfix.cli"]


def connect_port(r: MemoryRouter, port: int | None, host: str = "shared-wan") -> routerfix.Driver:
    return routerfix.connect("memory", host, password="admin", router=r, port=port)


def view(r: MemoryRouter) -> list[str]:
    with connect_port(r, None, f"v-{id(r):x}") as d:
        return managed_view(d.read_state())


def test_atomic_write_is_private_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    path = atomic_write(tmp_path / "state" / "r.json", '{"a": 1}\n')
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert sorted(p.name for p in path.parent.iterdir()) == ["r.json"]


def test_atomic_write_skips_a_temporary_name_left_by_a_killed_writer(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A process killed between creating its temporary file and renaming it leaves the file; a later process with
    the same id (ids come back) must neither reuse nor truncate it, nor fail."""
    import itertools

    from routerfix import records

    monkeypatch.setattr(records, "_TEMPORARY_NUMBERS", itertools.count())
    leftovers = [tmp_path / f".r.json.{os.getpid()}-{n}.tmp" for n in (0, 1)]
    for left in leftovers:
        left.write_text("half a record\n")
    path = atomic_write(tmp_path / "r.json", "whole\n")
    assert path.read_text() == "whole\n"
    assert [p.read_text() for p in leftovers] == ["half a record\n"] * 2
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([p.name for p in leftovers] + ["r.json"])


def test_atomic_write_is_not_stopped_by_names_planted_ahead(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Someone who can write to the directory and guesses the next names (process id and counter) cannot make
    the save fail: after the first name taken, the names carry a random part."""
    import itertools

    from routerfix import records

    monkeypatch.setattr(records, "_TEMPORARY_NUMBERS", itertools.count())
    for n in range(500):
        (tmp_path / f".r.json.{os.getpid()}-{n}.tmp").write_text("planted\n")
    assert atomic_write(tmp_path / "r.json", "whole\n").read_text() == "whole\n"
    assert len(list(tmp_path.iterdir())) == 501


def test_threads_saving_at_once_never_share_a_temporary_file(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def save(i: int) -> None:
        for n in range(25):
            atomic_write(tmp_path / f"r{i}.json", f"{i}:{n}\n")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(save, range(8)))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"r{i}.json" for i in range(8))
    assert all((tmp_path / f"r{i}.json").read_text() == f"{i}:24\n" for i in range(8))


def test_a_save_that_dies_midway_leaves_the_previous_file_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                                ) -> None:
    path = atomic_write(tmp_path / "r.json", "old\n")

    def dies(fd: int) -> None:
        raise KeyboardInterrupt  # the process is stopped between writing and renaming

    monkeypatch.setattr(os, "fsync", dies)
    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, "new content that never lands\n")
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def begun(directory: Path, steps: int = 1) -> Journal:
    """A journal after its first save: a plan of ``steps`` SIP ALG changes."""
    journal = Journal(directory, DeviceKey("memory", "h"), Operation.MITIGATE)
    journal.begin({"nat_mode": "open"}, [{"kind": "set_sip_alg"}] * steps, [{"kind": "set_sip_alg"}] * steps)
    return journal


def test_the_journal_is_compact_json_lines_saved_private(tmp_path: Path) -> None:
    """One compact line per save (json's C encoder: the journal is saved after every batch of every router), the
    last line the record."""
    r = router()
    with connect_port(r, None) as d:
        done = routerfix.apply_ghostcall_mitigation(d, state_dir=tmp_path / "state")
    path = Path(str(done.record_file))
    lines = path.read_text().splitlines(keepends=True)
    assert len(lines) >= 3  # begin, the steps, the result
    assert all(line == json.dumps(json.loads(line), separators=(",", ":")) + "\n" for line in lines)
    assert [json.loads(line)["journal"] for line in lines] == ["applying"] * (len(lines) - 1) + ["done"]
    assert json.loads(lines[-1]) == load_record(path) and load_record(path)["status"] == "mitigated"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_every_journal_line_is_the_record_as_it_was_at_that_save(tmp_path: Path) -> None:
    """The parts a journal repeats unchanged are encoded once; a part replaced (the result's own ``undo`` at the
    end) is written as it is now, never as an earlier save encoded it."""
    journal = Journal(tmp_path, DeviceKey("memory", "h"), Operation.MITIGATE)
    seen = []
    journal.begin({"nat_mode": "open"}, [{"kind": "set_sip_alg"}], [{"kind": "set_sip_alg", "enabled": True}])
    seen.append(json.loads(json.dumps(journal.data)))
    journal.steps_done([0])
    seen.append(json.loads(json.dumps(journal.data)))
    journal.finish(JournalStatus.DONE, {"status": "mitigated", "undo": [{"kind": "other"}], "before": "not kept"})
    seen.append(json.loads(json.dumps(journal.data)))
    assert [json.loads(line) for line in journal.path.read_text().splitlines()] == seen
    assert seen[-1]["undo"] == [{"kind": "other"}] and seen[-1]["before"] == {"nat_mode": "open"}
    assert seen[1]["steps_done"] == [0] and seen[-1]["journal"] == "done"


def test_only_the_first_journal_save_creates_a_file_the_later_ones_append_fsynced(tmp_path: Path,
                                                                                   monkeypatch: pytest.MonkeyPatch
                                                                                   ) -> None:
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b))[1])
    journal = begun(tmp_path)
    assert events == ["fsync", "replace", "fsync"]  # the file before the rename, the directory after it
    inode = journal.path.stat().st_ino
    journal.step_done(0)
    assert load_record(journal.path)["steps_done"] == [0] and load_record(journal.path)["journal"] == "applying"
    journal.finish(JournalStatus.DONE)
    assert events == ["fsync", "replace", "fsync", "fsync", "fsync"]  # each append is fsynced; no rename
    assert journal.path.stat().st_ino == inode and [p.name for p in tmp_path.iterdir()] == [journal.path.name]
    assert load_record(journal.path)["journal"] == "done" and load_record(journal.path)["steps_done"] == [0]


@pytest.mark.parametrize("tail", [b'{"record_version":2,"journ', b"\x00" * 512, b'{"a":1', b"\xc3", b"\xff\xfe{",
                                  b"7\n", b"[1]\n", b'{"a":1}\n', b'{"record_version":2}x', b"2026-12-06 old log\n"])
def test_a_save_torn_by_a_kill_or_a_crash_leaves_the_previous_version(tmp_path: Path, tail: bytes) -> None:
    journal = begun(tmp_path)
    journal.step_done(0)
    with journal.path.open("ab") as handle:
        handle.write(tail)  # part of the next save, or what a crash left past the end
    record = load_record(journal.path)
    assert record["steps_done"] == [0] and record["journal"] == "applying"


def test_a_journal_of_many_batches_is_rewritten_whole_instead_of_growing_past_the_limit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(records, "JOURNAL_REWRITE_AT", 12_000)  # four or five saves of this record
    journal = begun(tmp_path, steps=50)
    sizes, lines = [], []
    for index in range(50):
        journal.step_done(index)
        sizes.append(journal.path.stat().st_size)
        lines.append(journal.path.read_text().count("\n"))
    assert max(sizes) <= 12_000 and max(lines) > 2  # appended between the rewrites
    assert sum(1 for a, b in itertools.pairwise(sizes) if b < a) >= 5  # and rewritten whole, shorter, again and again
    assert load_record(journal.path)["steps_done"] == list(range(50))
    assert [p.name for p in tmp_path.iterdir()] == [journal.path.name]


@pytest.mark.parametrize("gone", ["record", "directory", "link"])
def test_a_record_removed_or_replaced_mid_run_is_saved_again_whole(tmp_path: Path, gone: str) -> None:
    state = tmp_path / "state"
    journal = begun(state)
    journal.path.unlink()
    if gone == "directory":
        state.rmdir()
    elif gone == "link":
        (tmp_path / "elsewhere").write_text("not routerfix's\n")
        journal.path.symlink_to(tmp_path / "elsewhere")
    journal.step_done(0)  # never a failed run for it: the whole record again, atomically (as the first save)
    assert journal.path.is_file() and not journal.path.is_symlink()
    if gone == "link":
        assert (tmp_path / "elsewhere").read_text() == "not routerfix's\n"  # the link was replaced, not followed
    assert load_record(journal.path)["steps_done"] == [0]
    assert stat.S_IMODE(journal.path.stat().st_mode) == 0o600


def test_a_failed_append_is_followed_by_a_whole_atomic_save(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    journal = begun(tmp_path)
    real_write = os.write

    def torn(fd: int, data: bytes) -> int:
        real_write(fd, bytes(data[:10]))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", torn)
    with pytest.raises(OSError):
        journal.step_done(0)
    monkeypatch.setattr(os, "write", real_write)
    assert load_record(journal.path)["steps_done"] == []  # the torn line is skipped
    journal.finish(JournalStatus.DONE)
    assert journal.path.read_text().count("\n") == 1  # rewritten whole: the torn line is gone
    assert load_record(journal.path)["journal"] == "done" and load_record(journal.path)["steps_done"] == [0]


def test_a_record_written_indented_by_earlier_versions_still_undoes(tmp_path: Path) -> None:
    state = tmp_path / "state"
    r = router(forwards=[PortForward("old-pbx", "udp", "5060", "192.168.1.10")])
    before = view(r)
    with connect_port(r, None) as d:
        done = routerfix.apply_ghostcall_mitigation(d, state_dir=state, replace_conflicting=True)
    path = Path(str(done.record_file))
    path.write_text(json.dumps(load_record(path), indent=2) + "\n")  # how records were written before
    assert path.read_text().startswith('{\n  "')
    with connect_port(r, None) as d:
        undone = routerfix.remove_ghostcall_mitigation(d, state_dir=state)
    assert undone.status == "undone" and undone.plan.extra["records"] == [str(path)]
    assert view(r) == before


def test_record_names_never_collide() -> None:
    key = DeviceKey("memory", "10.0.0.1", 8022)
    names = {record_name(key, "mitigate") for _ in range(2000)}
    assert len(names) == 2000


def test_an_empty_or_damaged_newer_file_does_not_hide_the_older_record(tmp_path: Path) -> None:
    state = tmp_path / "state"
    r = router()
    with connect_port(r, None) as d:
        done = routerfix.apply_ghostcall_mitigation(d, state_dir=state)
    key = DeviceKey("memory", "shared-wan", None)
    (state / record_name(key, "mitigate")).write_text("")  # a torn save of an older routerfix
    (state / record_name(key, "mitigate")).write_text("{not json")
    chain = undo_chain(state, key)
    assert [str(p) for p, _ in chain] == [done.record_file]
    with connect_port(r, None) as d:
        undone = routerfix.remove_ghostcall_mitigation(d, state_dir=state)
    assert undone.status == "undone" and r.nat_mode is NatMode.OPEN and r.sip_alg is True and not r.forwards


def test_records_are_keyed_by_port_two_routers_behind_one_address(tmp_path: Path) -> None:
    """Router B (port 2222) had a PBX forward replaced; undo on router A (port 22) must not replay B's record."""
    state = tmp_path / "state"
    a = router()
    b = router(forwards=[PortForward("old-pbx", "udp", "5060", "192.168.1.10")])
    before_a = view(a)
    with connect_port(a, 22) as d:
        routerfix.apply_ghostcall_mitigation(d, state_dir=state)
    with connect_port(b, 2222) as d:
        routerfix.apply_ghostcall_mitigation(d, state_dir=state, replace_conflicting=True)
    with connect_port(a, 22) as d:
        routerfix.remove_ghostcall_mitigation(d, state_dir=state)
    assert view(a) == before_a
    assert not any(f.name == "old-pbx" for f in a.forwards)
    with connect_port(b, 2222) as d:
        routerfix.remove_ghostcall_mitigation(d, state_dir=state)
    assert [f.name for f in b.forwards] == ["old-pbx"]


def test_a_record_of_another_port_is_refused(tmp_path: Path) -> None:
    r = router()
    with connect_port(r, 22) as d:
        done = routerfix.apply_ghostcall_mitigation(d, state_dir=tmp_path)
    with connect_port(r, 2222) as d, pytest.raises(routerfix.StateFileError, match="2222"):
        routerfix.remove_ghostcall_mitigation(d, record=done.record_file)


def test_undo_after_a_rerun_that_moved_the_sink_restores_the_state_before_the_first_run(tmp_path: Path) -> None:
    state = tmp_path / "state"
    r = router(sip_alg=True, nat_mode=NatMode.OPEN)
    before = view(r)
    with connect_port(r, None) as d:
        first = routerfix.apply_ghostcall_mitigation(d, state_dir=state)
    sink = first.plan.sink
    r.leases.append(Lease(str(sink), "00:11:22:33:44:55", "new-phone"))  # the sink is in use now
    with connect_port(r, None) as d:
        second = routerfix.apply_ghostcall_mitigation(d, state_dir=state)
    assert second.changed and second.plan.sink != sink
    with connect_port(r, None) as d:
        trace: list[str] = []
        add = d.add_port_forward
        d.add_port_forward = lambda f: (trace.append(str(f.internal_address)), add(f))[1]  # type: ignore[method-assign]
        undone = routerfix.remove_ghostcall_mitigation(d, state_dir=state)
    assert undone.status == "undone"
    assert str(sink) not in trace  # never forwards SIP to the address now in use
    assert view(r) == before
    assert undone.plan.extra["records"] == [first.record_file, second.record_file]
    with connect_port(r, None) as d:  # the chain ended with that undo: a second undo changes nothing
        assert routerfix.remove_ghostcall_mitigation(d, state_dir=state).status == "nothing_to_undo"


def test_undo_after_replace_conflicting_puts_the_forward_back(tmp_path: Path) -> None:
    r = router(forwards=[PortForward("old-pbx", "udp", "5060", "192.168.1.10")])
    before = view(r)
    with connect_port(r, None) as d:
        routerfix.apply_ghostcall_mitigation(d, state_dir=tmp_path, replace_conflicting=True)
    with connect_port(r, None) as d:
        routerfix.remove_ghostcall_mitigation(d, state_dir=tmp_path)
    assert view(r) == before


def test_undo_and_rollback_restore_a_replaced_forward_under_its_own_name_byte_for_byte(tmp_path: Path) -> None:
    # the memory router stores names as data (Driver.check_restore_name allows spaces there): "PBX SIP" must come
    # back as "PBX SIP", not the device-safe "PBX_SIP", after undo and after a rollback
    r = router(forwards=[PortForward("PBX SIP", "udp", "5060", "192.168.1.10")])
    before = view(r)
    with connect_port(r, None) as d:
        done = routerfix.apply_ghostcall_mitigation(d, state_dir=tmp_path, replace_conflicting=True)
    record = load_record(Path(str(done.record_file)))
    assert [f["name"] for f in record["before"]["forwards"]] == ["PBX SIP"]           # stored verbatim
    with connect_port(r, None) as d:
        routerfix.remove_ghostcall_mitigation(d, state_dir=tmp_path)
    assert [f.name for f in r.forwards] == ["PBX SIP"] and view(r) == before
    with routerfix.connect("memory", "rollback-names", password="admin", router=r,
                           fail={"add_port_forward": "device@1"}) as d, pytest.raises(routerfix.DeviceError):
        routerfix.apply_ghostcall_mitigation(d, replace_conflicting=True)
    assert [f.name for f in r.forwards] == ["PBX SIP"] and view(r) == before


def test_a_result_dict_is_a_complete_record() -> None:
    r = router()
    with connect_port(r, 8022) as d:
        data = routerfix.apply_ghostcall_mitigation(d).to_dict()
    assert data["port"] == 8022 and data["before"]["nat_mode"] == "open" and data["planned"]
    assert load_record(json.dumps(data))["record_version"] == 2


def cli(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ROUTERFIX_PASSWORD": "admin", "ROUTERFIX_STATE_DIR": str(tmp_path / "state")}
    return subprocess.run([*ROUTERFIX, *args], env=env, capture_output=True, text=True, timeout=60)


def test_save_adds_a_copy_and_the_state_dir_keeps_its_record(tmp_path: Path) -> None:
    conn = ["--driver", "memory", "--host", "site-b", "--no-prompt", "-o", f"state_file={tmp_path / 'r.json'}"]
    out = cli(["mitigate", *conn, "--yes", "--json", "--save", str(tmp_path / "copy.json")], tmp_path)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    kept = Path(data["saved_to"])
    assert kept.parent == tmp_path / "state" and kept.exists()
    assert load_record(tmp_path / "copy.json")["before"] == load_record(kept)["before"]
    assert (tmp_path / "copy.json").read_text().startswith('{\n  "')  # the copy a person reads is indented
    assert all(line.startswith('{"') for line in kept.read_text().splitlines())  # the journal: compact lines
    undo = cli(["undo", *conn, "--yes", "--json"], tmp_path)
    assert undo.returncode == 0, undo.stderr
    assert json.loads(undo.stdout)["records"] == [str(kept)]
