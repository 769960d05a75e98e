"""The line protocol parser: golden lines, every fault token, mV conversion, fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers import thermocouple
from drivers.line import MAX_LINE, LineParser, LineSettings, parse_token
from drivers.types import ParsedScan
from monitor.model import Status


def one(data: bytes, parser: LineParser | None = None) -> ParsedScan:
    scans = (parser or LineParser()).feed(data)
    assert len(scans) == 1, scans
    return scans[0]


def triples(scan: ParsedScan) -> list[tuple[object, float | None, Status]]:
    return [(v.key, v.temp_c, v.status) for v in scan.values]


# Golden lines --------------------------------------------------------------------------------

@pytest.mark.parametrize("line", [
    b"12.5,-3.25,40\n", b"12.5, -3.25, 40\r\n", b"12.5 -3.25\t40\n", b"  12.5 ,-3.25 40 \r\n",
    b"12.5,-3.25,40,\n",
])
def test_positional_forms(line: bytes) -> None:
    assert triples(one(line)) == [(0, 12.5, Status.OK), (1, -3.25, Status.OK),
                                  (2, 40.0, Status.OK)]


@pytest.mark.parametrize("line", [
    b"L4R=12.5 L5L=-3.25\n", b"L4R:12.5 L5L:-3.25\r\n", b"L4R = 12.5, L5L : -3.25\n",
])
def test_keyed_forms(line: bytes) -> None:
    assert triples(one(line)) == [("L4R", 12.5, Status.OK), ("L5L", -3.25, Status.OK)]


@pytest.mark.parametrize(("token", "status"), [
    ("OPEN", Status.OPEN), ("OC", Status.OPEN), ("NC", Status.OPEN), ("open", Status.OPEN),
    ("SHORT", Status.SHORT), ("SCG", Status.SHORT), ("SCV", Status.SHORT),
    ("OVER", Status.OVER_RANGE), ("UNDER", Status.UNDER_RANGE), ("ERR", Status.BAD_DATA),
])
def test_every_fault_token_is_a_status(token: str, status: Status) -> None:
    scan = one(f"21.0,{token}\n".encode())
    assert triples(scan) == [(0, 21.0, Status.OK), (1, None, status)]
    keyed = one(f"a={token} b=21\n".encode())
    assert triples(keyed) == [("a", None, status), ("b", 21.0, Status.OK)]


@pytest.mark.parametrize("token", ["nan", "NaN", "inf", "-inf", "Infinity", "1e999", "-1e999",
                                   "0x10", "1_000", "12.5.3", "--3", "", "3e", "12.5x",
                                   "1" * 30])
def test_a_bad_token_makes_the_whole_line_bad(token: str) -> None:
    """Once one field is garbage no position in the line can be trusted."""
    scan = one(f"20.0,{token},22.0\n".encode())
    assert scan.is_bad and scan.values == ()
    assert scan.notes  # counted and explained


def test_numbers_beyond_physics_are_passed_on_for_the_engine_to_judge() -> None:
    """The range rule lives in the engine (out_of_range, tests/test_engine_out_of_range.py):
    the parser passes the device's number on unchanged rather than judging it a second time."""
    assert triples(one(b"-300,2500.5,-273.15\n")) == [
        (0, -300.0, Status.OK), (1, 2500.5, Status.OK), (2, -273.15, Status.OK)]


def test_comments_and_blank_lines_are_not_scans() -> None:
    parser = LineParser()
    assert parser.feed(b"# CryoGuard TC box v2\n\r\n\n   \n#1,2,3\n") == []
    assert parser.bad_lines == 0


def test_wholly_unreadable_line_is_one_bad_frame_and_parsing_goes_on() -> None:
    parser = LineParser()
    scans = parser.feed(b"hello world\nL4R=x\n7.5\n")
    assert scans[0].values == () and scans[0].is_bad and "'hello'" in scans[0].notes[0]
    assert scans[1].is_bad  # a key with no readable value
    assert triples(scans[2]) == [(0, 7.5, Status.OK)]
    assert parser.bad_lines == 2


@pytest.mark.parametrize(("line", "words"), [
    (b"a=1 a=2\n", "repeated"), (b"a=1 junk\n", "without a channel key"),
    (b"a=1 @!=3\n", "bad channel key"), (b"a=1,2.5\n", "without a channel key"),
    (b"a=1 b=hot\n", "bad value"),
])
def test_keyed_line_problems_make_the_line_bad(line: bytes, words: str) -> None:
    scan = one(line)
    assert scan.is_bad and words in scan.notes[0]


def test_split_across_feeds_and_several_lines_per_feed() -> None:
    parser = LineParser()
    assert parser.feed(b"1.5,2") == []
    assert parser.feed(b".5\r") == []
    scans = parser.feed(b"\n3,4\n5,6\n7")
    assert [triples(s) for s in scans] == [
        [(0, 1.5, Status.OK), (1, 2.5, Status.OK)],
        [(0, 3.0, Status.OK), (1, 4.0, Status.OK)],
        [(0, 5.0, Status.OK), (1, 6.0, Status.OK)],
    ]


