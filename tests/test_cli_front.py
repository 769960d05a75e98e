"""The front door: what a new user meets first (start-up imports, error lines, examples, extras,
shell completion). Each check runs the real command in a child process where imports matter,
so the test process's own imports cannot hide a heavy import at the top level."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "config"

# What `cryoguard --help` must not load (the contract: it never imports what it does not need).
# asyncio is standard library but the largest import left (about a third of the start-up):
# the commands that use it import it where they run.
HEAVY = ("numpy", "rich", "pydantic", "pymodbus", "aiomqtt", "serial", "matplotlib", "pyarrow",
         "asyncio")


def python(code: str, *, env: dict[str, str] | None = None
           ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=120, cwd=REPO, env=env)


def cryoguard(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitor.cli", *args], capture_output=True,
                          text=True, timeout=120, cwd=REPO)


# --- start-up imports ---------------------------------------------------------------------

@pytest.mark.parametrize("argv", [None, ["--help"], ["--version"]])
def test_help_and_version_import_nothing_heavy(argv: list[str] | None) -> None:
    """Building the whole parser (every command's options) and --help/--version stay light."""
    proc = python(f"""
        import contextlib, io, json, sys
        from monitor import cli
        argv = {argv!r}
        if argv is None:
            cli.build_parser()
        else:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
                cli.main(argv)
        heavy = [m for m in {HEAVY!r} if m in sys.modules]
        print(json.dumps(heavy))
    """)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1]) == []


def test_every_command_module_imports_only_light_modules() -> None:
    """Each command module alone: importing it pulls in none of the heavy libraries."""
    from monitor.cli import COMMANDS

    proc = python(f"""
        import importlib, json, sys
        found = {{}}
        for name in {COMMANDS!r} + ("session_args", "lazy_default"):
            before = set(sys.modules)
            importlib.import_module("monitor.commands." + name)
            found[name] = sorted(m for m in set(sys.modules) - before
                                 if m.partition(".")[0] in {HEAVY!r})
        print(json.dumps(found))
    """)
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout.splitlines()[-1])
    assert {name: mods for name, mods in found.items() if mods} == {}


def test_a_command_still_loads_what_it_needs() -> None:
    """The other side: running a command does import its modules (the guard is not vacuous)."""
    proc = python(f"""
        import contextlib, io, json, sys
        from monitor import cli
        with contextlib.redirect_stdout(io.StringIO()):
            cli.main(["check-config", "--example", "line"])
        print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))
    """)
    assert proc.returncode == 0, proc.stderr
    assert "pydantic" in json.loads(proc.stdout.splitlines()[-1])


# --- error lines ----------------------------------------------------------------------------

def test_argument_error_names_the_command_once() -> None:
    proc = cryoguard("replay")
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("cryoguard replay: ") and "cryoguard: " not in proc.stderr
    assert "SOURCE" in last and "Traceback" not in proc.stderr


def test_run_time_error_names_the_command_once(tmp_path: Path) -> None:
    missing = tmp_path / "nothing.csv"
    proc = cryoguard("replay", str(missing))
    assert proc.returncode in (1, 2), proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cryoguard replay: "), proc.stderr
    assert str(missing) in lines[0] and lines[0].count("cryoguard") == 1


def test_message_that_already_names_its_command_is_not_doubled() -> None:
    proc = cryoguard("probe", "--port", os.devnull, "--protocol", "line", "--count", "0")
    assert proc.returncode == 2
    assert proc.stderr.strip() == "cryoguard probe: --count must be at least 1"


def test_error_line_helper() -> None:
    from monitor.cli import error_line

    assert error_line("cryoguard replay", ValueError("replay: x")) == "cryoguard replay: x"
    assert error_line("cryoguard replay", ValueError("cryoguard replay: x")) == \
        "cryoguard replay: x"
    assert error_line("cryoguard replay", ValueError("cryoguard: x")) == "cryoguard replay: x"
    assert error_line("cryoguard", ValueError("bad")) == "cryoguard: bad"
    assert error_line("cryoguard export", ValueError("a.csv: replay: y")) == \
        "cryoguard export: a.csv: replay: y"


# --- examples shipped in the package --------------------------------------------------------

def shipped_configs() -> dict[str, Path]:
    found = {"default": CONFIG / "default.toml"}
    found.update({p.stem: p for p in sorted((CONFIG / "examples").glob("*.toml"))})
    return found


