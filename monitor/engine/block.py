"""Columnar blocks of readings: how readings travel through the engine at speed.

Live code hands the engine one scan at a time and replay hands it a whole file; both become a
:class:`ReadingBlock`. Channel ids are replaced by small integers the engine assigns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from monitor.model import Reading, Status

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
I32 = NDArray[np.int32]
I8 = NDArray[np.int8]


@dataclass(frozen=True, slots=True)
class ReadingBlock:
    """Readings in input order. ``temp_c`` is NaN exactly where ``status`` is not OK."""

    t: F64
    channel: I32
    temp_c: F64
    status: I8

    def __len__(self) -> int:
        return int(self.t.shape[0])

    @classmethod
    def empty(cls) -> ReadingBlock:
        return cls(np.empty(0, np.float64), np.empty(0, np.int32), np.empty(0, np.float64),
                   np.empty(0, np.int8))

    @classmethod
    def from_readings(cls, readings: Sequence[Reading],
                      channel_index: Callable[[str], int]) -> ReadingBlock:
        n = len(readings)
        t = np.empty(n, np.float64)
        ch = np.empty(n, np.int32)
        v = np.full(n, np.nan, np.float64)
        st = np.empty(n, np.int8)
        for i, r in enumerate(readings):
            t[i] = r.t
            ch[i] = channel_index(r.channel)
            if r.temp_c is not None:
                v[i] = r.temp_c
            st[i] = int(r.status)
        return cls(t, ch, v, st)

    @classmethod
    def from_arrays(cls, t: F64, channel: I32, temp_c: F64, status: I8) -> ReadingBlock:
        """Normalise foreign arrays: an OK status needs a finite value, faults carry NaN.

        An OK reading without a number (NaN) is bad data; one at ±infinity is beyond any range,
        so out of range on its side (like a finite reading below absolute zero, which the
        channel engine turns into UNDER_RANGE).
        """
        t = np.ascontiguousarray(t, np.float64)
        if t.size and not np.isfinite(t).all():
            raise ValueError("reading times must be finite")
        status = np.ascontiguousarray(status, np.int8).copy()
        temp_c = np.ascontiguousarray(temp_c, np.float64).copy()
        ok = status == Status.OK
        status[ok & np.isnan(temp_c)] = Status.BAD_DATA
        status[ok & np.isposinf(temp_c)] = Status.OVER_RANGE
        status[ok & np.isneginf(temp_c)] = Status.UNDER_RANGE
        temp_c[status != Status.OK] = np.nan
        return cls(t, np.ascontiguousarray(channel, np.int32), temp_c, status)

    def slice(self, start: int, stop: int) -> ReadingBlock:
        return ReadingBlock(self.t[start:stop], self.channel[start:stop],
                            self.temp_c[start:stop], self.status[start:stop])