def test_overlong_line_is_bad_data_and_memory_stays_bounded() -> None:
    parser = LineParser()
    for _ in range(100):  # 400 KiB without a newline
        assert parser.feed(b"1" * 4096) == []
        assert len(parser._buf) <= MAX_LINE
    scans = parser.feed(b"\n12.0\n")
    assert scans[0].is_bad and "longer than" in scans[0].notes[0]
    assert triples(scans[1]) == [(0, 12.0, Status.OK)]


def test_line_exactly_at_limit_is_accepted() -> None:
    body = b" " * (MAX_LINE - 4) + b"12.5"
    assert triples(one(body + b"\n"))[0][2] is Status.OK


# Millivolts -------------------------------------------------------------------------------

def test_mv_with_fixed_cold_junction() -> None:
    parser = LineParser(LineSettings(units="mV", tc_type="T", cjc_c=23.0))
    scan = one(b"-4.000,OPEN,-7.5\n", parser)
    assert scan.values[0].temp_c == pytest.approx(-90.011, abs=0.001)
    assert scan.values[1].status is Status.OPEN
    assert scan.values[2].status is Status.UNDER_RANGE


def test_mv_with_cold_junction_channel_from_the_same_scan() -> None:
    parser = LineParser(LineSettings(units="mV", tc_type="T", cjc_channel="cj"))
    scan = one(b"tip=-4.000 cj=23.0\n", parser)
    assert scan.values[0].temp_c == pytest.approx(-90.011, abs=0.001)
    assert triples(scan)[1] == ("cj", 23.0, Status.OK)  # the CJ itself stays in °C
    # The cold junction value changes each scan and is used as it comes.
    scan2 = one(b"tip=-4.000 cj=0.0\n", parser)
    expected, _ = thermocouple.mv_to_celsius("T", -4.0, 0.0)
    assert scan2.values[0].temp_c == pytest.approx(expected, abs=1e-9)
    assert scan2.values[0].temp_c != pytest.approx(scan.values[0].temp_c, abs=1.0)


def test_mv_without_a_usable_cold_junction_is_bad_data_never_a_guess() -> None:
    for line in (b"-4.0,1.0,OPEN\n", b"-4.0,1.0\n"):
        scan = one(line, LineParser(LineSettings(units="mV", tc_type="T", cjc_channel=2)))
        assert [v.status for v in scan.values[:2]] == [Status.BAD_DATA, Status.BAD_DATA]
        assert any("cold-junction" in n for n in scan.notes)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"units": "mV"}, "tc_type"),
    ({"units": "mV", "tc_type": "T"}, "cold junction"),
    ({"units": "mV", "tc_type": "Z", "cjc_c": 20.0}, "supported"),
    ({"units": "F"}, "units"),
])
def test_incomplete_mv_settings_are_rejected(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        LineSettings(**kwargs).validated()  # type: ignore[arg-type]


# Fuzzing ------------------------------------------------------------------------------------

@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_never_raise(data: bytes) -> None:
    parser = LineParser()
    for scan in parser.feed(data):
        for v in scan.values:
            assert (v.status is Status.OK) == (v.temp_c is not None)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400).filter(lambda b: not any(48 <= c <= 57 for c in b)))
def test_garbage_without_digits_never_yields_a_temperature(data: bytes) -> None:
    for scan in LineParser().feed(data + b"\n"):
        assert all(v.status is not Status.OK for v in scan.values)


@settings(max_examples=300, deadline=None)
@given(garbage=st.binary(max_size=300), values=st.lists(
    st.floats(-200, 200, allow_nan=False).map(lambda x: round(x, 2)), min_size=1, max_size=8))
def test_valid_line_after_garbage_is_read_correctly(garbage: bytes, values: list[float]) -> None:
    parser = LineParser(LineSettings(scan_width=len(values)))
    parser.feed(garbage)
    line = ",".join(f"{v:.2f}" for v in values).encode()
    scans = parser.feed(b"\n" + line + b"\n")
    assert triples(scans[-1]) == [(i, v, Status.OK) for i, v in enumerate(values)]


_NOT_NUMERIC = st.sampled_from(list("abcdfghijkmpqrstuvwxyz!@$%^&*()[]{}'\"?/\\|~`;\x00\x7f\xff"))


@settings(max_examples=300, deadline=None)
@given(values=st.lists(st.floats(-200, 200, allow_nan=False).map(lambda x: round(x, 1)),
                       min_size=1, max_size=8),
       data=st.data())
def test_mutated_value_is_bad_data_never_another_number(values: list[float],
                                                        data: st.DataObject) -> None:
    tokens = [f"{v:.1f}" for v in values]
    target = data.draw(st.integers(0, len(tokens) - 1))
    tok = tokens[target]
    pos = data.draw(st.integers(0, len(tok)))
    junk = data.draw(_NOT_NUMERIC)
    tokens[target] = tok[:pos] + junk + tok[pos:]
    line = ",".join(tokens).encode("latin-1")
    scans = LineParser().feed(line + b"\n")
    assert len(scans) == 1
    assert scans[0].is_bad and scans[0].values == ()  # never another number, nowhere


@given(st.text(max_size=30))
def test_parse_token_never_raises_and_ok_means_finite(text: str) -> None:
    value, status = parse_token(text)
    assert (status is Status.OK) == (value is not None)
