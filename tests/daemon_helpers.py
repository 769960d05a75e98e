"""Running the real `cryoguard` command as a child process, as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

CLI = [sys.executable, "-m", "monitor.cli"]


def cryoguard(*args: str, timeout: float = 120, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout,
                          stdin=kwargs.pop("stdin", subprocess.DEVNULL), **kwargs)


def spawn(*args: str, **kwargs: Any) -> subprocess.Popen[str]:
    kwargs.setdefault("stdout", subprocess.PIPE)
    kwargs.setdefault("stderr", subprocess.PIPE)
    kwargs.setdefault("stdin", subprocess.DEVNULL)
    return subprocess.Popen([*CLI, *args], text=True, **kwargs)


def events(path: Path | str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def alarm_key(records: list[dict[str, Any]]) -> list[tuple[str, str, float]]:
    """What must be identical between live and replay: type, alarm and time."""
    return [(e["type"], e["alarm"], e["t"]) for e in records if e["type"].startswith("alarm.")
            and not e["alarm"].endswith(".output_failed")]


def raised(records: list[dict[str, Any]]) -> set[str]:
    return {e["alarm"] for e in records if e["type"] == "alarm.raised"}


ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}
