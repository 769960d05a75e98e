"""MQTT passwords: any character a password can hold never appears in an error, a log line, a
session file or a report; a password on the command line prints a warning; password_file.

Passwords are generated with the characters that broke redaction before (``@ / # ? [ ] : %``)
and any Unicode, written into URLs raw and percent-encoded, then pushed through every place
that prints or stores a URL or a credential.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote, unquote

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from monitor.config.schema import MqttConfig, parse_config
from monitor.errors import ConfigError, UsageError
from monitor.mqtt.connection import COMMAND_LINE_PASSWORD, MqttSettings
from monitor.mqtt.url import MqttUrlError, parse_mqtt_url
from tests.mqtt_broker import free_port

REPO = Path(__file__).resolve().parents[1]
CRYOGUARD = Path(sys.executable).parent / "cryoguard"

SPECIAL = [*list("@/#?[]:%"), "é", "ß", "你", "🔑", "Ω", " ", "'", '"', "\\", "!", "$", "&"]
passwords = st.text(
    alphabet=st.one_of(st.sampled_from(SPECIAL), st.sampled_from(list("aZ9-_.~")),
                       st.characters(blacklist_categories=("Cs", "Cc"))),
    min_size=6, max_size=24).filter(lambda p: any(c in p for c in "@/#?[]:%"))

# URL shapes around a password: the first parses, the others are wrong in another part, so
# the error message is built around the password.
SHAPES = [
    "mqtt://cg:{pw}@broker.example:1883/ct-suite-2",
    "mqtts://cg:{pw}@broker.example/ct-suite-2",
    "mqtt://cg:{pw}@broker.example:99999/ct-suite-2",
    "mqtt://cg:{pw}@broker.example:0/x",
    "mqtt://cg:{pw}@broker.example:port/x",
    "mqtt://cg:{pw}@broker.example/bad+station",
    "mqtt://cg:{pw}@broker.example/a/b",
    "mqtt://cg:{pw}@broker.example/x?retain=1",
    "mqtt://cg:{pw}@/x",
    "mqtt://cg:{pw}@[::1/x",
    "http://cg:{pw}@broker.example/x",
    "cg:{pw}@broker.example/x",
    "mqtt://cg:{pw}",
]


def forms(pw: str) -> list[str]:
    """The password as it may be written in a URL, and as it would leak."""
    return [pw, quote(pw, safe="")]


def assert_hidden(pw: str, *texts: str) -> None:
    for text in texts:
        for form in forms(pw):
            assert form not in text, f"password {pw!r} leaked as {form!r} in {text!r}"


def neutral(shape: str) -> str:
    return shape.format(pw="Xq")


def meaningful(shape: str, pw: str) -> bool:
    """With the host forgotten (``mqtt://cg:{pw}``), a password holding '@' makes another
    valid URL: ``mqtt://cg:p@ss`` is user cg, an empty password, host ss. Nothing can tell."""
    return not (shape.endswith("{pw}") and "@" in pw)


@settings(max_examples=300, deadline=None)
@given(pw=passwords, shape=st.sampled_from(SHAPES), encode=st.booleans())
def test_url_errors_and_printed_forms_never_hold_the_password(pw: str, shape: str,
                                                             encode: bool) -> None:
    written = quote(pw, safe="") if encode else pw
    url = shape.format(pw=written)
    # A password that is also a piece of the URL around it cannot be told apart from it.
    assume(not any(form in neutral(shape) for form in forms(pw)) and meaningful(shape, pw))
    try:
        parsed = parse_mqtt_url(url)
    except MqttUrlError as exc:
        assert_hidden(pw, str(exc))
        return
    assert_hidden(pw, parsed.redacted(), repr(parsed.redacted()))
    if encode or unquote(pw) == pw:
        assert parsed.password == pw and parsed.username == "cg"


@settings(max_examples=150, deadline=None)
@given(pw=passwords, shape=st.sampled_from(SHAPES))
def test_config_errors_snapshot_and_check_config_never_hold_the_password(pw: str,
                                                                         shape: str) -> None:
    from monitor.commands.check_config import summary

    assume(not any(form in neutral(shape) for form in forms(pw)) and meaningful(shape, pw))
    data = {"station": {"name": "ct"}, "mqtt": {"url": shape.format(pw=pw), "password": pw}}
    try:
        config = parse_config(data, "site.toml")
    except ConfigError as exc:
        assert_hidden(pw, str(exc))
        assert any(p.startswith("mqtt.url: ") for p in exc.problems)
        return
    snapshot = json.dumps(config.snapshot(), ensure_ascii=False)
    assert_hidden(pw, snapshot, json.dumps(config.snapshot()), "\n".join(summary(config, "x")))
    again = parse_config(json.loads(snapshot), "snapshot")  # still a config that loads
    assert again.mqtt.password is None


@settings(max_examples=150, deadline=None)
@given(pw=passwords, shape=st.sampled_from(SHAPES))
def test_settings_errors_and_warnings_never_hold_the_password(pw: str, shape: str) -> None:
    assume(not any(form in neutral(shape) for form in forms(pw)) and meaningful(shape, pw))
    said: list[str] = []
    url = shape.format(pw=pw).replace("/ct-suite-2", "/")  # no station: a UsageError
    try:
        MqttSettings.resolve(url, MqttConfig(), env={}, warn=said.append)
    except UsageError as exc:
        assert_hidden(pw, str(exc), *said)
    else:
        raise AssertionError("a URL without a station must be refused")


def test_a_password_on_the_command_line_prints_the_warning_and_others_do_not(
        tmp_path: Path) -> None:
    said: list[str] = []
    MqttSettings.resolve("mqtt://cg:pw@broker/ct", env={}, warn=said.append)
    assert said == [COMMAND_LINE_PASSWORD]
    assert "every user of this computer can read it" in said[0]
    said.clear()
    MqttSettings.resolve("mqtt://cg@broker/ct", env={"CRYOGUARD_MQTT_PASSWORD": "pw"},
                         warn=said.append)
    MqttSettings.resolve(None, MqttConfig(url="mqtt://cg:pw@broker/ct"), env={},
                         warn=said.append)  # a config file: kept 0600 by the site
    assert said == []


def test_password_file_first_line_is_the_password(tmp_path: Path) -> None:
    secret = tmp_path / "mqtt.pass"
    secret.write_text("p@ss/wörd#1\nignored\n", encoding="utf-8")
    secret.chmod(0o600)
    said: list[str] = []
    config = MqttConfig(username="ct-suite-2", password_file=str(secret))
    s = MqttSettings.resolve("mqtt://broker/ct", config, env={}, warn=said.append)
    assert (s.username, s.password) == ("ct-suite-2", "p@ss/wörd#1") and said == []
    # The URL's user with the file's password; the environment's user with the file's.
    s = MqttSettings.resolve("mqtt://other@broker/ct", MqttConfig(password_file=str(secret)),
                             env={"CRYOGUARD_MQTT_USERNAME": "envuser"}, warn=said.append)
    assert (s.username, s.password) == ("other", "p@ss/wörd#1")
    secret.chmod(0o644)
    MqttSettings.resolve("mqtt://broker/ct", config, env={}, warn=said.append)
    assert len(said) == 1 and "chmod 600" in said[0] and "p@ss" not in said[0]


def test_password_file_problems_name_the_key(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"mqtt\.password_file: cannot read"):
        MqttSettings.resolve("mqtt://broker/ct", MqttConfig(
            password_file=str(tmp_path / "missing")), env={}, warn=lambda m: None)
    empty = tmp_path / "empty"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(UsageError, match=r"mqtt\.password_file: .* is empty"):
        MqttSettings.resolve("mqtt://broker/ct", MqttConfig(password_file=str(empty)),
                             env={}, warn=lambda m: None)
    with pytest.raises(ConfigError, match="password or password_file, not both"):
        parse_config({"mqtt": {"password": "a", "password_file": "/x"}}, "t")


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pw=passwords)
def test_watch_with_a_dead_broker_never_prints_the_password(
        pw: str, capsys: pytest.CaptureFixture[str]) -> None:
    from monitor.cli import main

    port = free_port()
    status = main(["watch", "--mqtt", f"mqtt://cg:{pw}@127.0.0.1:{port}/ct", "--once",
                   "--wait", "1"])
    out, err = capsys.readouterr()
    assert status == 1 and "unreachable" in err
    assert COMMAND_LINE_PASSWORD in err
    assert_hidden(pw, out, err)


