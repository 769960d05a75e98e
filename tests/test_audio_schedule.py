"""When bursts start (monitor/audio/schedule.py), at the exact boundaries.

IEC 60601-1-8 repeats a high or medium burst at its burst interval: the next burst is due when
the interval has passed, not one tick later, and a louder alarm starts its burst at once.
"""

from __future__ import annotations

import pytest

from monitor.audio.schedule import BurstScheduler
from monitor.audio.spec import BURSTS
from monitor.model import Priority


@pytest.mark.parametrize("priority", [Priority.HIGH, Priority.MEDIUM])
def test_the_next_burst_is_due_exactly_one_repeat_interval_after_the_last(
        priority: Priority) -> None:
    repeat = BURSTS[priority].repeat_s
    assert repeat is not None
    scheduler = BurstScheduler()
    assert scheduler.due(0.0, priority) is priority
    assert scheduler.due(repeat - 0.001, priority) is None
    assert scheduler.due(repeat, priority) is priority
    assert scheduler.next_at() == pytest.approx(2 * repeat)  # counts from this burst


def test_a_louder_alarm_starts_its_burst_at_once_and_the_same_priority_waits() -> None:
    scheduler = BurstScheduler()
    assert scheduler.due(0.0, Priority.LOW) is Priority.LOW
    assert scheduler.due(0.1, Priority.MEDIUM) is Priority.MEDIUM
    assert scheduler.due(0.2, Priority.MEDIUM) is None
    assert scheduler.due(0.3, Priority.HIGH) is Priority.HIGH
