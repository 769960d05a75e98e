"""Line devices learn their scan shape and keep it; the grammar tells a scan from noise.

Issue 14: ten seconds of random bytes on a line device produced latching physiological alarms
and, in quick mode, 26 phantom channels. A scan is a scan only when every byte follows the
grammar (docs/devices.md, "Line") and its shape matches the learned or configured one.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers import thermocouple
from drivers.collect import CollectingSink
from drivers.line import LEARN_LINES, LineParser, LineSettings, line_checksum
from drivers.mapping import ChannelMapper
from drivers.types import ParsedScan
from monitor.model import Status


def triples(scan: ParsedScan) -> list[tuple[object, float | None, Status]]:
    return [(v.key, v.temp_c, v.status) for v in scan.values]


def test_shape_is_learned_from_consistent_lines_then_fixed() -> None:
    parser = LineParser(learn_lines=3)
    assert parser.feed(b"20.1,20.2,20.3\n20.1,20.2\n20.1,20.2\n") == []  # run restarts
    scans = parser.feed(b"20.1,20.2\n21,22\n")
    assert [triples(s) for s in scans] == [
        [(0, 20.1, Status.OK), (1, 20.2, Status.OK)], [(0, 21.0, Status.OK), (1, 22.0, Status.OK)]]
    wider, narrower, keyed = parser.feed(b"1,2,3\n5\nA=1\n")
    assert wider.is_bad and "3 positional fields" in wider.notes[0]
    assert "2 positional fields" in wider.notes[0]
    assert narrower.is_bad and keyed.is_bad and "keyed line" in keyed.notes[0]


def test_a_bad_line_breaks_the_learning_run() -> None:
    parser = LineParser(learn_lines=3)
    assert parser.feed(b"1,2\n1,2\n") == []
    bad = parser.feed(b"1,zz\n")
    assert bad[0].is_bad
    assert parser.feed(b"1,2\n1,2\n") == []
    assert triples(parser.feed(b"1,2\n")[0]) == [(0, 1.0, Status.OK), (1, 2.0, Status.OK)]


def test_configured_width_applies_from_the_first_line() -> None:
    parser = LineParser(LineSettings(scan_width=3), learn_lines=3)
    assert triples(parser.feed(b"1,2,3\n")[0]) == [(0, 1.0, Status.OK), (1, 2.0, Status.OK),
                                                  (2, 3.0, Status.OK)]
    assert parser.feed(b"1,2\n")[0].is_bad


def test_keyed_devices_keep_their_keys_and_may_send_a_subset() -> None:
    parser = LineParser(learn_lines=2)
    assert parser.feed(b"a=1 b=2\n") == []
    assert triples(parser.feed(b"b=3 a=4\n")[0]) == [("b", 3.0, Status.OK), ("a", 4.0, Status.OK)]
    assert triples(parser.feed(b"a=5\n")[0]) == [("a", 5.0, Status.OK)]
    unknown = parser.feed(b"a=5 zz=1\n")[0]
    assert unknown.is_bad and "zz" in unknown.notes[0]


def test_an_unsettled_device_is_reported_not_silent() -> None:
    parser = LineParser(learn_lines=3)
    lines = b"".join(b"1,2\n" if i % 2 else b"1,2,3\n" for i in range(12))
    scans = parser.feed(lines)
    assert scans and all(s.is_bad and "not settled" in s.notes[0] for s in scans)


def test_shape_survives_a_resync_and_the_cut_line_is_skipped() -> None:
    parser = LineParser(learn_lines=1)
    parser.feed(b"1,2\n")
    parser.resync()
    assert parser.feed(b"7,3,4\n") == []  # the cut first line of a new connection
    assert parser.feed(b"1,2,3\n")[0].is_bad
    assert triples(parser.feed(b"5,6\n")[0]) == [(0, 5.0, Status.OK), (1, 6.0, Status.OK)]


@pytest.mark.parametrize("line", [b"12.5,\x1b[2J13\n", b"12.5,13\x00\n", b"12.5,\xc3\xa913\n",
                                  b"\x9b31m12.5,13\n"])
def test_a_byte_outside_the_grammar_spoils_the_line_and_is_never_echoed(line: bytes) -> None:
    scan = LineParser().feed(line)[0]
    assert scan.is_bad
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in scan.notes[0])


def test_optional_checksum() -> None:
    body = b"21.5,22.5,OPEN"
    good = body + b"*" + line_checksum(body).encode() + b"\r\n"
    parser = LineParser(LineSettings(checksum=True))
    assert triples(parser.feed(good)[0]) == [(0, 21.5, Status.OK), (1, 22.5, Status.OK),
                                             (2, None, Status.OPEN)]
    assert line_checksum(b"GPGLL,5300.97914,N,00259.98174,E,125926,A") == "28"  # NMEA example
    flipped = good.replace(b"21.5", b"27.5")
    assert "checksum mismatch" in parser.feed(flipped)[0].notes[0]
    assert "without its *HH" in parser.feed(body + b"\n")[0].notes[0]


def test_per_channel_type_overrides_the_devices() -> None:
    """Issue 14: device type T, channel 1 type K: a K probe at 9.0 °C must read 9.0 °C."""
    cj = 23.0
    mv_k = thermocouple.emf_mv("K", 9.0, cj)
    mv_t = thermocouple.emf_mv("T", 9.0, cj)
    parser = LineParser(LineSettings(units="mV", tc_type="T", cjc_c=cj, tc_types={1: "K"}))
    scan = parser.feed(f"{mv_t:.6f},{mv_k:.6f}\n".encode())[0]
    assert scan.values[0].temp_c == pytest.approx(9.0, abs=0.001)
    assert scan.values[1].temp_c == pytest.approx(9.0, abs=0.001)
    cold = thermocouple.emf_mv("K", -150.0, cj)
    scan = parser.feed(f"{mv_t:.6f},{cold:.6f}\n".encode())[0]
    assert scan.values[1].temp_c == pytest.approx(-150.0, abs=0.001)
    with pytest.raises(ValueError, match="supported"):
        LineSettings(tc_types={0: "Q"}).validated()


def test_quick_mode_never_creates_channels_from_noise() -> None:
    """Learning mapper + learned shape: random bytes after the first scans add no channel."""
    rng = random.Random(14)
    parser = LineParser(learn_lines=LEARN_LINES)
    mapper = ChannelMapper("box", {}, learn=True)
    sink = CollectingSink()
    for scan in parser.feed(b"20.0,21.0,22.0\n" * 3):
        mapper.deliver(scan, 0.0, sink)
    noise = bytes(rng.randrange(256) for _ in range(200_000))
    for scan in parser.feed(noise):
        mapper.deliver(scan, 1.0, sink)
    channels = {r.channel for e in sink.of("scan") for r in e.readings}
    assert channels == {"ch0", "ch1", "ch2"}
    assert all(e.t == 0.0 for e in sink.of("scan"))  # no reading at all came from the noise
    assert sink.of("bad_data")


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=2000))
def test_random_bytes_after_learning_never_yield_a_reading(noise: bytes) -> None:
    parser = LineParser(learn_lines=LEARN_LINES)
    parser.feed(b"20.0,21.0,22.0,23.0\n" * 3)
    # Digits-only noise could spell a scan; random bytes of any other kind never may.
    if all(c in b"0123456789.,+- \t\r\n" for c in noise):
        return
    for scan in parser.feed(noise + b"\n"):
        assert scan.values == () or len(scan.values) == 4
