"""The IEC 60601-1-8 auditory alarm signals as numbers: pulse shape and burst pattern per priority.

Pure data (no numpy), so the terminal-bell scheduler and the sound generator share one source.
Every number sits inside the standard's range with a margin, whether a time is read between the
90 % points of the envelope or between its 50 % points; the ranges and their public sources are
in docs/audio.md. Times of a pulse are taken from its envelope: a linear rise from silence to
full level, a flat top and a linear fall as long as the rise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from monitor.model import Priority

SAMPLE_RATE_HZ = 44_100  # the WAV files and the sound device (the contract allows 44.1 or 48 kHz)
PULSE_HZ = 500.0  # pulse (fundamental) frequency, inside 150-1000 Hz
# Relative amplitudes of harmonics 1..5 (500-2500 Hz): 0, -3, -5, -7, -9 dB. Four harmonics
# above the fundamental lie in 300-4000 Hz within 15 dB of it (docs/audio.md).
HARMONICS: tuple[float, ...] = (1.0, 0.7, 0.55, 0.45, 0.35)
RISE_FRACTION = 0.15  # rise time (10 %-90 %) as a share of the effective pulse duration


@dataclass(frozen=True, slots=True)
class Pulse:
    """One pulse: fundamental, harmonics, and its envelope.

    ``effective_s`` is the pulse duration between the 90 % points of the envelope (rise and
    fall); ``rise_s`` the time from 10 % to 90 % of full level.
    """

    pulse_hz: float
    harmonics: tuple[float, ...]
    effective_s: float
    rise_fraction: float = RISE_FRACTION

    @property
    def rise_s(self) -> float:
        return self.effective_s * self.rise_fraction

    @property
    def ramp_s(self) -> float:
        """Time from silence to full level (the 10-90 % rise is 80 % of it)."""
        return self.rise_s / 0.8

    @property
    def flat_s(self) -> float:
        return self.effective_s - 0.2 * self.ramp_s

    @property
    def length_s(self) -> float:
        """From the first to the last non-zero sample."""
        return 2.0 * self.ramp_s + self.flat_s


@dataclass(frozen=True, slots=True)
class Burst:
    """The pulses of one burst, by their start times, and the silence before the next burst.

    ``interburst_s`` runs from the end of the last pulse to the start of the next burst's first
    pulse; ``None`` means the burst is not repeated (low priority sounds once).
    """

    priority: Priority
    pulse: Pulse
    onsets_s: tuple[float, ...]
    interburst_s: float | None

    @property
    def pulses(self) -> int:
        return len(self.onsets_s)

    @property
    def duration_s(self) -> float:
        return self.onsets_s[-1] + self.pulse.length_s

    @property
    def repeat_s(self) -> float | None:
        """Start of one burst to the start of the next (``None``: not repeated)."""
        return None if self.interburst_s is None else self.duration_s + self.interburst_s


def _onsets(pulse: Pulse, spacing_s: float, groups: tuple[tuple[int, ...], ...],
            group_gap_s: float = 0.0) -> tuple[float, ...]:
    """Pulse start times: ``groups`` of slot numbers, one slot = duration + spacing.

    A missing slot number leaves the gap of one pulse (the high-priority "3 + 2": the gap
    between the 3rd and 4th pulses is twice the spacing plus one pulse duration).
    ``group_gap_s`` is the silence between the end of one group and the start of the next.
    """
    slot = pulse.effective_s + spacing_s
    out: list[float] = []
    start = 0.0
    for group in groups:
        if out:
            start = out[-1] + pulse.effective_s + group_gap_s
        out.extend(start + n * slot for n in group)
    return tuple(round(t, 6) for t in out)


HIGH_PULSE = Pulse(PULSE_HZ, HARMONICS, effective_s=0.150)  # 75-200 ms
MEDIUM_PULSE = Pulse(PULSE_HZ, HARMONICS, effective_s=0.200)  # 125-250 ms
HIGH_SPACING_S = 0.100  # "x": 50-125 ms
MEDIUM_SPACING_S = 0.200  # "y": 125-250 ms
HIGH_HALF_GAP_S = 0.700  # between the 5th and 6th pulses: 0.35-1.30 s
HIGH_INTERBURST_S = 3.0  # 2.5-15 s
MEDIUM_INTERBURST_S = 6.0  # 2.5-30 s

BURSTS: Mapping[Priority, Burst] = MappingProxyType({
    Priority.HIGH: Burst(Priority.HIGH, HIGH_PULSE, _onsets(
        HIGH_PULSE, HIGH_SPACING_S, ((0, 1, 2, 4, 5), (0, 1, 2, 4, 5)), HIGH_HALF_GAP_S),
        HIGH_INTERBURST_S),
    Priority.MEDIUM: Burst(Priority.MEDIUM, MEDIUM_PULSE, _onsets(
        MEDIUM_PULSE, MEDIUM_SPACING_S, ((0, 1, 2),)), MEDIUM_INTERBURST_S),
    Priority.LOW: Burst(Priority.LOW, MEDIUM_PULSE, (0.0,), None),
})
