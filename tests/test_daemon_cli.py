"""`cryoguard run`/`demo` options a user types: the station name, --append, the log level."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
from pathlib import Path

import aiomqtt
import pytest

from monitor.cli import main as cli
from monitor.errors import UsageError
from monitor.outputs.eventstream import open_event_stream
from monitor.outputs.lines import LEVELS, LogOutput
from monitor.sessions.reader import open_session
from tests.daemon_helpers import cryoguard, events
from tests.mqtt_broker import Broker, broker  # noqa: F401  (fixture)


async def _retained(host: str, port: int, topic: str) -> dict[str, object]:
    async with aiomqtt.Client(host, port) as client:
        await client.subscribe(topic)
        async with asyncio.timeout(5):
            async for message in client.messages:
                payload = message.payload
                assert isinstance(payload, bytes)
                return dict(json.loads(payload))
    raise AssertionError("no retained message")


def test_the_mqtt_station_names_the_whole_session(broker: Broker, tmp_path: Path  # noqa: F811
                                                  ) -> None:
    """`--mqtt .../room-a` on a demo (whose config says `demo`): events, the session file and
    its name, MQTT and the header all say room-a."""
    proc = cryoguard("demo", "--headless", "--speed", "20", "--duration", "20",
                     "--events-out", "ev.jsonl", "--mqtt", broker.url("room-a"),
                     cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    started = events(tmp_path / "ev.jsonl")[0]
    assert started["type"] == "session.started" and started["station"] == "room-a"
    assert "station room-a" in proc.stderr
    files = list((tmp_path / "sessions").glob("*.cgsession"))
    assert [f.name.split("-")[:2] for f in files] == [["room", "a"]]
    with open_session(files[0]) as session:
        assert session.station == "room-a"
        assert session.config["station"]["name"] == "room-a"
    info = asyncio.run(_retained(broker.host, broker.port, "cryoguard/room-a/info"))
    assert info["station"] == "room-a"


def test_events_out_refuses_an_old_file_unless_append(tmp_path: Path) -> None:
    ev = tmp_path / "ev.jsonl"
    ev.write_text('{"t": 0, "type": "session.started"}\n')
    refused = cryoguard("demo", "--headless", "--duration", "5", "--events-out", str(ev),
                        "--session", str(tmp_path / "a.cgsession"))
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1 and "--append" in refused.stderr
    assert not (tmp_path / "a.cgsession").exists()
    appended = cryoguard("demo", "--headless", "--speed", "20", "--duration", "5",
                         "--events-out", str(ev), "--append", "--session",
                         str(tmp_path / "b.cgsession"))
    assert appended.returncode == 0, appended.stderr[-2000:]
    types = [r["type"] for r in events(ev)]
    assert types[:2] == ["session.started", "session.started"] and types[-1] == "session.ended"
    lonely = cryoguard("demo", "--headless", "--append")
    assert lonely.returncode == 2 and "--events-out" in lonely.stderr


def test_log_levels_choose_the_lines_and_never_the_last_word(
        capsys: pytest.CaptureFixture[str]) -> None:
    records = [
        {"t": 0.0, "type": "session.started", "message": "demo session started"},
        {"t": 1.0, "type": "device.connected", "message": "device sim connected"},
        {"t": 2.0, "type": "alarm.raised", "message": "*** N1: 9.9 °C below critical"},
        {"t": 3.0, "type": "alarm.cleared", "message": "N1: below critical cleared"},
        {"t": 4.0, "type": "device.lost", "message": "device sim lost: EOF \x1b[2J"},
    ]
    shown = {}
    for level in ("debug", "info", "warning", "error"):
        stream = io.StringIO()
        log = LogOutput(stream, level=LEVELS[level], on_fault=lambda *a: None,
                        on_recover=lambda *a: None)
        log.say("CryoGuard demo — station demo", logging.INFO)
        log.on_events(records)
        log.say("unknown command 'x'")
        assert log.close_now(2.0)
        shown[level] = stream.getvalue()
    assert "device.connected" in shown["info"] and "station demo" in shown["info"]
    assert "session.started" not in shown["info"]  # the header says it
    quiet = shown["warning"]
    assert "below critical" in quiet and "device sim lost" in quiet
    assert "unknown command" in quiet
    assert "alarm.cleared" not in quiet and "station demo" not in quiet
    assert "\x1b" not in quiet  # a device's text cannot drive the terminal
    assert "alarm.raised" not in shown["error"]
    assert cli(["demo", "--headless", "-q", "--log-level", "debug"]) == 2
    assert "not allowed with" in capsys.readouterr().err


def test_events_out_writes_into_a_named_pipe_or_dev_null_but_not_through_a_link(
        tmp_path: Path) -> None:
    fifo = tmp_path / "events.fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # the consumer is there first
    try:
        stream, owned = open_event_stream(str(fifo))
        stream.write('{"type": "session.started"}\n')
        stream.flush()
        assert os.read(reader, 1000) == b'{"type": "session.started"}\n'
        stream.close()
    finally:
        os.close(reader)
    assert owned
    null, _ = open_event_stream("/dev/null")
    null.write("x\n")
    null.close()
    link = tmp_path / "link"
    link.symlink_to(fifo)
    with pytest.raises(UsageError):
        open_event_stream(str(link))
