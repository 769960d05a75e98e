"""What-if replay: recorded channels keep their roles; the comparison names each alarm's shift.

Sessions are written by the real recorder from scenario traces run through the engine
(monitor/report/simulated.py), no daemon and no real time; the replays run in-process through
the CLI's code path.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.engine.spec import Condition
from monitor.model import Event, EventType, Role
from monitor.replay.whatif import compare_alarms, replay_spec, summary_lines
from monitor.report.simulated import record_scenario
from monitor.sessions.schema import ChannelInfo
from simulators.scenarios import SCENARIOS

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TOML = ROOT / "config" / "default.toml"


@pytest.fixture(scope="module")
def sessions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("whatif")
    out = {}
    for name in SCENARIOS:
        out[name] = folder / f"{name}.cgsession"
        record_scenario(out[name], name, rate_hz=1.0)
    return out


def scenario_toml(name: str, extra: str = "") -> str:
    """The scenario's own layout as a config file (what the session recorded)."""
    lines = ['[station]\nname = "ct-suite-sim"\n',
             '[[devices]]\nid = "sim"\nprotocol = "line"\nport = "/dev/ttyUSB0"\n']
    for c in SCENARIOS[name].channels:
        lines.append(f'[[channels]]\nid = "{c.id}"\nlabel = "{c.label}"\ndevice = "sim"\n'
                     f'index = {c.index}\nrole = "{c.role}"\n')
    return "".join(lines) + extra


def diff(tmp_path: Path, session: Path, config: Path,
         capsys: pytest.CaptureFixture[str]) -> tuple[list[dict[str, object]], str]:
    out = tmp_path / f"{session.stem}-{config.stem}.diff.jsonl"
    code = main(["replay", str(session), "--config", str(config), "--diff-out", str(out),
                 "--quiet"])
    err = capsys.readouterr().err
    assert code == 0, err
    return [json.loads(line) for line in out.read_text().splitlines()], err


