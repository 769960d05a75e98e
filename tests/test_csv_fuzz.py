"""The CSV reader fuzzed end to end through the CLI's code path: one line, never a traceback.

Every input goes through ``monitor.cli.main(["replay", path, "--speed", "max"])`` in-process:
the file is read, replayed through the engine, summarised. The only acceptable outcomes are
exit 0 (something was replayed; bad rows reported by line) and exit 2 (nothing could be; one
line). Two generators: hypothesis builds files from a grammar of what loggers write and what
breaks parsers; a seeded mutation fuzzer damages real logger files (tests/corpus/loggers/).
An input that raises is saved under tests/corpus/csv/ (commit it: the regression test below
replays every file kept there). ``CG_FUZZ_ROUNDS`` scales the mutation rounds.
"""

from __future__ import annotations

import hashlib
import os
import random
import traceback
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.cli import main

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus" / "csv"
LOGGERS = HERE / "corpus" / "loggers"
EXAMPLE = HERE.parent / "monitor" / "data" / "example-breach.csv"
ROUNDS = int(os.environ.get("CG_FUZZ_ROUNDS", "25"))

CELLS = ["0", "1", "-1", "23.5", "23,5", "-0", "1e300", "-1e300", "1e-300", "nan", "NaN",
         "inf", "-inf", "1e999", "", " ", "OPEN", "short", "ERR", "OVER", "x", '"', '""',
         '"12,5"', "2025-03-14T08:30:00Z", "2025-03-14 08:30:00.5", "14-03-2025 08:30:00",
         "31-12-2024 23:59:59", "12/31/2024 10:00:00", "10:00:00", "23:59:59", "00:00:01",
         "99:99:99", "12:05", "9999-12-31T23:59:59", "0001-01-01T00:00:00", "1700000000",
         "°C", "(V)", "(°F)", "\u2212 5", "−5", "١٢", "\x00", "\x1b[2J", "9" * 400,
         "1.5.6", "0x10", "1_000", "+", "-", ".", ",", ";", "\t"]
HEADERS = ["t", "channel", "temp_c", "status", "time", "label", "role", "T1 (°C)", "T2 (°F)",
           "Ch (V)", "Temp [degC]", "K (K)", "Date/Time", "timestamp", "No.", "Event",
           "Date", "Time", "A", "B", "B", "", "record time", "(ms)", "Time1"]


def replay_exit(path: Path) -> tuple[int, str]:
    """Exit status of ``cryoguard replay PATH --speed max``; any exception is a failure that
    keeps the input."""
    try:
        code = main(["replay", str(path), "--speed", "max", "--quiet"])
    except BaseException as exc:  # anything at all is a crash
        keep = CORPUS / f"crash-{hashlib.sha256(path.read_bytes()).hexdigest()[:12]}.csv"
        CORPUS.mkdir(parents=True, exist_ok=True)
        keep.write_bytes(path.read_bytes())
        pytest.fail(f"replay raised {type(exc).__name__}: {exc}; input kept as {keep}\n"
                    + traceback.format_exc())
    return code, ""


def check(path: Path, capsys: pytest.CaptureFixture[str]) -> int:
    code, _ = replay_exit(path)
    err = capsys.readouterr().err
    assert code in (0, 2), err
    assert "Traceback" not in err
    if code == 2:
        lines = [line for line in err.splitlines() if line.startswith("cryoguard replay: ")]
        assert len(lines) == 1
    return code


separators = st.sampled_from([",", ";", "\t", ", ", "|"])
rows = st.lists(st.lists(st.sampled_from(CELLS), min_size=0, max_size=7), max_size=25)


@st.composite
def csv_files(draw: st.DrawFn) -> str:
    sep = draw(separators)
    preamble = draw(st.lists(st.text(max_size=30), max_size=3))
    header = draw(st.lists(st.sampled_from(HEADERS), min_size=1, max_size=6))
    body = draw(rows)
    if draw(st.booleans()):  # times that rise, as a real file's do, to reach deeper code
        body = [[f"{i * draw(st.sampled_from([0.1, 1.0, 5.0])):g}", *r]
                for i, r in enumerate(body)]
    lines = [*preamble, sep.join(header), *(sep.join(r) for r in body)]
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    return newline.join(lines) + draw(st.sampled_from(["", newline]))


@settings(max_examples=int(os.environ.get("CG_EXAMPLES", "150")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=csv_files())
def test_generated_files_replay_or_give_one_line(text: str, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "f.csv"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    check(path, capsys)


@settings(max_examples=int(os.environ.get("CG_EXAMPLES", "100")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300))
def test_arbitrary_bytes_replay_or_give_one_line(data: bytes, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "b.csv"
    path.write_bytes(b"t,A,B\n" + data)
    check(path, capsys)


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One to four damages of the kinds files suffer: cut, doubled, swapped or edited lines,
    changed separators, stray bytes, absurd numbers."""
    lines = data.split(b"\n")
    for _ in range(rng.randint(1, 4)):
        kind = rng.randrange(9)
        i = rng.randrange(len(lines))
        if kind == 0:
            del lines[i]
        elif kind == 1:
            lines.insert(i, lines[rng.randrange(len(lines))])
        elif kind == 2:
            j = rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        elif kind == 3:
            cells = lines[i].split(b",")
            cells[rng.randrange(len(cells))] = rng.choice(CELLS).encode("utf-8")
            lines[i] = b",".join(cells)
        elif kind == 4:
            lines[i] = lines[i].replace(rng.choice([b",", b";", b"\t", b":"]),
                                        rng.choice([b",", b";", b"\t", b"", b",,"]))
        elif kind == 5:
            at = rng.randrange(len(lines[i]) + 1)
            lines[i] = lines[i][:at] + bytes(rng.randrange(256) for _ in range(3)) + \
                lines[i][at:]
        elif kind == 6:
            lines = lines[:i + 1]
            lines[-1] = lines[-1][:rng.randrange(len(lines[-1]) + 1)]
        elif kind == 7:
            lines[i] = lines[i].replace(b"0", rng.choice([b"1e300", b"nan", b"-9", b"9" * 30]),
                                        1)
        else:
            lines.insert(i, rng.choice([b"", b"#", b"\xef\xbb\xbf", b"\x00", b'"', b";;;"]))
        if not lines:
            lines = [b""]
    return b"\n".join(lines)


SEEDS = [*sorted(LOGGERS.glob("*.csv")), EXAMPLE]


@pytest.mark.parametrize("seed_file", SEEDS, ids=lambda p: p.name)
def test_mutated_logger_files_replay_or_give_one_line(
        seed_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = random.Random(seed_file.name)
    original = seed_file.read_bytes()
    if len(original) > 20000:  # keep each round fast: the head of the file
        original = original[:20000].rsplit(b"\n", 1)[0] + b"\n"
    for round_no in range(ROUNDS):
        path = tmp_path / f"m{round_no}.csv"
        path.write_bytes(mutate(original, rng))
        check(path, capsys)


@pytest.mark.parametrize("kept", sorted(CORPUS.glob("*.csv")), ids=lambda p: p.name)
def test_every_kept_crash_input_now_replays_or_gives_one_line(
        kept: Path, capsys: pytest.CaptureFixture[str]) -> None:
    check(kept, capsys)
