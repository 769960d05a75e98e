"""DCON: golden frames, checksum, fault codes, module info, fuzzing, and a module on a pty."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers import dcon
from drivers.backoff import Backoff
from drivers.collect import CollectingSink
from drivers.params import DconParams
from drivers.runner import run_device
from drivers.types import ParsedScan
from monitor.model import Status
from simulators.ptylink import PtyLink


def triples(scan: ParsedScan) -> list[tuple[object, float | None, Status]]:
    return [(v.key, v.temp_c, v.status) for v in scan.values]


# Commands ------------------------------------------------------------------------------------

def test_command_frames() -> None:
    assert dcon.read_all(1) == b"#01\r"
    assert dcon.read_all(0x2A) == b"#2A\r"
    assert dcon.read_name(1) == b"$01M\r"
    assert dcon.read_config(1) == b"$012\r"
    assert dcon.read_config(1, with_checksum=True) == b"$012B7\r"  # docs/devices.md example
    assert dcon.checksum(b"#01") == b"84"
    with pytest.raises(ValueError):
        dcon.read_all(256)


# Read replies --------------------------------------------------------------------------------

def test_engineering_units_reply() -> None:
    scan = dcon.parse_read_reply(b">+0025.1-0003.4+0400.0-0196.5\r")
    assert triples(scan) == [(0, 25.1, Status.OK), (1, -3.4, Status.OK),
                             (2, 400.0, Status.OK), (3, -196.5, Status.OK)]
    assert scan.notes == ()


@pytest.mark.parametrize(("field", "status"), [
    ("+888888", Status.OPEN),          # ADAM-4018+ burn-out
    ("+999999", Status.OVER_RANGE),    # ADAM-4018+ over range
    ("-999999", Status.UNDER_RANGE),   # ADAM-4018+ under range
    ("+9999.9", Status.OVER_RANGE),    # classic ADAM-4000 over range
    ("-0000", Status.UNDER_RANGE),     # classic ADAM-4000 under range
])
def test_every_fault_code(field: str, status: Status) -> None:
    scan = dcon.parse_read_reply(f">+0021.0{field}+0022.0\r".encode())
    assert triples(scan) == [(0, 21.0, Status.OK), (1, None, status), (2, 22.0, Status.OK)]


def test_minus_zero_with_decimals_is_a_real_reading() -> None:
    assert triples(dcon.parse_read_reply(b">-0000.0\r")) == [(0, -0.0, Status.OK)]


def test_blank_disabled_channel_keeps_later_positions() -> None:
    scan = dcon.parse_read_reply(b">+0025.1       -0003.4\r")
    assert triples(scan) == [(0, 25.1, Status.OK), (2, -3.4, Status.OK)]


def test_fields_that_fit_no_width_make_the_whole_reply_bad() -> None:
    """Splitting at signs would guess positions: a reply that does not fit is bad data."""
    for reply in (b">+25.1-3.4 +888888\r", b">+0025.1+003.4\r", b">+0025.1   \r",
                  b">FF5D0000\r"):
        scan = dcon.parse_read_reply(reply)
        assert scan.is_bad and "split" in scan.notes[0], reply


def test_classic_codes_and_disabled_channels_keep_positions() -> None:
    scan = dcon.parse_read_reply(b">+0023.4-0000       +9999+0046.0-0000.5+9999.9\r")
    assert triples(scan) == [
        (0, 23.4, Status.OK), (1, None, Status.UNDER_RANGE), (3, None, Status.OVER_RANGE),
        (4, 46.0, Status.OK), (5, -0.5, Status.OK), (6, None, Status.OVER_RANGE)]
    assert dcon.reply_positions(b">+0023.4-0000       +9999+0046.0\r") == 5


def test_reply_with_another_number_of_positions_is_bad() -> None:
    scan = dcon.parse_read_reply(b">+0023.4+0046.0\r", positions=3)
    assert scan.is_bad and "2 channel positions" in scan.notes[0]
    assert not dcon.parse_read_reply(b">+0023.4       +0046.0\r", positions=3).is_bad


def test_checksum_good_and_bad() -> None:
    good = b">+0025.1-0003.4" + dcon.checksum(b">+0025.1-0003.4") + b"\r"
    assert triples(dcon.parse_read_reply(good, with_checksum=True)) == [
        (0, 25.1, Status.OK), (1, -3.4, Status.OK)]
    bad = good.replace(b"25.1", b"25.2")
    scan = dcon.parse_read_reply(bad, with_checksum=True)
    assert scan.is_bad and "checksum mismatch" in scan.notes[0]
    missing = dcon.parse_read_reply(b">+0025.1\r", with_checksum=True)
    assert missing.is_bad
    assert dcon.parse_read_reply(good.lower(), with_checksum=True).values  # hex case-insensitive


@pytest.mark.parametrize(("reply", "words"), [
    (b"?01\r", "rejected"),
    (b"!01\r", "unexpected"),
    (b">\r", "split"),
    (b">abc\r", "split"),
    (b">" + b" " * 14 + b"\r", "every channel disabled"),
    (b">+0025.1\r>+0025.1\r", "several frames"),
    (b">+00\xff25.1\r", "non-ASCII"),
    (b">+0025.1\x00\r", "control"),
    (b">" + b"+0025.1" * 60 + b"\r", "longer than"),
])
def test_non_data_replies_are_bad_data(reply: bytes, words: str) -> None:
    scan = dcon.parse_read_reply(reply)
    assert scan.is_bad and words in scan.notes[0]


def test_reply_encoder_round_trips() -> None:
    frame = dcon.format_read_reply([25.1, None, Status.OPEN, -196.2, Status.UNDER_RANGE],
                                   with_checksum=True)
    assert triples(dcon.parse_read_reply(frame, with_checksum=True)) == [
        (0, 25.1, Status.OK), (2, None, Status.OPEN), (3, -196.2, Status.OK),
        (4, None, Status.UNDER_RANGE)]


# Module info ---------------------------------------------------------------------------------

def test_name_and_config_replies() -> None:
    assert dcon.parse_name_reply(b"!014018P\r") == "4018P"
    assert dcon.parse_name_reply(b"?01\r") is None
    cfg = dcon.parse_config_reply(b"!01100600\r")
    assert cfg == dcon.DconConfig(1, "10", "06", 0)
    assert cfg.baudrate == 9600 and not cfg.checksum_enabled
    assert cfg.data_format == "engineering units"
    with_ck = b"!01100640" + dcon.checksum(b"!01100640") + b"\r"
    cfg2 = dcon.parse_config_reply(with_ck, with_checksum=True)
    assert cfg2 is not None and cfg2.checksum_enabled
    assert "checksum on" in cfg2.describe()
    assert dcon.parse_config_reply(b"!0110060\r") is None
    assert dcon.parse_config_reply(b"!01ZZ0600\r") is None


def test_type_t_range_warning_depends_on_role_and_module() -> None:
    cfg = dcon.DconConfig(1, "10", "06", 0)  # type T
    assert dcon.range_warning(cfg, "4018P", "nerve") is None
    warning = dcon.range_warning(cfg, "4018P", "probe")
    assert warning is not None and "-100" in warning
    assert dcon.range_warning(cfg, "7018", "probe") is None  # ICP DAS linearises to −270 °C
    k_type = dcon.DconConfig(1, "0F", "06", 0)
    assert "0 °C" in (dcon.range_warning(k_type, "4018", "nerve") or "")  # K on a 4018: 0..1370
    assert dcon.range_warning(dcon.DconConfig(1, "08", "06", 0), None, "nerve") is not None


# Fuzzing ------------------------------------------------------------------------------------

_field_values = st.one_of(st.floats(-270, 1300, allow_nan=False).map(lambda x: round(x, 1)),
                          st.sampled_from([Status.OPEN, Status.OVER_RANGE, Status.UNDER_RANGE]))


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=120), st.booleans())
def test_random_bytes_never_raise(data: bytes, with_checksum: bool) -> None:
    scan = dcon.parse_read_reply(data, with_checksum=with_checksum)
    for v in scan.values:
        assert (v.status is Status.OK) == (v.temp_c is not None)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=120).filter(lambda b: not any(48 <= c <= 57 for c in b)))
def test_garbage_without_digits_never_yields_a_temperature(data: bytes) -> None:
    scan = dcon.parse_read_reply(data)
    assert all(v.status is not Status.OK for v in scan.values)


@settings(max_examples=400, deadline=None)
@given(values=st.lists(_field_values, min_size=1, max_size=8), data=st.data())
def test_any_single_byte_mutation_with_checksum_is_bad_data(values: list[float | Status],
                                                            data: st.DataObject) -> None:
    frame = bytearray(dcon.format_read_reply(list(values), with_checksum=True))
    pos = data.draw(st.integers(0, len(frame) - 1))
    new = data.draw(st.integers(0, 255).filter(lambda b: b != frame[pos]))
    frame[pos] = new
    scan = dcon.parse_read_reply(bytes(frame), with_checksum=True)
    # A changed byte before the CR changes the sum; a changed CR breaks the frame.
    assert scan.is_bad or all(v.status is Status.BAD_DATA for v in scan.values)


@settings(max_examples=300, deadline=None)
@given(garbage=st.binary(max_size=80), values=st.lists(_field_values, min_size=1, max_size=8),
       with_checksum=st.booleans())
def test_valid_frame_after_garbage_frame_is_read_correctly(
        garbage: bytes, values: list[float | Status], with_checksum: bool) -> None:
    stream = garbage.replace(b"\r", b"") + b"\r" + dcon.format_read_reply(
        list(values), with_checksum=with_checksum)
    frames = stream.split(b"\r")
    scan = dcon.parse_read_reply(frames[-2] + b"\r", with_checksum=with_checksum)
    expected = [(i, v, Status.OK) if isinstance(v, float) else (i, None, v)
                for i, v in enumerate(values)]
    assert triples(scan) == expected


# A DCON module on a pty ----------------------------------------------------------------------

class FakeModule:
    """A small ADAM-4018+ stand-in: answers #AA, $AAM, $AA2; can go silent or corrupt."""

    def __init__(self, link: PtyLink, *, address: int = 1, checksum: bool = False,
                 name: str = "4018P", type_code: str = "10", fmt: int = 0) -> None:
        self.link = link
        self.addr = f"{address:02X}"
        self.checksum = checksum
        self.name = name
        self.type_code = type_code
        self.fmt = fmt | (0x40 if checksum else 0)
        self.values: list[float | Status | None] = [21.5, -3.2, Status.OPEN]
        self.silent = False
        self.delay_s = 0.0
        self.corrupt_checksum = False
        self.poll_times: list[float] = []
        self.commands: list[bytes] = []
        self._buf = b""
        self._loop = asyncio.get_running_loop()
        self._fd = link.fileno()
        self._loop.add_reader(self._fd, self._readable)

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._loop.remove_reader(self._fd)

    def _readable(self) -> None:
        self._buf += self.link.read()
        while b"\r" in self._buf:
            cmd, self._buf = self._buf.split(b"\r", 1)
            self._handle(cmd)

    def _reply(self, text: str) -> None:
        body = text.encode()
        if self.checksum:
            ck = dcon.checksum(body)
            if self.corrupt_checksum:
                ck = b"00" if ck != b"00" else b"01"
            body += ck
        if self.delay_s:
            self._loop.call_later(self.delay_s, self.link.write, body + b"\r")
        else:
            self.link.write(body + b"\r")

    def _handle(self, raw: bytes) -> None:
        self.commands.append(raw)
        text = raw.decode("ascii", "replace")
        if self.checksum:
            if len(text) < 3 or dcon.checksum(raw[:-2]).decode() != text[-2:].upper():
                return  # checksum errors get no reply
            text = text[:-2]
        elif len(text) > 4 and text[-2:].isalnum() and text[:-2] in (
                f"${self.addr}M", f"#{self.addr}", f"${self.addr}2"):
            return  # a checksum on a module without checksum: invalid, no reply
        if self.silent:
            return
        if text == f"#{self.addr}":
            self.poll_times.append(self._loop.time())
            frame = dcon.format_read_reply(self.values, with_checksum=False)
            self._reply(frame[:-1].decode())
        elif text == f"${self.addr}M":
            self._reply(f"!{self.addr}{self.name}")
        elif text == f"${self.addr}2":
            self._reply(f"!{self.addr}{self.type_code}06{self.fmt:02X}")
        elif text[1:3] == self.addr:
            self._reply(f"?{self.addr}")