def test_package_config_folder_is_the_repository_config_folder() -> None:
    """One copy: monitor/data/config is a link to config/, not a second set of files."""
    linked = REPO / "monitor" / "data" / "config"
    assert linked.is_symlink() and linked.resolve() == CONFIG.resolve()


def test_examples_module_lists_every_config_and_csv() -> None:
    from monitor.examples import config_examples, csv_examples

    assert {k: Path(v).resolve() for k, v in config_examples().items()} == \
        {k: p.resolve() for k, p in shipped_configs().items()}
    assert set(shipped_configs()) >= {"default", "line", "dcon", "modbus"}
    assert Path(csv_examples()["breach"]).resolve() == \
        (REPO / "monitor" / "data" / "example-breach.csv").resolve()


@pytest.mark.parametrize("name", sorted(shipped_configs()))
def test_check_config_example_validates_and_prints(name: str) -> None:
    proc = cryoguard("check-config", "--example", name)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0].endswith(": OK")
    printed = cryoguard("check-config", "--example", name, "--print")
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout == shipped_configs()[name].read_text(encoding="utf-8")


def test_printed_example_is_a_valid_config_to_start_from(tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    site.write_text(cryoguard("check-config", "--example", "dcon", "--print").stdout)
    proc = cryoguard("check-config", str(site))
    assert proc.returncode == 0 and proc.stdout.startswith(f"{site}: OK"), proc.stderr


def test_example_and_file_are_exclusive_and_print_needs_an_example(tmp_path: Path) -> None:
    both = cryoguard("check-config", str(tmp_path / "a.toml"), "--example", "line")
    assert both.returncode == 2 and "not allowed with" in both.stderr
    alone = cryoguard("check-config", str(tmp_path / "a.toml"), "--print")
    assert alone.returncode == 2
    assert alone.stderr.strip() == "cryoguard check-config: --print goes with --example NAME"
    unknown = cryoguard("check-config", "--example", "serial")
    assert unknown.returncode == 2 and "invalid choice" in unknown.stderr


def test_replay_example_breach_raises_the_cold_alarms() -> None:
    proc = cryoguard("replay", "--example", "breach", "--events-out", "-")
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert events[0]["type"] == "session.started" and events[-1]["type"] == "session.ended"
    assert events[0]["source"].endswith("example-breach.csv")
    raised = {e["alarm"] for e in events if e["type"] == "alarm.raised"}
    assert {"N1.below_warning", "N1.below_critical", "N1.freezing"} <= raised
    printed = cryoguard("replay", "--example", "breach", "--print")
    assert printed.stdout == (REPO / "monitor" / "data" / "example-breach.csv").read_text()


# --- extras -----------------------------------------------------------------------------------

BLOCK = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {blocked!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None
sys.meta_path.insert(0, Block())
from monitor.cli import main
sys.exit(main({argv!r}))
"""


def without(blocked: tuple[str, ...], *argv: str) -> subprocess.CompletedProcess[str]:
    """Run the command as if ``blocked`` were not installed (an import of them fails)."""
    return python(BLOCK.format(blocked=blocked, argv=list(argv)))


def test_report_without_matplotlib_names_the_extra(tmp_path: Path) -> None:
    proc = without(("matplotlib",), "report", str(tmp_path / "s.cgsession"), "--out",
                   str(tmp_path / "r"))
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("cryoguard report: report plots need matplotlib, which is "
                                   "not installed: pip install 'cryoguard[report]'")
    assert not (tmp_path / "r").exists()


def test_parquet_export_without_pyarrow_names_the_extra(tmp_path: Path) -> None:
    proc = without(("pyarrow",), "export", str(tmp_path / "s.cgsession"), "--format",
                   "parquet", "--out", str(tmp_path / "x.parquet"))
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("cryoguard export: Parquet files need pyarrow, which is not "
                                   "installed: pip install 'cryoguard[parquet]'")


def test_csv_export_does_not_need_pyarrow(tmp_path: Path) -> None:
    proc = without(("pyarrow",), "export", str(tmp_path / "s.cgsession"), "--format", "csv",
                   "--out", str(tmp_path / "x.csv"))
    assert "pyarrow" not in proc.stderr  # it gets as far as the (missing) session file
    assert "s.cgsession" in proc.stderr and "Traceback" not in proc.stderr


def test_require_reports_a_broken_dependency_of_an_installed_extra() -> None:
    proc = python("""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == "pyarrow.lib":
                    raise ModuleNotFoundError("No module named 'numpy'", name="numpy")
        sys.meta_path.insert(0, Block())
        from monitor.extras import MissingExtra, require
        try:
            require("pyarrow.lib", extra="parquet")
        except MissingExtra as exc:
            print(exc)
    """)
    assert "cannot be imported" in proc.stdout and "cryoguard[parquet]" in proc.stdout


def test_require_returns_the_module() -> None:
    from monitor.extras import require

    assert require("json", extra="report").dumps([1]) == "[1]"


# --- lazily read defaults ---------------------------------------------------------------------

def test_watch_stale_after_default_comes_from_its_one_home() -> None:
    from monitor.cli import build_parser
    from monitor.mqtt.watch_state import DATA_TIMEOUT_S

    args = build_parser().parse_args(["watch", "--mqtt", "mqtt://127.0.0.1:1/x"])
    assert args.stale_after == DATA_TIMEOUT_S and isinstance(args.stale_after, float)
    assert build_parser().parse_args(["watch", "--stale-after", "7"]).stale_after == 7.0
    shown = cryoguard("watch", "--help").stdout
    assert f"(default {DATA_TIMEOUT_S:g})" in " ".join(shown.split())


# --- shell completion (real bash) -------------------------------------------------------------

def complete_in_bash(script: str, words: list[str]) -> list[str]:
    """What bash's programmable completion offers for ``words`` (the last one is being typed)."""
    words_text = " ".join(f"'{w}'" for w in words)
    program = f"""
        source "$1"
        COMP_WORDS=({words_text})
        COMP_CWORD={len(words) - 1}
        COMP_LINE="${{COMP_WORDS[*]}}"
        COMP_POINT=${{#COMP_LINE}}
        _shtab_cryoguard cryoguard "${{COMP_WORDS[-1]}}" "${{COMP_WORDS[-2]}}"
        printf '%s\\n' "${{COMPREPLY[@]}}"
    """
    proc = subprocess.run(["bash", "-c", textwrap.dedent(program), "bash", script],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return [w.strip() for w in proc.stdout.splitlines() if w.strip()]


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash not installed")
def test_bash_completion_offers_commands_options_and_examples(tmp_path: Path) -> None:
    proc = cryoguard("--print-completion", "bash")
    assert proc.returncode == 0, proc.stderr
    script = tmp_path / "cryoguard.bash"
    script.write_text(proc.stdout)
    assert complete_in_bash(str(script), ["cryoguard", "re"]) == ["replay", "report"]
    assert "check-config" in complete_in_bash(str(script), ["cryoguard", ""])
    assert "--events-out" in complete_in_bash(str(script), ["cryoguard", "replay", "--ev"])
    assert sorted(complete_in_bash(str(script), ["cryoguard", "check-config", "--example",
                                                 ""])) == sorted(shipped_configs())
    assert complete_in_bash(str(script), ["cryoguard", "demo", "--protocol", "d"]) == ["dcon"]


@pytest.mark.parametrize("shell", ["zsh", "tcsh"])
def test_other_shells_get_a_script(shell: str) -> None:
    proc = cryoguard("--print-completion", shell)
    assert proc.returncode == 0 and "replay" in proc.stdout and "check-config" in proc.stdout


# --- the wheel --------------------------------------------------------------------------------

def test_wheel_carries_the_config_folder_and_example_csv(tmp_path: Path) -> None:
    """Build the wheel as CI does and compare its data files with config/ byte for byte."""
    import zipfile

    # Build from a copy (links kept as links), so a stale build/ folder in the checkout
    # cannot add files to the wheel and the checkout gets no build/ or egg-info from the test.
    source = tmp_path / "src"
    shutil.copytree(REPO, source, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis",
        "sessions", "out"))
    dist = tmp_path / "dist"
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                           str(dist), str(source)], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    assert proc.returncode == 0, proc.stderr
    (wheel,) = dist.glob("cryoguard-*.whl")
    prefix = "monitor/data/config/"
    with zipfile.ZipFile(wheel) as zf:
        carried = {name[len(prefix):]: zf.read(name) for name in zf.namelist()
                   if name.startswith(prefix)}
        csv = zf.read("monitor/data/example-breach.csv")
    on_disk = {p.relative_to(CONFIG).as_posix(): p.read_bytes()
               for p in CONFIG.rglob("*") if p.is_file()}
    assert carried == on_disk
    assert csv == (REPO / "monitor" / "data" / "example-breach.csv").read_bytes()
