"""Sample the alarm signals of :mod:`monitor.audio.spec` with numpy, and write them as WAV.

The samples are float32 in [-1, 1]; :func:`write_wav` stores mono 16-bit PCM with the stdlib
``wave`` module, so a file made here opens in any audio tool (``sox``, Audacity) for checking.
"""

from __future__ import annotations

import io
import math
import os
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt

from monitor.audio.spec import BURSTS, SAMPLE_RATE_HZ, Burst, Pulse
from monitor.files import write_private
from monitor.model import Priority

Samples = npt.NDArray[np.float32]
PEAK = 0.89  # full scale minus 1 dB: no clipping after a resampler's overshoot


def envelope(pulse: Pulse, rate_hz: int = SAMPLE_RATE_HZ) -> npt.NDArray[np.float64]:
    """The pulse's amplitude envelope: linear rise, flat top, linear fall (peak 1)."""
    n = max(1, round(pulse.length_s * rate_hz))
    t = (np.arange(n) + 0.5) / rate_hz
    ramp = pulse.ramp_s
    rise = np.clip(t / ramp, 0.0, 1.0)
    fall = np.clip((pulse.length_s - t) / ramp, 0.0, 1.0)
    return np.minimum(rise, fall)


def tone(pulse: Pulse, n: int, rate_hz: int = SAMPLE_RATE_HZ) -> npt.NDArray[np.float64]:
    """``n`` samples of the harmonic complex, normalised to a peak of 1."""
    t = np.arange(n) / rate_hz
    wave_ = np.zeros(n)
    for k, amplitude in enumerate(pulse.harmonics, start=1):
        # Staggered phases keep the crest factor low (more loudness for the same peak).
        wave_ += amplitude * np.sin(2.0 * math.pi * k * pulse.pulse_hz * t + k * k * 0.7)
    peak = float(np.max(np.abs(wave_))) if n else 1.0
    return wave_ / peak if peak > 0 else wave_


def pulse_samples(pulse: Pulse, rate_hz: int = SAMPLE_RATE_HZ) -> Samples:
    env = envelope(pulse, rate_hz)
    return (PEAK * env * tone(pulse, env.size, rate_hz)).astype(np.float32)


def burst_samples(burst: Burst, rate_hz: int = SAMPLE_RATE_HZ) -> Samples:
    """One burst, from the start of its first pulse to the end of its last."""
    one = pulse_samples(burst.pulse, rate_hz)
    out = np.zeros(round(burst.duration_s * rate_hz) + 1, dtype=np.float32)
    for onset in burst.onsets_s:
        start = round(onset * rate_hz)
        out[start:start + one.size] += one[:max(0, out.size - start)]
    return out


def check_sequence(priority: Priority, rate_hz: int = SAMPLE_RATE_HZ) -> Samples:
    """What ``cryoguard audio-test`` plays: two bursts with the interburst interval between
    them (one burst for a priority that does not repeat), plus a short silence at each end."""
    burst = BURSTS[priority]
    one = burst_samples(burst, rate_hz)
    edge = np.zeros(round(0.2 * rate_hz), dtype=np.float32)
    if burst.interburst_s is None:
        return np.concatenate([edge, one, edge])
    gap = np.zeros(round(burst.interburst_s * rate_hz), dtype=np.float32)
    return np.concatenate([edge, one, gap, one, edge])


def to_pcm16(samples: Samples) -> bytes:
    clipped = np.clip(samples, -1.0, 1.0)
    return (np.round(clipped * 32767.0).astype("<i2")).tobytes()


def write_wav(path: str | os.PathLike[str], samples: Samples,
              rate_hz: int = SAMPLE_RATE_HZ) -> Path:
    """Mono 16-bit PCM WAV, created owner-only and never through a symlink."""
    target = Path(path)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate_hz)
        out.writeframes(to_pcm16(samples))
    write_private(target, buffer.getvalue())
    return target