NASTY = ["Secret@99", "pa/ss#wo?rd[1]:x", "100%sure@%40", "ünï©ødé🔑@/#"]


@pytest.mark.parametrize("pw", NASTY)
def test_a_demo_with_the_password_on_the_command_line_never_records_or_logs_it(
        tmp_path: Path, pw: str) -> None:
    """End to end: the warning, then log lines, events, the session file and its report
    (the broker is down, so the outage alarm names the broker in every output)."""
    port = free_port()
    session = tmp_path / "demo.cgsession"
    events = tmp_path / "events.jsonl"
    result = subprocess.run(
        [str(CRYOGUARD), "demo", "--headless", "--speed", "20", "--duration", "20",
         "--session", str(session), "--events-out", str(events),
         "--mqtt", f"mqtt://cg:{pw}@127.0.0.1:{port}/room-secret"],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, cwd=REPO,
        env={**os.environ, "NO_COLOR": "1"}, check=False)
    assert result.returncode == 0, result.stderr
    assert COMMAND_LINE_PASSWORD in result.stderr
    log = result.stderr + result.stdout
    assert f"mqtt://cg:***@127.0.0.1:{port}/room-secret unreachable" in log  # the URL ...
    stored = events.read_text(encoding="utf-8")
    assert "mqtt.output_failed" in stored
    files = [session, *session.parent.glob(session.name + "-*")]
    raw = b"".join(f.read_bytes() for f in files if f.exists())
    report = tmp_path / "report"
    made = subprocess.run([str(CRYOGUARD), "report", str(session), "--out", str(report)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert made.returncode == 0, made.stderr
    texts = [log, stored, made.stdout, made.stderr]
    texts += [p.read_text(encoding="utf-8") for p in report.glob("*.md")]
    texts += [p.read_text(encoding="utf-8") for p in report.glob("*.html")]
    assert_hidden(pw, *texts)  # ... the password never
    for form in forms(pw):
        assert form.encode("utf-8") not in raw


def test_a_session_recorded_with_a_config_password_never_holds_it(tmp_path: Path) -> None:
    """The config snapshot in a session file, and the report made from it."""
    from monitor.report import build_report
    from monitor.report.simulated import record_scenario

    pw = "cfg:Pa@ss/#?[x]%25é"
    session = tmp_path / "s.cgsession"
    record_scenario(session, "routine", rate_hz=2.0, extra_config={
        "mqtt": {"url": f"mqtts://ct:{pw}@broker.example/ct-suite-sim", "password": pw}})
    raw = session.read_bytes()
    for form in forms(pw):
        assert form.encode("utf-8") not in raw
    files = build_report(session, tmp_path / "report")
    assert_hidden(pw, files.markdown.read_text(encoding="utf-8"),
                  files.html.read_text(encoding="utf-8"))


def test_the_dead_broker_fault_message_never_holds_the_password() -> None:
    from monitor.mqtt.publisher import MqttPublisher

    pw = "Secret@99/#?["
    faults: list[str] = []
    settings_ = MqttSettings.resolve(f"mqtt://cg:{quote(pw, safe='')}@127.0.0.1:"
                                     f"{free_port()}/ct", env={}, warn=lambda m: None)

    async def run() -> None:
        publisher = MqttPublisher(settings_, on_fault=faults.append)
        publisher.start()
        for _ in range(200):
            if faults:
                break
            await asyncio.sleep(0.01)
        await publisher.close()

    asyncio.run(run())
    assert faults and "unreachable" in faults[0]
    assert_hidden(pw, *faults)
