"""Action texts under physiological alarms: built-in defaults, site overrides, clear refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.cli import main
from monitor.config.defaults import ALARM_ACTIONS
from monitor.config.schema import DisplayConfig, parse_config
from monitor.engine.spec import Condition
from monitor.errors import ConfigError
from monitor.model import Category, Role


def test_every_built_in_key_names_a_role_and_a_physiological_condition() -> None:
    physiological = {c.value for c in Condition if c.category is Category.PHYSIOLOGICAL}
    for key, text in ALARM_ACTIONS.items():
        role, condition = key.split(".")
        assert role in {r.value for r in Role} and condition in physiological, key
        assert 0 < len(text) <= 80
    # The nerve's cold alarms all say what to do.
    for condition in ("below_warning", "below_critical", "freezing",
                      "predicted_below_critical", "falling_fast"):
        assert f"nerve.{condition}" in ALARM_ACTIONS


def test_site_texts_replace_and_empty_ones_hide() -> None:
    merged = DisplayConfig(actions={"nerve.freezing": "stop now", "below_warning": "",
                                    "nerve.below_warning": ""}).alarm_actions()
    assert merged["nerve.freezing"] == "stop now"
    assert "nerve.below_warning" not in merged and "below_warning" not in merged
    assert merged["nerve.below_critical"] == ALARM_ACTIONS["nerve.below_critical"]


@pytest.mark.parametrize(("actions", "problem"), [
    ({"nerve.bogus": "x"}, "display.actions.nerve.bogus: must name a physiological condition"),
    ({"organ.freezing": "x"}, "display.actions.organ.freezing: must name"),
    ({"stale": "x"}, "display.actions.stale: must name a physiological condition"),
    ({"freezing": "stop\x1b[2J"}, "display.actions.freezing: must not contain control"),
    ({"freezing": "x" * 81}, "display.actions.freezing: at most 80 characters"),
])
def test_bad_action_entries_are_refused_naming_the_key(actions: dict[str, str], problem: str
                                                       ) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"display": {"actions": actions}}, "site.toml")
    assert any(p.startswith(problem) for p in info.value.problems), info.value.problems


def test_check_config_names_the_bad_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                        ) -> None:
    path = tmp_path / "site.toml"
    path.write_text('[display.actions]\n"nerve.below_critical" = "call 4411"\n'
                    '"nerve.bogus" = "x"\n', encoding="utf-8")
    assert main(["check-config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "display.actions.nerve.bogus" in err and "below_critical" in err
    path.write_text('[display.actions]\n"nerve.below_critical" = "call 4411"\n',
                    encoding="utf-8")
    assert main(["check-config", str(path)]) == 0