@pytest.fixture
def pty(tmp_path: Path) -> Iterator[PtyLink]:
    link = PtyLink(tmp_path / "dev" / "adam")
    yield link
    link.close()


FAST = Backoff(initial_s=0.05, max_s=0.2)


@contextlib.asynccontextmanager
async def driving(params: DconParams, sink: CollectingSink) -> AsyncIterator[asyncio.Task[None]]:
    loop = asyncio.get_running_loop()
    task = asyncio.create_task(run_device(params, sink, loop.time, backoff=FAST))
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def params_for(link: PtyLink, **kw: object) -> DconParams:
    base: dict[str, object] = dict(id="adam", port=str(link.link), poll_interval_s=0.05,
                                   timeout_s=0.1, channel_map={0: "L4R", 1: "L5L", 2: "tip"})
    base.update(kw)
    return DconParams(**base)  # type: ignore[arg-type]


async def test_polls_identify_and_read_with_burn_out(pty: PtyLink) -> None:
    module = FakeModule(pty)
    sink = CollectingSink()
    params = params_for(pty, roles={"L4R": "nerve", "tip": "probe"})
    async with driving(params, sink):
        assert await sink.wait_for("scan", 3, timeout_s=3)
    module.stop()
    connected = sink.of("connected")
    assert len(connected) == 1
    assert "4018P" in connected[0].detail and "9600 baud" in connected[0].detail
    assert "WARNING" in connected[0].detail and "-100" in connected[0].detail  # T on a probe
    readings = sink.of("scan")[0].readings
    assert [(r.channel, r.temp_c, r.status) for r in readings] == [
        ("L4R", 21.5, Status.OK), ("L5L", -3.2, Status.OK), ("tip", None, Status.OPEN)]
    assert module.commands[:2] == [b"$01M", b"$012"]
    assert sink.of("lost") == [] and sink.of("bad_data") == []


