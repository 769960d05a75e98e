"""A mutation fuzzer for session files, end to end through the CLI's own code path.

Each case copies a valid session file, damages it one way — byte flips, truncation, a page of
noise (the SQLite file itself), or SQL-level mutations: a random value of a random type into a
column, deleted rows, a dropped or loosened table, bad meta — and runs ``cryoguard replay``,
``export`` (and sometimes ``report``) in process through :func:`monitor.cli.main`. A case
passes when the command exits 0 (it read what it could) or 2 (one line naming the problem) and
nothing escaped as an exception. Anything else is a crash: ``tests/test_session_fuzz.py`` runs a
seeded few hundred cases; long runs while developing::

    .venv/bin/python -m tests.session_fuzz --cases 3000 --seed 1 --save tests/corpus/sessions

saves every crashing input (``crash-<seed>-<case>.cgsession``) for the regression corpus.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import random
import shutil
import sqlite3
import sys
import tempfile
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TABLE_COLUMNS = {
    "meta": ("key", "value"),
    "channels": ("num", "id", "label", "role", "device", "device_index", "tc_type",
                 "configured"),
    "readings": ("seq", "t", "channel", "temp_c", "status"),
    "inputs": ("seq", "t", "kind", "payload"),
    "events": ("seq", "t", "type", "json"),
}
META_KEYS = ("schema_version", "started", "config", "t_end", "station", "closed_cleanly",
             "ended", "readings_written")


def make_base(path: Path) -> None:
    """A small valid session: a breach through the real recorder, with every input kind."""
    from monitor.report.simulated import record_scenario

    inputs: list[tuple[float, str, dict[str, Any]]] = [
              (30.0, "ack", {"alarm": None, "by": "fuzz"}),
              (40.0, "mark", {"mark": "freeze", "by": "fuzz"}),
              (50.0, "pause", {"by": "fuzz"}),
              (60.0, "intervention", {"kind": "co2", "by": "fuzz"}),
              (70.0, "note", {"text": "needle moved", "by": "fuzz"}),
              (80.0, "device.lost", {"device": "sim", "reason": "unplugged"}),
              (85.0, "device.connected", {"device": "sim", "detail": "back"}),
              (90.0, "device.bad_data", {"device": "sim", "detail": "x"}),
              (95.0, "ack", {"alarm": "N1.below_warning", "by": "fuzz"})]
    record_scenario(path, "demo", seed=3, rate_hz=1.0, inputs=inputs)


def random_value(rng: random.Random) -> Any:
    """A value of a random type, often one that means trouble downstream."""
    choices: list[Any] = [
        None, 0, 1, -1, 7, 2 ** 31, 2 ** 62, -(2 ** 63), 10 ** 18, 0.5, -273.16, 1e300, -1e300,
        float("inf"), float("-inf"), 1e-320, "", "x", "abc", "1e999", "NaN", "-Infinity",
        "2026-13-45T99:00:00", "0001-01-01T00:00:00", "9999-12-31T23:59:59Z", "{", "[]", "null",
        '{"t": "x", "type": 1}', '{"t": 1e999}', '{"t": 1, "type": "alarm.raised", '
        '"value": "hot"}', '{"alarm": 5, "by": [], "mark": {}, "kind": 3}',
        '{"a": ' + "1" * 400 + "}", "[" * 5000, b"\x00\xff", bytes(rng.randrange(256)
                                                                  for _ in range(8)),
        "\x1b[2J\x07", "N1", "P1", "ok", "OPEN", "𝄞" * 3, rng.random() * 1e6,
        rng.randrange(-10, 200), "{\"station\": {\"name\": 5}}",
        '{"roles": {"nerve": {"below_critical": {"trip_c": ' + "9" * 300 + "}}}}",
        '{"roles": {"nerve": {"below_critical": {"trip_c": 1e308}}}}',
        '{"trend": {"window_s": -1}}',
    ]
    return rng.choice(choices)


def _tables(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]


def _loosen(conn: sqlite3.Connection, table: str) -> None:
    """The same table without types or constraints, so any value fits (as damage allows)."""
    cols = ", ".join(TABLE_COLUMNS.get(table, ("a",)))
    conn.execute(f"CREATE TABLE loose_{table} ({cols})")
    conn.execute(f"INSERT INTO loose_{table} SELECT * FROM {table}")
    conn.execute(f"DROP TABLE {table}")
    conn.execute(f"ALTER TABLE loose_{table} RENAME TO {table}")


def sql_mutation(path: Path, rng: random.Random) -> str:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=DELETE")
        tables = [t for t in _tables(conn) if t in TABLE_COLUMNS]
        done: list[str] = []
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            kind = rng.choice(("value", "value", "value", "loose-value", "delete", "drop",
                               "meta", "meta", "meta-delete", "app-id", "channel"))
            table = rng.choice(tables or ["meta"])
            try:
                if kind in ("value", "loose-value"):
                    if kind == "loose-value":
                        _loosen(conn, table)
                    column = rng.choice(TABLE_COLUMNS[table])
                    value = random_value(rng)
                    conn.execute(f"UPDATE {table} SET {column} = ? WHERE rowid IN (SELECT rowid"
                                 f" FROM {table} ORDER BY random() LIMIT ?)",
                                 (value, rng.choice((1, 1, 3))))
                    done.append(f"{kind} {table}.{column}={value!r:.40}")
                elif kind == "delete":
                    conn.execute(f"DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM "
                                 f"{table} ORDER BY random() LIMIT ?)", (rng.randrange(1, 5),))
                    done.append(f"delete rows of {table}")
                elif kind == "drop":
                    conn.execute(f"DROP TABLE {table}")
                    done.append(f"drop {table}")
                elif kind == "meta":
                    key = rng.choice(META_KEYS)
                    value = random_value(rng)
                    if rng.random() < 0.5:
                        _loosen(conn, "meta")
                    conn.execute("UPDATE meta SET value = ? WHERE key = ?", (value, key))
                    done.append(f"meta {key}={value!r:.40}")
                elif kind == "meta-delete":
                    key = rng.choice(META_KEYS)
                    conn.execute("DELETE FROM meta WHERE key = ?", (key,))
                    done.append(f"delete meta {key}")
                elif kind == "app-id":
                    conn.execute(f"PRAGMA application_id={rng.choice((0, 1, 0x43475330))}")
                    done.append("application_id")
                else:
                    num = rng.choice((-1, 3, 99, 70_000, 10 ** 9))
                    conn.execute("UPDATE channels SET num = ? WHERE num = 1", (num,))
                    done.append(f"channel num 1 -> {num}")
            except sqlite3.Error:
                continue  # a constraint refused it: that damage cannot happen this way
        return "sql: " + "; ".join(done)
    finally:
        conn.close()


def byte_mutation(path: Path, rng: random.Random) -> str:
    data = bytearray(path.read_bytes())
    kind = rng.choice(("flip", "flip", "truncate", "noise", "zero"))
    if kind == "flip":
        count = rng.choice((1, 2, 8, 64))
        for _ in range(count):
            k = rng.randrange(len(data))
            data[k] ^= 1 << rng.randrange(8)
        what = f"flip {count} bit(s)"
    elif kind == "truncate":
        size = rng.randrange(len(data))
        del data[size:]
        what = f"truncate at {size}"
    else:
        start = rng.randrange(len(data))
        length = rng.choice((16, 512, 4096))
        chunk = (bytes(length) if kind == "zero"
                 else bytes(rng.randrange(256) for _ in range(length)))
        data[start:start + length] = chunk[:max(0, len(data) - start)]
        what = f"{kind} {length} bytes at {start}"
    path.write_bytes(bytes(data))
    return f"bytes: {what}"


def mutate(base: Path, target: Path, rng: random.Random) -> str:
    shutil.copyfile(base, target)
    if rng.random() < 0.35:
        return byte_mutation(target, rng)
    return sql_mutation(target, rng)


@dataclass
class Outcome:
    command: str
    status: int | None
    stderr: str
    crash: str = ""  # the traceback when something escaped


def run_cli(args: list[str]) -> Outcome:
    """``cryoguard ARGS`` in this process, as the console script runs it."""
    from monitor.cli import main

    out, err = io.StringIO(), io.StringIO()
    status: int | None = None
    crash = ""
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(args)
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            crash = traceback.format_exc()
    return Outcome(args[0], status, err.getvalue(), crash)


def problems(outcome: Outcome) -> list[str]:
    """Why an outcome is a failure of the contract (empty when it is fine)."""
    found: list[str] = []
    if outcome.crash:
        found.append(f"{outcome.command}: exception escaped\n{outcome.crash}")
    elif outcome.status not in (0, 2):
        found.append(f"{outcome.command}: exit status {outcome.status}: {outcome.stderr[-300:]}")
    if "Traceback" in outcome.stderr:
        found.append(f"{outcome.command}: a traceback on stderr")
    if outcome.status == 2:
        prefix = f"cryoguard {outcome.command}: "  # the error line names its command once
        lines = [line for line in outcome.stderr.splitlines() if line.startswith(prefix)]
        if len(lines) != 1:
            found.append(f"{outcome.command}: not one {prefix!r} line: {outcome.stderr!r:.300}")
    return found


def run_case(session: Path, work: Path, *, report: bool) -> list[str]:
    """Every command on one (damaged) session file; the problems found."""
    found: list[str] = []
    found += problems(run_cli(["replay", str(session), "--quiet", "--events-out",
                               str(work / "replay.jsonl")]))
    found += problems(run_cli(["export", str(session), "--format", "csv", "--out",
                               str(work / "export.csv")]))
    if report:
        found += problems(run_cli(["report", str(session), "--out", str(work / "report")]))
    for leftover in work.iterdir():
        if leftover.is_dir():
            shutil.rmtree(leftover)
        else:
            leftover.unlink()
    return found


def fuzz(base: Path, cases: int, seed: int, work: Path, *, report_every: int = 0,
         save: Path | None = None, verbose: bool = False) -> list[tuple[int, str, list[str]]]:
    """Run ``cases`` mutations of ``base``; the crashing ones (case, mutation, problems)."""
    crashes: list[tuple[int, str, list[str]]] = []
    rng = random.Random(seed)
    out = work / "out"
    out.mkdir(exist_ok=True)
    for case in range(cases):
        target = work / f"case-{case}.cgsession"
        what = mutate(base, target, rng)
        report = bool(report_every) and case % report_every == 0
        found = run_case(target, out, report=report)
        if found:
            crashes.append((case, what, found))
            if save is not None:
                save.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(target, save / f"crash-{seed}-{case}.cgsession")
            if verbose:
                print(f"case {case}: {what}\n  " + "\n  ".join(found), file=sys.__stderr__)
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(str(target) + suffix).unlink(missing_ok=True)
    return crashes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--report-every", type=int, default=25)
    parser.add_argument("--save", type=Path, default=None)
    parser.add_argument("--memory-gb", type=float, default=6.0,
                        help="address-space limit: a runaway allocation is a crash too")
    args = parser.parse_args()
    import resource

    limit = int(args.memory_gb * 2 ** 30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        base = work / "base.cgsession"
        make_base(base)
        crashes = fuzz(base, args.cases, args.seed, work, report_every=args.report_every,
                       save=args.save, verbose=True)
    places: dict[str, int] = {}
    for _case, _what, found in crashes:
        for text in found:
            last = [line for line in text.splitlines() if line.startswith('  File "')]
            key = last[-1].strip() if last else text.splitlines()[0]
            places[key] = places.get(key, 0) + 1
    print(f"{len(crashes)} crashing case(s) of {args.cases}; {len(places)} place(s):")
    for place, count in sorted(places.items(), key=lambda x: -x[1]):
        print(f"  {count:5d}  {place}")


if __name__ == "__main__":
    main()