def recorded_raises(session: Path) -> int:
    from monitor.sessions.reader import open_session

    with open_session(session) as s:
        return sum(e["type"] == "alarm.raised" for e in s.events())


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_the_recorded_config_and_the_shipped_defaults_report_no_difference(
        name: str, sessions: dict[str, Path], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    session = sessions[name]
    own = tmp_path / "own.toml"
    own.write_text(scenario_toml(name))
    # config/default.toml defines no channels: the recorded ones keep their roles, so the
    # probe does not become a nerve (the five "new" P1 alarms).
    for config in (own, DEFAULT_TOML):
        records, err = diff(tmp_path, session, config, capsys)
        assert {r["change"] for r in records} <= {"same"}, (config, records)
        assert len(records) == recorded_raises(session)
        assert "the same alarms were raised" in err
        assert all(r["shift_s"] == 0.0 for r in records)


def test_a_stricter_nerve_threshold_is_reported_earlier_with_its_shift(
        sessions: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    strict = tmp_path / "strict.toml"
    strict.write_text("[roles.nerve.below_critical]\ntrip_c = 12\nclear_c = 13\n")
    records, err = diff(tmp_path, sessions["breach"], strict, capsys)
    crit = next(r for r in records if r["alarm"] == "N1.below_critical")
    assert crit["change"] == "earlier"
    assert isinstance(crit["shift_s"], float) and crit["shift_s"] < 0
    assert isinstance(crit["recorded_t"], float) and isinstance(crit["replayed_t"], float)
    assert crit["shift_s"] == pytest.approx(crit["replayed_t"] - crit["recorded_t"], abs=1e-6)
    assert not [r for r in records if str(r["alarm"]).startswith("P1.")]  # the probe stays one
    assert not [r for r in records if r["change"] in ("appeared", "vanished")]
    assert f"N1 below critical: {-crit['shift_s']:.1f} s earlier" in err


def test_a_channel_defined_in_the_config_takes_the_configs_definition(
        sessions: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The config makes the breach scenario's probe a nerve: its cold alarms appear.
    config = tmp_path / "probe-as-nerve.toml"
    config.write_text(scenario_toml("breach").replace('role = "probe"', 'role = "nerve"'))
    records, err = diff(tmp_path, sessions["breach"], config, capsys)
    appeared = {r["alarm"] for r in records if r["change"] == "appeared"}
    assert "P1.freezing" in appeared and "P1.below_critical" in appeared
    assert "P1 freezing: appeared at" in err


def test_disabling_a_condition_makes_its_alarm_vanish(
        sessions: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "off.toml"
    config.write_text("[roles.nerve.freezing]\nenabled = false\n")
    records, err = diff(tmp_path, sessions["breach"], config, capsys)
    gone = [r for r in records if r["alarm"] == "N1.freezing"]
    assert gone and gone[0]["change"] == "vanished" and gone[0]["replayed_t"] is None
    assert gone[0]["shift_s"] is None
    assert "N1 freezing: vanished (recorded at" in err


def test_diff_out_needs_a_session_and_one_stdout(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    csv = tmp_path / "x.csv"
    csv.write_text("t,N1\n0,37\n1,36\n")
    assert main(["replay", str(csv), "--diff-out", str(tmp_path / "d.jsonl")]) == 2
    assert "no recorded alarms" in capsys.readouterr().err
    assert main(["replay", str(csv), "--diff-out", "-", "--events-out", "-"]) == 2


def raised(alarm: str, t: float) -> Event:
    return Event(t, EventType.ALARM_RAISED, {"alarm": alarm})


def test_pairing_keeps_identical_moments_and_pairs_the_rest_in_order() -> None:
    recorded = [{"type": "alarm.raised", "alarm": "N1.stale", "t": t} for t in (100.0, 300.0)]
    # A new raise before the first, the first unchanged, the second gone.
    changes = compare_alarms(recorded, [raised("N1.stale", 60.0), raised("N1.stale", 100.0)])
    assert [(c.change, c.recorded_t, c.replayed_t) for c in changes] == [
        ("appeared", None, 60.0), ("same", 100.0, 100.0), ("vanished", 300.0, None)]
    changes = compare_alarms(recorded, [raised("N1.stale", 90.0), raised("N1.stale", 310.0)])
    assert [(c.change, c.shift_s) for c in changes] == [("earlier", -10.0), ("later", 10.0)]
    assert summary_lines(changes)[0] == "against the recording: 1 earlier, 1 later"


def test_replay_spec_keeps_recorded_roles_and_config_definitions() -> None:
    from monitor.config.schema import default_config, parse_config

    recorded = [ChannelInfo("P1", "cryoprobe", Role.PROBE, "sim", 0),
                ChannelInfo("N1", "L4 right", Role.NERVE, "sim", 1),
                ChannelInfo("X9", configured=False)]
    spec = replay_spec(default_config().engine_spec(), recorded)
    roles = {c.id: (c.role, c.label, c.device, c.index) for c in spec.channels}
    assert roles == {"P1": (Role.PROBE, "cryoprobe", "sim", 0),
                     "N1": (Role.NERVE, "L4 right", "sim", 1),
                     "X9": (Role.NERVE, "", None, None)}  # first seen in data: unknown role
    assert not spec.channels[0].conditions[Condition.FREEZING].enabled
    config = parse_config({"devices": [{"id": "d", "protocol": "line", "port": "/dev/x"}],
                           "channels": [{"id": "P1", "device": "d", "index": 3,
                                         "role": "skin"}]}, "test")
    spec = replay_spec(config.engine_spec(), recorded)
    assert [(c.id, c.role) for c in spec.channels] == [
        ("P1", Role.SKIN), ("N1", Role.NERVE), ("X9", Role.NERVE)]


def test_the_recording_stations_output_faults_are_not_compared() -> None:
    """A missing sound device or a full disk at the bedside is no difference of thresholds."""
    recorded = [{"type": "alarm.raised", "alarm": "audio.output_failed", "t": 0.2},
                {"type": "alarm.raised", "alarm": "recorder.output_failed", "t": 30.0},
                {"type": "alarm.raised", "alarm": "N1.below_critical", "t": 90.0}]
    changes = compare_alarms(recorded, [raised("N1.below_critical", 90.0)])
    assert [(c.alarm, c.change) for c in changes] == [("N1.below_critical", "same")]
