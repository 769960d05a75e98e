"""The alarm sound measured as a listener's instrument would: from the WAV file, not the generator.

``cryoguard audio-test --out`` writes each priority's signal; the analysis below reads the file
back and measures it with the definitions of IEC 60601-1-8 (Tables 3 and 4, Figure 1, as
publicly described; sources in docs/audio.md): pulses are where the envelope is up, the rise
time runs from 10 % to 90 % of the pulse's level, the effective pulse duration and the pulse
spacing are read between the 90 % points (and, for a reader of Figure 1 who takes the 50 %
points, between those too), the pulse frequency is the fundamental of the spectrum of a pulse.
The limits are the standard's numbers, written here, never the generator's constants.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from monitor.cli import main

Array = npt.NDArray[np.float64]

# IEC 60601-1-8 Table 4 (pulse) and Table 3 (burst): the standard's ranges in seconds / Hz.
PULSE_HZ = (150.0, 1000.0)
HARMONIC_BAND_HZ = (300.0, 4000.0)
HARMONICS_MIN = 4
HARMONIC_WITHIN_DB = 15.0
RISE_SHARE = (0.10, 0.20)
PULSE_AMPLITUDE_SPREAD_DB = 10.0
EFFECTIVE_S = {"high": (0.075, 0.200), "medium": (0.125, 0.250), "low": (0.125, 0.250)}
SPACING_S = {"high": (0.050, 0.125), "medium": (0.125, 0.250), "low": (0.125, 0.250)}
HIGH_HALF_GAP_S = (0.35, 1.30)  # between the 5th and the 6th pulse
INTERBURST_S = {"high": (2.5, 15.0), "medium": (2.5, 30.0)}
PULSES = {"high": (10,), "medium": (3,), "low": (1, 2)}
BURST_SPLIT_S = 2.0  # longer than any spacing inside a burst (1.3 s), shorter than 2.5 s


def read_wav(path: Path) -> tuple[int, Array]:
    with wave.open(str(path), "rb") as wav:
        assert wav.getnchannels() == 1, "mono"
        assert wav.getsampwidth() == 2, "16-bit PCM"
        assert wav.getcomptype() == "NONE"
        rate = wav.getframerate()
        assert rate in (44_100, 48_000)
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    return rate, data.astype(np.float64) / 32768.0


def moving_rms(x: Array, window: int) -> Array:
    """RMS over ``window`` samples centred on each sample."""
    window = max(1, window)
    power = np.concatenate([[0.0], np.cumsum(x * x)])
    half = window // 2
    lo = np.clip(np.arange(x.size) - half, 0, x.size)
    hi = np.clip(lo + window, 0, x.size)
    return np.sqrt((power[hi] - power[lo]) / np.maximum(1, hi - lo))


def segments(above: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """[start, end) index runs where ``above`` is true."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], above.astype(np.int8), [0]])))
    return list(zip(edges[0::2].tolist(), edges[1::2].tolist(), strict=True))


@dataclass
class Pulse:
    level: float
    rise: dict[float, float]  # fraction of level -> time of the crossing on the rising edge
    fall: dict[float, float]

    def duration(self, at: float) -> float:
        return self.fall[at] - self.rise[at]

    @property
    def rise_time(self) -> float:
        return self.rise[0.9] - self.rise[0.1]


def crossing(env: Array, start: int, stop: int, level: float, rate: int) -> float:
    """Time where ``env`` first crosses ``level`` going from index ``start`` toward ``stop``."""
    step = 1 if stop > start else -1
    i = start
    while i != stop and env[i] < level:
        i += step
    j = i - step
    if env[i] == env[j]:
        return i / rate
    frac = (level - env[j]) / (env[i] - env[j])
    return (j + step * frac) / rate


@dataclass
class Analysis:
    rate: int
    pulse_hz: float
    harmonics_db: dict[int, float]  # harmonic number -> level relative to the fundamental
    bursts: list[list[Pulse]]