async def test_no_range_warning_for_nerve_only(pty: PtyLink) -> None:
    module = FakeModule(pty)
    sink = CollectingSink()
    async with driving(params_for(pty, roles={"L4R": "nerve"}), sink):
        assert await sink.wait_for("connected", 1, timeout_s=3)
    module.stop()
    assert "WARNING" not in sink.of("connected")[0].detail


async def test_polls_follow_an_anchored_schedule(pty: PtyLink) -> None:
    module = FakeModule(pty)
    sink = CollectingSink()
    async with driving(params_for(pty, poll_interval_s=0.04), sink):
        assert await sink.wait_for("scan", 12, timeout_s=3)
    module.stop()
    times = module.poll_times[:12]
    first = times[0]
    for k, t in enumerate(times):
        assert abs((t - first) - k * 0.04) < 0.03, (k, t - first)  # no accumulated drift


async def test_silence_is_a_communication_fault_then_lost_then_reconnect(pty: PtyLink) -> None:
    module = FakeModule(pty)
    sink = CollectingSink()
    async with driving(params_for(pty), sink):
        assert await sink.wait_for("scan", 2, timeout_s=3)
        module.silent = True
        scans_before = len(sink.of("scan"))
        assert await sink.wait_for("lost", 1, timeout_s=2)
        assert len(sink.of("scan")) == scans_before  # silence never yields a value
        timeouts = [e for e in sink.of("bad_data") if "no reply" in e.detail]
        assert 1 <= len(timeouts) <= 3
        assert "no reply" in sink.of("lost")[0].detail
        module.silent = False
        assert await sink.wait_for("connected", 2, timeout_s=3)
        assert await sink.wait_until(lambda s: len(s.of("scan")) > scans_before, 2)
    module.stop()
    assert len(sink.of("lost")) == 1


