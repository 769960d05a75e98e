"""``cryoguard summary``: one row per session and nerve channel, figures from the engine replay.

Sessions are recorded by the real recorder from scenario traces (monitor/report/simulated.py)
with interventions and notes recorded as operator inputs. The intervention figures are checked
against a plain loop over the recorded readings, written independently of the report code.
"""

from __future__ import annotations

import csv
import math
import stat
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

from monitor.cli import main
from monitor.model import Status
from monitor.report.data import Series, load_report_data, nerve_effect
from monitor.report.simulated import Input, record_scenario
from monitor.sessions.reader import open_session
from simulators.scenarios import SCENARIOS


def injections(name: str, by: str = "dr-a") -> list[Input]:
    """The scenario's own CO2/saline injections, recorded as the operator's marks."""
    trace = SCENARIOS[name].generate(seed=1, rate_hz=2.0)
    return [(e.start_s, "intervention", {"kind": e.kind, "by": by}) for e in trace.events
            if e.kind in ("co2", "saline")]


@pytest.fixture(scope="module")
def series(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("series")
    plans: dict[str, list[Input]] = {
        "co2-rescue": [*injections("co2-rescue"), (30.0, "note", {"text": "needle in place",
                                                                  "by": "dr-a"})],
        "warm-saline": injections("warm-saline"),
        "breach": [(400.0, "intervention", {"kind": "co2", "by": "dr-b"}),
                   (1079.0, "intervention", {"kind": "saline", "by": "dr-b"})],
        "demo": [],
    }
    out = {}
    for name, inputs in plans.items():
        out[name] = folder / f"{name}.cgsession"
        record_scenario(out[name], name, rate_hz=2.0, inputs=inputs)
    return out


def by_hand(session: Path, channel: str, t: float) -> tuple[float | None, ...]:
    """Reading at t, 60 s later and the lowest between, from the raw recorded readings."""
    with open_session(session) as s:
        cols = s.columns()
        code = s.channel_names.index(channel)
    rows = [(float(tt), float(v)) for tt, c, v, st in zip(cols.t, cols.channel, cols.temp_c,
                                                          cols.status, strict=True)
            if c == code and st == Status.OK]
    at = [v for tt, v in rows if tt <= t]
    later = [v for tt, v in rows if tt <= t + 60.0]
    between = [v for tt, v in rows if t <= tt <= t + 60.0]
    ends = rows[-1][0] if rows else -math.inf
    return (at[-1] if at else None, later[-1] if later and ends >= t + 60.0 else None,
            min(between) if between else None)


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_one_row_per_session_and_nerve_channel_with_the_reports_figures(
        series: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cohort" / "series.csv"
    assert main(["summary", *map(str, series.values()), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "5 row(s) from 4 of 4 session(s)" in captured.err
    assert "co2-rescue.cgsession" in captured.out  # the terminal table
    rows = read_rows(out)
    assert [(r["session"], r["channel"]) for r in rows] == [
        ("co2-rescue.cgsession", "N1"), ("warm-saline.cgsession", "N1"),
        ("breach.cgsession", "N1"), ("demo.cgsession", "N1"), ("demo.cgsession", "N2")]
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    for row in rows:
        session = series[row["session"].removesuffix(".cgsession")]
        data = load_report_data(session)
        with open_session(session) as s:
            recorded = [e for e in s.events() if e["type"] == "alarm.raised"
                        and e.get("channel") == row["channel"]]
        assert row["station"] == "ct-suite-sim" and row["date"] == "2025-03-14"
        assert float(row["duration_s"]) == data.duration_s
        assert int(row["cycles"]) == len(data.cycles) >= 1
        stats = next(s for s in data.channel_stats if s.channel == row["channel"])
        assert float(row["min_c"]) == pytest.approx(stats.min_c, abs=1e-3)
        assert float(row["critical_c"]) == 10.0
        assert float(row["s_at_or_below_critical"]) == pytest.approx(stats.below[1][1], abs=1e-3)
        # Alarms by condition: the recording's own, counted independently.
        for condition in {e["condition"] for e in recorded}:
            assert int(row[f"alarms_{condition}"]) == sum(
                e["condition"] == condition for e in recorded), condition
        assert sum(int(v) for k, v in row.items() if k.startswith("alarms_")) == len(recorded)


def test_intervention_effects_match_the_recorded_readings(
        series: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "s.csv"
    assert main(["summary", str(series["co2-rescue"]), str(series["breach"]),
                 "--out", str(out)]) == 0
    rows = {r["session"]: r for r in read_rows(out)}
    co2 = rows["co2-rescue.cgsession"]
    (t, kind, _by), = [(i[0], i[2]["kind"], i[2]["by"]) for i in injections("co2-rescue")]
    assert co2["interventions"] == "1" and co2["intervention_kinds"] == kind == "co2"
    assert float(co2["first_intervention_t_s"]) == t
    expected = by_hand(series["co2-rescue"], "N1", t)
    got = tuple(float(co2[k]) for k in ("temp_at_first_intervention_c",
                                        "temp_60s_after_first_intervention_c",
                                        "lowest_60s_after_first_intervention_c"))
    assert got == pytest.approx(expected, abs=1e-3)
    # CO2 stopped the fall above 10 °C (the scenario's point): the lowest stays above it.
    assert 10.0 < got[2] <= 16.0
    # The team injected at about 15 °C, before the lagging needle raised its warning.
    warning = float(co2["first_warning_t_s"])
    assert float(co2["warning_to_intervention_s"]) == pytest.approx(t - warning, abs=1e-3)
    breach = rows["breach.cgsession"]
    assert breach["intervention_kinds"] == "co2,saline"
    assert float(breach["warning_to_intervention_s"]) == pytest.approx(
        400.0 - float(breach["first_warning_t_s"]), abs=1e-3)
    # The saline at 1079 s: the recording ends within 60 s, so no "60 s later".
    data = load_report_data(series["breach"])
    late = data.interventions[1].effect("N1")
    assert late is not None and late.temp_after_60s_c is None and late.temp_at_c is not None
    assert (late.temp_at_c, late.temp_after_60s_c, late.lowest_between_c) == pytest.approx(
        by_hand(series["breach"], "N1", 1079.0), abs=1e-9)


def test_report_data_lists_interventions_and_notes_for_the_report(
        series: dict[str, Path]) -> None:
    data = load_report_data(series["co2-rescue"])
    (row,) = data.interventions
    assert (row.kind, row.by) == ("co2", "dr-a")
    assert [n.channel for n in row.nerves] == ["N1"]  # nerve channels only, not the probe
    assert [(n.t, n.text, n.by) for n in data.notes] == [(30.0, "needle in place", "dr-a")]
    assert data.first_warning_to_intervention_s is not None
    assert data.alarm_changes and {c.change for c in data.alarm_changes} == {"same"}
    assert load_report_data(series["demo"]).first_warning_to_intervention_s is None


def test_nerve_effect_edges() -> None:
    s = Series("N1", "nerve", "", np.array([0.0, 10.0, 20.0, 70.0, 80.0]),
               np.array([30.0, np.nan, 14.0, 12.0, 20.0]), ())
    effect = nerve_effect(s, 15.0)
    assert (effect.temp_at_c, effect.temp_after_60s_c, effect.lowest_between_c) == (
        30.0, 12.0, 12.0)  # the NaN (a fault) is never a temperature
    early = nerve_effect(s, -5.0)
    assert early.temp_at_c is None and early.lowest_between_c == 14.0


def test_parquet_table_and_errors(series: dict[str, Path], tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "series.parquet"
    assert main(["summary", str(series["demo"]), "--out", str(out)]) == 0
    table = pq.read_table(out)
    assert table.num_rows == 2
    assert str(table.schema.field("alarms_below_critical").type) == "int64"
    assert str(table.schema.field("min_c").type) == "double"
    capsys.readouterr()
    junk = tmp_path / "junk.cgsession"
    junk.write_text("not a session\n")
    code = main(["summary", str(series["demo"]), str(junk)])
    err = capsys.readouterr().err
    assert code == 1 and "2 row(s) from 1 of 2 session(s)" in err
    assert err.count("cryoguard summary:") == 1 and "Traceback" not in err
    assert main(["summary", str(junk)]) == 2
    assert main(["summary", str(series["demo"]), "--out", str(tmp_path / "x.xlsx")]) == 2
    link = tmp_path / "link.csv"
    link.symlink_to(tmp_path / "elsewhere.csv")
    assert main(["summary", str(series["demo"]), "--out", str(link)]) == 0
    assert not link.is_symlink() and not (tmp_path / "elsewhere.csv").exists()


def test_summary_rows_have_every_column(series: dict[str, Path]) -> None:
    from monitor.exports.cohort import COLUMNS, session_rows

    rows: list[dict[str, Any]] = session_rows(load_report_data(series["warm-saline"]))
    assert all(list(r) == list(COLUMNS) for r in rows)
    assert rows[0]["alarms_above_critical"] >= 1  # the saline overshoot