def fundamental(x: Array, rate: int) -> tuple[float, dict[int, float]]:
    """Pulse frequency and harmonic levels from the spectrum of one pulse's steady part."""
    n = 1 << 18  # zero padding: 0.17 Hz bins at 44.1 kHz
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size), n))
    freqs = np.fft.rfftfreq(n, 1.0 / rate)
    db = 20 * np.log10(spectrum / spectrum.max() + 1e-12)
    peaks = [i for i in range(1, db.size - 1)
             if db[i] > -30.0 and db[i] >= db[i - 1] and db[i] >= db[i + 1]]
    assert peaks, "no tone in the pulse"
    f0 = float(freqs[min(peaks)])
    levels: dict[int, float] = {}
    for k in range(1, int(HARMONIC_BAND_HZ[1] // f0) + 2):
        band = (freqs > k * f0 * 0.98) & (freqs < k * f0 * 1.02)
        levels[k] = float(db[band].max())
    return f0, {k: v - levels[1] for k, v in levels.items()}


def analyse(path: Path) -> Analysis:
    rate, x = read_wav(path)
    rough = moving_rms(x, int(0.010 * rate))
    runs = segments(rough > 0.5 * rough.max())
    assert runs, "silent file"
    longest = max(runs, key=lambda r: r[1] - r[0])
    fifth = (longest[1] - longest[0]) // 5
    middle = x[longest[0] + fifth: longest[1] - fifth]
    f0, harmonics = fundamental(middle, rate)
    # Envelope: RMS over exactly one period of the pulse frequency (no ripple from the tone).
    env = moving_rms(x, round(rate / f0))
    pulses: list[Pulse] = []
    runs = segments(env > 0.5 * env.max())
    for n, (start, end) in enumerate(runs):
        peak = float(env[start:end].max())
        # Search each edge only as far as the neighbouring pulse.
        lo = (runs[n - 1][1] + start) // 2 if n else max(0, start - int(0.2 * rate))
        hi = ((end + runs[n + 1][0]) // 2 if n + 1 < len(runs)
              else min(env.size - 1, end + int(0.2 * rate)))
        top = start + int(np.argmax(env[start:end]))
        rise = {f: crossing(env, lo, top, f * peak, rate) for f in (0.1, 0.5, 0.9)}
        fall = {f: crossing(env, hi, top, f * peak, rate) for f in (0.1, 0.5, 0.9)}
        pulses.append(Pulse(peak, rise, fall))
    bursts: list[list[Pulse]] = [[pulses[0]]]
    for prev, this in itertools.pairwise(pulses):
        if this.rise[0.9] - prev.fall[0.9] > BURST_SPLIT_S:
            bursts.append([])
        bursts[-1].append(this)
    return Analysis(rate, f0, harmonics, bursts)


def spacings(burst: list[Pulse], at: float) -> list[float]:
    return [b.rise[at] - a.fall[at] for a, b in itertools.pairwise(burst)]


def within(value: float, bounds: tuple[float, float]) -> bool:
    return bounds[0] <= value <= bounds[1]


@pytest.fixture(scope="module")
def wavs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Analysis]:
    out = tmp_path_factory.mktemp("audio")
    result = {}
    for priority in ("high", "medium", "low"):
        path = out / f"{priority}.wav"
        assert main(["audio-test", "--priority", priority, "--out", str(path)]) == 0
        result[priority] = analyse(path)
    return result


@pytest.mark.parametrize("priority", ["high", "medium", "low"])
def test_pulse_frequency_and_harmonics(wavs: dict[str, Analysis], priority: str) -> None:
    a = wavs[priority]
    assert within(a.pulse_hz, PULSE_HZ), a.pulse_hz
    strong = [k for k, level in a.harmonics_db.items()
              if k >= 2 and within(k * a.pulse_hz, HARMONIC_BAND_HZ)
              and abs(level) <= HARMONIC_WITHIN_DB]
    # At least four harmonic components (above the fundamental) in 300-4000 Hz within 15 dB.
    assert len(strong) >= HARMONICS_MIN, a.harmonics_db


@pytest.mark.parametrize("priority", ["high", "medium", "low"])
@pytest.mark.parametrize("at", [0.9, 0.5])
def test_pulse_durations_and_rise_times(wavs: dict[str, Analysis], priority: str,
                                        at: float) -> None:
    for burst in wavs[priority].bursts:
        for pulse in burst:
            td = pulse.duration(at)
            assert within(td, EFFECTIVE_S[priority]), (at, td)
            assert within(pulse.rise_time / td, RISE_SHARE), (at, pulse.rise_time, td)
        levels = [p.level for p in burst]
        assert 20 * np.log10(max(levels) / min(levels)) <= PULSE_AMPLITUDE_SPREAD_DB


@pytest.mark.parametrize("at", [0.9, 0.5])
def test_high_priority_burst_is_ten_pulses_three_two_pause_three_two(
        wavs: dict[str, Analysis], at: float) -> None:
    bursts = wavs["high"].bursts
    assert len(bursts) == 2, "two bursts with the interburst interval between them"
    for burst in bursts:
        assert len(burst) in PULSES["high"]
        ts = spacings(burst, at)
        x = [ts[i] for i in (0, 1, 3, 5, 6, 8)]  # 1-2, 2-3, 4-5, 6-7, 7-8, 9-10
        assert all(within(v, SPACING_S["high"]) for v in x), ts
        assert max(x) - min(x) <= 0.05 * np.mean(x), "one spacing x within the burst"
        td = np.mean([p.duration(at) for p in burst])
        for i in (2, 7):  # 3rd-4th and 8th-9th: 2x + td (one pulse left out)
            assert abs(ts[i] - (2 * np.mean(x) + td)) <= 0.005, (i, ts[i])
        assert within(ts[4], HIGH_HALF_GAP_S), ts[4]  # 5th-6th
    gap = bursts[1][0].rise[at] - bursts[0][-1].fall[at]
    assert within(gap, INTERBURST_S["high"]), gap


@pytest.mark.parametrize("at", [0.9, 0.5])
def test_medium_priority_burst_is_three_pulses(wavs: dict[str, Analysis], at: float) -> None:
    bursts = wavs["medium"].bursts
    assert len(bursts) == 2
    for burst in bursts:
        assert len(burst) in PULSES["medium"]
        ts = spacings(burst, at)
        assert all(within(v, SPACING_S["medium"]) for v in ts), ts
        assert max(ts) - min(ts) <= 0.05 * np.mean(ts)
    gap = bursts[1][0].rise[at] - bursts[0][-1].fall[at]
    assert within(gap, INTERBURST_S["medium"]), gap


def test_low_priority_is_one_burst_of_one_or_two_pulses(wavs: dict[str, Analysis]) -> None:
    bursts = wavs["low"].bursts
    assert len(bursts) == 1, "low priority sounds once"
    assert len(bursts[0]) in PULSES["low"]
    for ts in spacings(bursts[0], 0.9):
        assert within(ts, SPACING_S["low"])


def test_priorities_sound_different(wavs: dict[str, Analysis]) -> None:
    counts = {p: len(a.bursts[0]) for p, a in wavs.items()}
    assert len(set(counts.values())) == 3, counts


def test_all_priorities_from_the_installed_command(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("cryoguard")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "monitor.cli"]
    done = subprocess.run([*cmd, "audio-test", "--out", str(tmp_path / "check.wav")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["check-high.wav", "check-low.wav", "check-medium.wav"]
    for path in tmp_path.iterdir():
        assert path.stat().st_mode & 0o777 == 0o600
        assert analyse(path).bursts


def test_out_into_a_directory_is_a_usage_error(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audio-test", "--priority", "high", "--out", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err
