"""Windowed least-squares slope per channel, vectorised and independent of batching.

Home Assistant's trend sensor fits a line to the samples of a trailing window; doing that per
sample in Python is far too slow for replay, so window sums come from prefix sums. Prefix sums
over a whole session lose precision, and restarting them wherever a block happens to begin would
make results depend on batching. So samples are grouped in *epochs* of ``K`` accepted samples
(fixed by sample count, not by block), each with its own time origin; a window spans at most two
epochs and the older part is shifted to the newer origin. ``np.cumsum`` continues from the carried
sum sequentially, so the same samples give bit-identical slopes however they are split.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from monitor.engine.block import F64, I64
from monitor.engine.spec import TrendSpec

# The rule, written once. Every function below works on one sample (Python or NumPy scalars)
# and on arrays alike, with the same IEEE operations in the same order, so the live one-sample
# path and the block path give bit-identical slopes.

def _is_gap(spec: TrendSpec, t: Any, prev_t: Any) -> Any:
    """A gap longer than ``max_gap_s``: no window reaches back across it."""
    return t - prev_t > spec.max_gap_s


def _first_in_window(times: Any, t: Any, spec: TrendSpec) -> Any:
    """Index of the first of ``times`` inside the window ending at ``t`` (at or after
    ``t - window_s``)."""
    return np.searchsorted(times, t - spec.window_s, "left")


def _oldest_allowed(spec: TrendSpec, g: Any) -> Any:
    """The oldest sample (global index) a window ending at ``g`` may hold: ``max_points``."""
    return g - spec.max_points + 1


def _terms(t: Any, v: Any, origin: float) -> tuple[Any, Any, Any, Any]:
    """What the prefix sums add per sample: x, y, x², xy with x from the epoch's origin."""
    x = t - origin
    return x, v, x * x, x * v


def _spill(prev: _Epoch, size: int, j: Any, d: float) -> tuple[Any, Any, Any, Any]:
    """The older epoch's part of a window (its samples ``j`` to the end), moved to the newer
    origin (``d`` = old origin - new origin)."""
    na = size - j if isinstance(j, int) else (size - j).astype(np.float64)
    ax = prev.px[size] - prev.px[j]
    ay = prev.py[size] - prev.py[j]
    axx = prev.pxx[size] - prev.pxx[j]
    axy = prev.pxy[size] - prev.pxy[j]
    return ax + na * d, ay, axx + 2.0 * d * ax + na * d * d, axy + d * ay


def _centred(n: Any, sx: Any, sy: Any, sxx: Any, sxy: Any) -> tuple[Any, Any]:
    """Centred sums of squares and products; the slope is their ratio."""
    return sxx - sx * sx / n, sxy - sx * sy / n


def _usable(spec: TrendSpec, n: Any, span: Any, cxx: Any) -> Any:
    """Enough points over a long enough span, not all at one time."""
    return (n >= spec.min_points) & (span >= spec.min_span_s) & (cxx > 0)


class _Epoch:
    __slots__ = ("n", "origin", "px", "pxx", "pxy", "py", "t")

    def __init__(self, size: int) -> None:
        self.t = np.empty(size, np.float64)
        self.px = np.zeros(size + 1, np.float64)
        self.py = np.zeros(size + 1, np.float64)
        self.pxx = np.zeros(size + 1, np.float64)
        self.pxy = np.zeros(size + 1, np.float64)
        self.n = 0
        self.origin = 0.0


