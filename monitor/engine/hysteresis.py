"""Trip/clear state machine with a condition delay, evaluated over whole arrays.

The loop runs once per state change, not once per sample: masks say where a sample is at or
beyond the trip level and where it is past the clear level, and ``searchsorted`` jumps between
them. Between the two levels nothing changes (hysteresis, as EPICS HYST or Bluesky's
resume threshold). A pending trip is cancelled only by a sample past the clear level.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from monitor.engine.block import F64, I64


@dataclass(slots=True)
class ConditionState:
    """What a condition carries from one block to the next."""

    active: bool = False
    pending_t: float | None = None  # when the trip level was first met while a delay runs

    def quiet(self, trip: bool, clear: bool) -> bool:
        """Whether a sample with these masks changes nothing: what :func:`transitions` does
        for one sample when it returns no change (the live fast path asks this)."""
        if self.active:
            return not clear
        return self.pending_t is None and not trip


def _next(indices: I64, start: int) -> int:
    k = int(np.searchsorted(indices, start, "left"))
    return int(indices[k]) if k < indices.shape[0] else -1


def transitions(t: F64, trip: NDArray[np.bool_], clear: NDArray[np.bool_],
                state: ConditionState, delay_s: float, one_sample_cap: bool
                ) -> list[tuple[int, bool]]:
    """Indices where the condition is raised (``True``) or cleared (``False``), in order.

    ``trip`` and ``clear`` must be disjoint. With a delay the condition is raised at the first
    sample at least ``delay_s`` after the trip level was first met; ``one_sample_cap`` raises
    it at the latest on the next sample (high-priority cold conditions, docs/engine.md).
    ``state`` is updated in place for the next block.
    """
    n = t.shape[0]
    out: list[tuple[int, bool]] = []
    if n == 0:
        return out
    trip_idx = np.flatnonzero(trip)
    clear_idx = np.flatnonzero(clear)
    i = 0
    while i < n:
        if state.active:
            c = _next(clear_idx, i)
            if c < 0:
                break
            out.append((c, False))
            state.active = False
            i = c + 1
            continue
        if state.pending_t is None:
            k = _next(trip_idx, i)
            if k < 0:
                break
            state.pending_t = float(t[k])
            start, cap_at = k, k + 1
        else:
            start, cap_at = i, i  # the pending trip began in an earlier block
        due = start if delay_s <= 0 else int(np.searchsorted(t, state.pending_t + delay_s, "left"))
        due = max(due, start)
        if one_sample_cap:
            due = min(due, cap_at)
        c = _next(clear_idx, start)
        if 0 <= c <= due:
            state.pending_t = None
            i = c + 1
            continue
        if due >= n:
            break
        out.append((due, True))
        state.active = True
        state.pending_t = None
        i = due + 1
    return out