async def test_checksum_module(pty: PtyLink) -> None:
    module = FakeModule(pty, checksum=True)
    sink = CollectingSink()
    async with driving(params_for(pty, checksum=True), sink):
        assert await sink.wait_for("scan", 2, timeout_s=3)
        assert "checksum on" in sink.of("connected")[0].detail
        module.corrupt_checksum = True
        assert await sink.wait_until(
            lambda s: any("checksum mismatch" in e.detail for e in s.of("bad_data")), 2)
    module.stop()
    assert module.commands[0] == b"$01M" + dcon.checksum(b"$01M")


async def test_checksum_setting_mismatch_is_explained(pty: PtyLink) -> None:
    module = FakeModule(pty, checksum=True)
    sink = CollectingSink()
    async with driving(params_for(pty, checksum=False), sink):
        assert await sink.wait_for("lost", 1, timeout_s=3)
    module.stop()
    assert "checksum = true" in sink.of("lost")[0].detail
    assert sink.of("scan") == []


async def test_percent_of_range_format_is_refused(pty: PtyLink) -> None:
    module = FakeModule(pty, fmt=0x01)
    sink = CollectingSink()
    async with driving(params_for(pty), sink):
        assert await sink.wait_for("lost", 1, timeout_s=3)
    module.stop()
    assert "engineering units" in sink.of("lost")[0].detail
    assert sink.of("scan") == []


async def test_late_reply_is_never_taken_for_the_next_poll(pty: PtyLink) -> None:
    """A reply after the timeout is discarded before the next poll, never stamped later."""
    module = FakeModule(pty)
    sink = CollectingSink()
    async with driving(params_for(pty, poll_interval_s=0.2, timeout_s=0.05), sink):
        assert await sink.wait_for("scan", 1, timeout_s=3)
        module.values = [99.0, 99.0, 99.0]
        module.delay_s = 0.09  # answers, but too late: after the timeout, before the next poll
        assert await sink.wait_until(
            lambda s: sum("no reply" in e.detail for e in s.of("bad_data")) >= 2, 2)
        module.values = [11.0, 11.0, 11.0]
        module.delay_s = 0.0
        assert await sink.wait_until(
            lambda s: any(r.temp_c == 11.0 for e in s.of("scan") for r in e.readings), 2)
    module.stop()
    assert not any(r.temp_c == 99.0 for e in sink.of("scan") for r in e.readings)