class TrendState:
    """Carries one channel's recent accepted samples and returns a slope for each new one."""

    def __init__(self, spec: TrendSpec) -> None:
        self.spec = spec
        self.size = max(int(spec.max_points), 16)
        self.count = 0  # accepted samples so far on this channel
        self.cur = _Epoch(self.size)
        self.prev: _Epoch | None = None
        self._spare: _Epoch | None = None
        self.gap_start = 0  # global index of the first sample after the last long gap
        self.last_t: float | None = None

    def extend(self, t: F64, v: F64) -> F64:
        """Slopes in °C/s for the new samples (NaN where the window is too short or gappy)."""
        if t.shape[0] == 1 and self.cur.n < self.size:
            return np.array([self._extend_one(float(t[0]), float(v[0]))], np.float64)
        out = np.full(t.shape[0], np.nan, np.float64)
        done = 0
        while done < t.shape[0]:
            if self.cur.n == self.size:
                self._roll()
            take = min(self.size - self.cur.n, t.shape[0] - done)
            out[done:done + take] = self._extend_epoch(t[done:done + take], v[done:done + take])
            done += take
        return out

    def _roll(self) -> None:
        old = self.prev
        self.prev = self.cur
        self.cur = old if old is not None else _Epoch(self.size)
        self.cur.n = 0

    def _extend_epoch(self, t: F64, v: F64) -> F64:
        spec, ep, m = self.spec, self.cur, t.shape[0]
        first_local = ep.n
        if first_local == 0:
            ep.origin = float(t[0])
        g = self.count + np.arange(m, dtype=np.int64)  # global indices of the new samples
        epoch_base = self.count - first_local
        # Long gaps: a window never reaches back across one.
        prev_t = np.empty(m, np.float64)
        prev_t[0] = self.last_t if self.last_t is not None else t[0]
        prev_t[1:] = t[:-1]
        breaks = np.where(_is_gap(spec, t, prev_t), g, -1)
        gap_start = np.maximum(np.maximum.accumulate(breaks), self.gap_start)
        # Prefix sums continue sequentially from the carried sums.
        sl = slice(first_local, first_local + m + 1)
        for arr, vals in zip((ep.px, ep.py, ep.pxx, ep.pxy), _terms(t, v, ep.origin),
                             strict=True):
            arr[sl] = np.cumsum(np.concatenate((arr[first_local:first_local + 1], vals)))
        ep.t[first_local:first_local + m] = t
        ep.n += m
        # Window starts (global indices).
        if self.prev is not None:
            times = np.concatenate((self.prev.t, ep.t[:ep.n]))
            times_base = epoch_base - self.size
        else:
            times = ep.t[:ep.n]
            times_base = epoch_base
        lo = _first_in_window(times, t, spec).astype(np.int64) + times_base
        lo = np.maximum(lo, gap_start)
        lo = np.maximum(lo, _oldest_allowed(spec, g))
        # Window sums in the current epoch's origin.
        gi = g - epoch_base + 1
        li = np.maximum(lo - epoch_base, 0)
        n = (g - lo + 1).astype(np.float64)
        sx = ep.px[gi] - ep.px[li]
        sy = ep.py[gi] - ep.py[li]
        sxx = ep.pxx[gi] - ep.pxx[li]
        sxy = ep.pxy[gi] - ep.pxy[li]
        if self.prev is not None:
            spill = lo < epoch_base
            if spill.any():
                self._add_previous(spill, lo, epoch_base, sx, sy, sxx, sxy)
        self.count += m
        self.gap_start = int(gap_start[-1])
        self.last_t = float(t[-1])
        with np.errstate(invalid="ignore", divide="ignore"):
            cxx, cxy = _centred(n, sx, sy, sxx, sxy)
            slope = cxy / cxx
        span = t - times[np.clip(lo - times_base, 0, times.shape[0] - 1)]
        return np.where(_usable(spec, n, span, cxx), slope, np.nan)

    def _extend_one(self, t: float, v: float) -> float:
        """The live path (one sample): the same IEEE operations as the vectorised path, in the
        same order, so the slope is bit-identical to a replay of the same samples."""
        spec, ep, size = self.spec, self.cur, self.size
        k = ep.n
        if k == 0:
            ep.origin = t
        g = self.count
        epoch_base = g - k
        prev_t = self.last_t if self.last_t is not None else t
        gap_start = g if _is_gap(spec, t, prev_t) else self.gap_start
        x, y, xx, xy = _terms(t, v, ep.origin)
        ep.px[k + 1] = ep.px[k] + x
        ep.py[k + 1] = ep.py[k] + y
        ep.pxx[k + 1] = ep.pxx[k] + xx
        ep.pxy[k + 1] = ep.pxy[k] + xy
        ep.t[k] = t
        ep.n = k + 1
        prev = self.prev
        if prev is not None and _first_in_window(ep.t[:1], t, spec) == 0:
            lo = int(_first_in_window(prev.t, t, spec)) + epoch_base - size  # reaches into prev
        else:
            lo = int(_first_in_window(ep.t[:k + 1], t, spec)) + epoch_base
        lo = max(lo, gap_start, _oldest_allowed(spec, g))
        gi, li = k + 1, max(lo - epoch_base, 0)
        n = float(g - lo + 1)
        sx = float(ep.px[gi] - ep.px[li])
        sy = float(ep.py[gi] - ep.py[li])
        sxx = float(ep.pxx[gi] - ep.pxx[li])
        sxy = float(ep.pxy[gi] - ep.pxy[li])
        if prev is not None and lo < epoch_base:
            j = lo - (epoch_base - size)
            bx, by, bxx, bxy = _spill(prev, size, j, prev.origin - ep.origin)
            sx += float(bx)
            sy += float(by)
            sxx += float(bxx)
            sxy += float(bxy)
            start_t = float(prev.t[j])
        else:
            start_t = float(ep.t[lo - epoch_base])
        self.count = g + 1
        self.gap_start = gap_start
        self.last_t = t
        cxx, cxy = _centred(n, sx, sy, sxx, sxy)
        if _usable(spec, n, t - start_t, cxx):
            return float(cxy / cxx)
        return math.nan

    def _add_previous(self, spill: np.ndarray, lo: I64, epoch_base: int, sx: F64, sy: F64,
                      sxx: F64, sxy: F64) -> None:
        """Add the older epoch's part of each window, moved to the current origin."""
        prev = self.prev
        assert prev is not None
        j = lo[spill] - (epoch_base - self.size)
        bx, by, bxx, bxy = _spill(prev, self.size, j, prev.origin - self.cur.origin)
        sx[spill] += bx
        sy[spill] += by
        sxx[spill] += bxx
        sxy[spill] += bxy
