"""CSV recordings: both layouts, bad rows with line numbers, never an exception."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.model import Status
from monitor.replay.csvsource import parse_csv


def test_long_layout_with_statuses_and_empty_values() -> None:
    data = parse_csv("t,channel,temp_c,status\n0,A,37.0,OK\n0,B,,OPEN\n0.5,A,36.5,\n")
    assert data.layout == "long" and data.channels == ["A", "B"]
    assert data.status.tolist() == [Status.OK, Status.OPEN, Status.OK]
    assert math.isnan(data.temp_c[1]) and data.temp_c[2] == 36.5
    assert data.errors == []


def test_wide_layout_with_fault_tokens() -> None:
    data = parse_csv("t,L4R,L4L\n0,37.0,36.9\n0.1,OPEN,36.8\n")
    assert data.layout == "wide" and data.channels == ["L4R", "L4L"]
    assert data.channel.tolist() == [0, 1, 0, 1]
    assert data.status.tolist() == [0, 0, Status.OPEN, 0]


def test_bad_rows_are_reported_with_line_numbers_and_counted_on_their_channel() -> None:
    text = ("# comment\nt,channel,temp_c\n0,A,37\n0.1,A,warm\n0.2,A\nxx,A,30\n"
            "0.3,A,36.0\n")
    data = parse_csv(text)
    assert [n for n, _ in data.errors] == [4, 5, 6]
    assert "warm" in data.errors[0][1]
    assert data.bad_rows == 3
    # good rows kept, bad rows become BAD_DATA readings on channel A
    assert data.status.tolist().count(Status.BAD_DATA) == 3
    assert data.temp_c[data.status == Status.OK].tolist() == [37.0, 36.0]


def test_a_file_without_a_usable_header_is_fatal_not_an_exception() -> None:
    data = parse_csv("hello world\n1,2,3\n")
    assert data.fatal is not None and "header" in data.fatal
    assert len(data) == 0


def test_ok_status_with_empty_value_is_bad_data() -> None:
    data = parse_csv("t,channel,temp_c,status\n0,A,,OK\n0.1,A,30,OK\n")
    assert data.status.tolist() == [Status.BAD_DATA, Status.OK]
    assert data.errors and data.errors[0][0] == 2


def test_non_finite_numbers_are_never_temperatures() -> None:
    data = parse_csv("t,channel,temp_c\n0,A,nan\n0.1,A,inf\n0.2,A,1e999\n0.3,A,20\n")
    assert (data.status == Status.OK).tolist() == [False, False, False, True]


def test_a_file_with_no_usable_row_is_fatal_naming_the_first_bad_row() -> None:
    data = parse_csv("t,channel,temp_c\n0,A,nan\n")
    assert data.fatal == "nothing to replay: line 2: temp_c is not a temperature: 'nan'"
    assert parse_csv("t,A\n").fatal == ("nothing to replay: the file has a header and no "
                                        "data rows")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_arbitrary_text_never_raises(text: str) -> None:
    data = parse_csv(text)
    assert data.fatal is not None or len(data.errors) <= data.bad_rows
    ok = data.status == Status.OK
    assert np.isfinite(data.temp_c[ok]).all()
    assert np.isfinite(data.t).all()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1e4), st.sampled_from(["A", "B", "C"]),
                          st.one_of(st.floats(-200, 400), st.sampled_from(["OPEN", "", "x"]))),
                max_size=50))
def test_long_rows_round_trip_or_are_reported(rows: list[tuple[float, str, object]]) -> None:
    rows = sorted(rows, key=lambda r: r[0])
    lines = ["t,channel,temp_c"] + [f"{t!r},{c},{v}" for t, c, v in rows]
    data = parse_csv("\n".join(lines))
    good = [r for r in rows if isinstance(r[2], float) or r[2] == "OPEN"]
    if not good:
        assert data.fatal is not None and data.fatal.startswith("nothing to replay")
        return
    assert len(data.errors) == len(rows) - len(good)
    assert int((data.status == Status.OK).sum()) == sum(isinstance(r[2], float) for r in rows)


def test_extra_columns_of_an_export_are_ignored() -> None:
    data = parse_csv("t,channel,temp_c,status,time\n0,A,37.0,OK,2026-01-01T00:00:00Z\n"
                     "0.1,A,,OPEN,2026-01-01T00:00:00.1Z\n")
    assert data.layout == "long" and data.errors == []
    assert data.status.tolist() == [0, Status.OPEN]
