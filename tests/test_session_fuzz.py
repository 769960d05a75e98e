"""Damaged session files get one line and exit 2 (or a clean 0), never a traceback.

End to end through the CLI's code path (``monitor.cli.main`` in process): ``replay``,
``export`` and ``report``. A seeded few hundred mutations run here (the fuzzer and how to run
thousands: ``tests/session_fuzz.py``); every crashing input found while developing is kept in
``tests/corpus/sessions/`` and must stay fixed. Named damage cases check the line itself.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from monitor.sessions.reader import SessionFileError, open_session
from tests.session_fuzz import fuzz, make_base, problems, run_case, run_cli

CORPUS = Path(__file__).parent / "corpus" / "sessions"
CASES = 200


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fuzz") / "base.cgsession"
    make_base(path)
    return path


def test_the_base_session_is_read_by_every_command(base: Path, tmp_path: Path) -> None:
    for args in (["replay", str(base), "--quiet"],
                 ["export", str(base), "--format", "csv", "--out", str(tmp_path / "x.csv")],
                 ["report", str(base), "--out", str(tmp_path / "report")]):
        outcome = run_cli(args)
        assert outcome.status == 0 and not problems(outcome), outcome


@pytest.mark.timeout(300)
def test_seeded_mutations_never_crash(base: Path, tmp_path: Path) -> None:
    crashes = fuzz(base, CASES, seed=20261126, work=tmp_path, report_every=100)
    assert not crashes, "\n".join(f"case {c}: {what}\n  " + "\n  ".join(found)
                                  for c, what, found in crashes[:5])


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.cgsession")), ids=lambda p: p.name)
def test_regression_corpus(path: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    copy = tmp_path / path.name  # commands must not change the corpus file
    shutil.copyfile(path, copy)
    assert run_case(copy, work, report=False) == []
    if run_cli(["replay", str(copy), "--quiet"]).status == 0:  # a readable part: report it
        assert run_case(copy, work, report=True) == []


def test_sessions_written_by_the_previous_recorder_still_replay() -> None:
    old = CORPUS / "valid" / "v1-breach-demo.cgsession"
    outcome = run_cli(["replay", str(old), "--quiet"])
    assert outcome.status == 0, outcome.stderr
    assert "replayed 946 readings" in outcome.stderr
    with open_session(old) as session:
        assert session.closed_cleanly and len(session.inputs()) == 4
        assert [i.kind for i in session.inputs()] == ["ack", "mark", "pause", "device.connected"]
        assert len(session.events()) == 24


def damaged(base: Path, tmp_path: Path, *statements: str) -> Path:
    path = tmp_path / "damaged.cgsession"
    shutil.copyfile(base, path)
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in statements:
        conn.execute(statement)
    conn.close()
    return path


LOOSE_READINGS = ("CREATE TABLE r2 (seq, t, channel, temp_c, status)",
                  "INSERT INTO r2 SELECT * FROM readings", "DROP TABLE readings",
                  "ALTER TABLE r2 RENAME TO readings")


@pytest.mark.parametrize(("statements", "line"), [
    (("UPDATE meta SET value = 'yesterday' WHERE key = 'started'",),
     "meta started is not an ISO 8601 date: 'yesterday'"),
    (("UPDATE meta SET value = '{\"trend\": NaN}' WHERE key = 'config'",),
     "meta config is not valid JSON: NaN is not a number JSON allows"),
    (("UPDATE meta SET value = '[1]' WHERE key = 'config'",), "meta config is not a JSON object"),
    (("UPDATE meta SET value = '1e999' WHERE key = 't_end'",),
     "meta t_end is not a session time in seconds: '1e999'"),
    (("DELETE FROM meta WHERE key = 'schema_version'",), "meta schema_version is missing"),
    (("DROP TABLE inputs",), "the table inputs is missing"),
    (("UPDATE readings SET channel = 7 WHERE seq = (SELECT min(seq) FROM readings)",),
     "channel 7 is not in the channel map (0..2)"),
    (("UPDATE readings SET t = 'soon' WHERE seq = (SELECT min(seq) FROM readings)",),
     "t is not a session time in seconds: 'soon'"),
    (("UPDATE readings SET t = 1e300 WHERE seq = (SELECT min(seq) FROM readings)",),
     "t is not a session time in seconds: 1e+300"),
    (("UPDATE readings SET temp_c = 9e999 WHERE seq = (SELECT min(seq) FROM readings)",),
     "temp_c is not a finite temperature: inf"),
    (("UPDATE readings SET status = 9 WHERE seq = (SELECT min(seq) FROM readings)",),
     "status 9 is not a reading status (0..5)"),
    ((*LOOSE_READINGS, "UPDATE readings SET temp_c = NULL, status = 0 "
                       "WHERE seq = (SELECT min(seq) FROM readings)"),
     "status OK without a temperature (temp_c None)"),
    (("UPDATE inputs SET payload = '{' WHERE kind = 'pause'",),
     "payload is not valid JSON"),
    (("UPDATE events SET json = '{\"type\": \"x\", \"t\": \"late\"}' "
      "WHERE seq = (SELECT min(seq) FROM events)",),
     "json t is not a session time in seconds: 'late'"),
    (("CREATE TABLE c2 (num, id, label, role, device, device_index, tc_type, configured)",
      "INSERT INTO c2 SELECT * FROM channels", "DROP TABLE channels",
      "ALTER TABLE c2 RENAME TO channels", "UPDATE channels SET id = 'P1' WHERE num = 1"),
     "id 'P1' is also channel 0"),
    (("UPDATE channels SET id = char(27) || '[2J' WHERE num = 1",), "holds control characters"),
    (("PRAGMA application_id = 0",), "is not a CryoGuard session file (another SQLite"),
])
def test_each_kind_of_damage_gets_one_line_naming_it(base: Path, tmp_path: Path,
                                                     statements: tuple[str, ...], line: str
                                                     ) -> None:
    path = damaged(base, tmp_path, *statements)
    with pytest.raises(SessionFileError) as caught, open_session(path) as session:
        session.inputs()
        session.events()
        session.columns()
    assert line in str(caught.value) and "\n" not in str(caught.value)
    outcome = run_cli(["replay", str(path)])
    assert outcome.status == 2 and line in outcome.stderr and not problems(outcome), outcome
    # export reads no inputs: damage there leaves it a clean 0 with what it reads
    outcome = run_cli(["export", str(path), "--format", "csv", "--out", str(tmp_path / "x.csv")])
    assert not problems(outcome), outcome
    assert outcome.status == (0 if "inputs row" in str(caught.value) else 2), outcome
    if outcome.status == 2:
        assert line in outcome.stderr


def test_a_truncated_file_and_a_file_of_noise(base: Path, tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.cgsession"
    truncated.write_bytes(base.read_bytes()[:20_000])
    outcome = run_cli(["export", str(truncated), "--format", "csv", "--out",
                       str(tmp_path / "x.csv")])
    assert outcome.status == 2 and "damaged" in outcome.stderr, outcome
    noise = tmp_path / "noise.cgsession"
    noise.write_bytes(bytes(range(256)) * 64)
    outcome = run_cli(["export", str(noise), "--format", "csv", "--out", str(tmp_path / "y")])
    assert outcome.status == 2 and not problems(outcome), outcome
