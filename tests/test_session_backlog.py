"""The one backlog policy, without threads: what is dropped, what never is, what is counted."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.model import Reading
from monitor.sessions.backlog import EVENT, INPUT, READINGS, Backlog


def batch(t0: float, n: int) -> list[Reading]:
    return [Reading(t0 + k * 0.1, "N1", 20.0) for k in range(n)]


def test_oldest_waiting_readings_go_first_inputs_and_events_never() -> None:
    backlog = Backlog(max_readings=100)
    backlog.put(INPUT, (0.0, "ack", {}), wake=False)
    for i in range(12):
        backlog.put_readings(batch(i * 1.0, 10))
        if i == 5:
            backlog.put(EVENT, (5.0, "alarm.raised", {"t": 5.0}), wake=True)
    # Past the limit (110 > 100) the oldest go down to 90 % of it: 20 dropped; the last batch
    # fills it to the limit again without dropping.
    assert backlog.dropped.count == 20
    assert (backlog.dropped.first_t, backlog.dropped.last_t) == (0.0, 1.9)
    items = backlog.take(held=0)
    kinds = [k for k, _s, _p in items]
    assert kinds.count(INPUT) == 1 and kinds.count(EVENT) == 1
    readings = [r for k, _s, p in items if k == READINGS for r in p]
    assert len(readings) == 100 and readings[0].t == 2.0
    # Sequence numbers keep their place: the first kept reading is the 21st handed over
    # (after the input, seq 0).
    assert next(s for k, s, _p in items if k == READINGS) == 21


def test_what_the_writer_holds_counts_toward_the_limit() -> None:
    backlog = Backlog(max_readings=100)
    backlog.put_readings(batch(0.0, 80))
    backlog.take(held=0)  # the writer took 80 and cannot write them
    backlog.put_readings(batch(8.0, 30))  # 80 held + 30 waiting > 100
    assert backlog.held == 80
    assert backlog.dropped.count == 20  # 90 % of the limit: 80 held + 10 waiting
    assert next(r.t for _k, _s, p in backlog.take(held=80) for r in p) == 10.0


def test_after_close_nothing_is_taken_in_and_it_is_counted() -> None:
    backlog = Backlog(max_readings=10)
    assert backlog.close(3.0) and not backlog.close(4.0)
    assert backlog.close_t == 3.0
    assert not backlog.put_readings(batch(0.0, 3))
    assert not backlog.put(EVENT, (0.0, "x", {}), wake=True)
    assert (backlog.late, backlog.late_readings) == (4, 3)
    assert backlog.take(held=0) == []


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 60), st.lists(st.tuples(st.integers(0, 25), st.booleans()), max_size=40))
def test_memory_stays_bounded_and_every_reading_is_counted(limit: int,
                                                          steps: list[tuple[int, bool]]
                                                          ) -> None:
    backlog = Backlog(max_readings=limit)
    handed = taken = 0
    held = 0
    for size, take in steps:
        backlog.put_readings(batch(0.0, size))
        handed += size
        if take:  # the writer takes everything and cannot write it
            got = sum(len(p) for k, _s, p in backlog.take(held=held) if k == READINGS)
            taken += got
            held += got
        with backlog.lock:
            waiting = backlog.waiting_count()
        assert waiting + held <= max(limit, held)  # only what the writer holds may exceed
    with backlog.lock:
        waiting = backlog.waiting_count()
    assert handed == taken + waiting + backlog.dropped.count
