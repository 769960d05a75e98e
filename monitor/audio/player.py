"""Where the alarm bursts go: the speakers (sounddevice on PortAudio) or the terminal bell.

A backend is told to start a burst or to stop, and is ticked from the sound thread; it never
runs on the event loop. :func:`open_backend` tries the speakers first (unless told otherwise)
and falls back to the terminal bell when no output device opens; the fallback is reported in
:class:`AudioStatus` so the header shows it. Why sounddevice: docs/audio.md.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np

from monitor.audio.signals import Samples, burst_samples
from monitor.audio.spec import BURSTS, SAMPLE_RATE_HZ, Burst
from monitor.text import printable

Mode = Literal["auto", "speaker", "bell", "off"]
MODES: tuple[Mode, ...] = ("auto", "speaker", "bell", "off")
FADE_S = 0.005  # a stopped pulse fades out over 5 ms instead of clicking


@dataclass(frozen=True, slots=True)
class AudioStatus:
    """What the alarm sound goes through, for the header and the session record.

    ``output`` is ``speaker``, ``bell`` or ``off``; ``problem`` says why the speakers are not
    used when they were wanted (a technical condition, shown in the header), else ``""``.
    """

    output: Literal["speaker", "bell", "off"]
    requested: Mode
    problem: str = ""
    device: str = ""

    def header_entry(self) -> dict[str, str]:
        entry: dict[str, str] = {"output": self.output, "requested": self.requested}
        if self.problem:
            entry["problem"] = self.problem
        if self.device:
            entry["device"] = self.device
        return entry


class BackendFailed(Exception):
    """The output stopped working (device unplugged, terminal gone)."""


class Backend(Protocol):
    def start(self, burst: Burst, now: float) -> None: ...

    def stop(self) -> None: ...

    def busy(self, now: float) -> bool: ...

    def tick(self, now: float) -> None:
        """Do what is due now; raise :class:`BackendFailed` when the output is gone."""

    def close(self) -> None: ...


# Terminal bell ----------------------------------------------------------------------------

class TerminalBell:
    """Writes BEL to a terminal: standard error if it is one, else the controlling terminal.

    ``fd`` may be given (a display's terminal, a pipe in tests). ``available`` is False when
    there is no terminal at all: then the bell cannot be heard either.
    """

    def __init__(self, fd: int | None = None) -> None:
        self._own = False
        self.problem = ""
        if fd is None:
            fd = self._find_terminal()
        self.fd = fd

    def _find_terminal(self) -> int | None:
        try:
            err = sys.stderr.fileno()
            if os.isatty(err):
                return err
        except (AttributeError, OSError, ValueError):
            pass
        try:
            fd = os.open("/dev/tty", os.O_WRONLY | os.O_NOCTTY | os.O_CLOEXEC)
        except OSError as exc:
            self.problem = f"no terminal for the bell ({exc.strerror or exc})"
            return None
        self._own = True
        return fd

    @property
    def available(self) -> bool:
        return self.fd is not None

    def ring(self) -> None:
        if self.fd is None:
            return
        try:
            os.write(self.fd, b"\a")
        except OSError as exc:
            raise BackendFailed(f"cannot ring the terminal bell: {exc.strerror or exc}") from exc

    def close(self) -> None:
        if self._own and self.fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.fd)
        self.fd = None


class BellBackend:
    """One BEL at the start of each pulse of the burst (the terminal decides the sound)."""

    def __init__(self, bell: TerminalBell) -> None:
        self.bell = bell
        self._due: list[float] = []

    def start(self, burst: Burst, now: float) -> None:
        self._due = [now + onset for onset in burst.onsets_s]

    def stop(self) -> None:
        self._due = []

    def busy(self, now: float) -> bool:
        return bool(self._due)

    def tick(self, now: float) -> None:
        # At most one BEL per tick: overdue pulses stay separate sounds, never one blur.
        if self._due and self._due[0] <= now:
            self._due.pop(0)
            self.bell.ring()

    def close(self) -> None:
        self._due = []
        self.bell.close()


# Speakers ---------------------------------------------------------------------------------

def sound_device() -> tuple[Any, str]:
    """The sounddevice module and the name of the default output device.

    Raises :class:`BackendFailed` with a one-line reason when sounddevice, PortAudio or an
    output device is missing.
    """
    try:
        import sounddevice  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except (ImportError, OSError) as exc:  # OSError: the PortAudio library is not installed
        raise BackendFailed(f"no sound library ({printable(exc)})") from exc
    try:
        info = sounddevice.query_devices(kind="output")
    except Exception as exc:  # PortAudioError, ValueError: no output device
        raise BackendFailed(f"no sound output device ({printable(exc)})") from exc
    return sounddevice, printable(str(info.get("name", "default")))


class SpeakerBackend:
    """A PortAudio output stream fed from pre-rendered bursts by its own callback thread.

    Opening raises :class:`BackendFailed` with a one-line reason when sounddevice, PortAudio or
    an output device is missing.
    """

    def __init__(self, rate_hz: int = SAMPLE_RATE_HZ) -> None:
        self._sd, self.device = sound_device()
        self.rate_hz = rate_hz
        self._bursts = {p: burst_samples(b, rate_hz) for p, b in BURSTS.items()}
        self._lock = threading.Lock()
        self._buffer: Samples | None = None
        self._pos = 0
        self._ends_at = 0.0
        self._error = ""
        try:
            self._stream = self._sd.OutputStream(
                samplerate=rate_hz, channels=1, dtype="float32", callback=self._callback,
                finished_callback=self._finished)
            self._stream.start()
        except Exception as exc:  # PortAudioError: the device would not open
            raise BackendFailed(f"the sound device would not open ({printable(exc)})") from exc

    def _callback(self, outdata: Any, frames: int, _time: Any, status: Any) -> None:
        with self._lock:
            buffer, pos = self._buffer, self._pos
            if buffer is None:
                outdata.fill(0)
                return
            chunk = buffer[pos:pos + frames]
            outdata[:chunk.size, 0] = chunk
            outdata[chunk.size:, 0] = 0
            self._pos = pos + frames
            if self._pos >= buffer.size:
                self._buffer = None

    def _finished(self) -> None:
        if not self._error:
            self._error = "the sound device stopped"

    def start(self, burst: Burst, now: float) -> None:
        samples = self._bursts[burst.priority]
        with self._lock:
            self._buffer, self._pos = samples, 0
        self._ends_at = now + burst.duration_s

    def stop(self) -> None:
        with self._lock:
            buffer, pos = self._buffer, self._pos
            if buffer is None:
                return
            n = min(round(FADE_S * self.rate_hz), max(0, buffer.size - pos))
            tail = buffer[pos:pos + n] * np.linspace(1.0, 0.0, n, dtype=np.float32)
            self._buffer, self._pos = (tail, 0) if n else (None, 0)
        self._ends_at = 0.0

    def busy(self, now: float) -> bool:
        return self._buffer is not None and now < self._ends_at + 0.05

    def tick(self, now: float) -> None:
        if self._error:
            raise BackendFailed(self._error)
        if not self._stream.active:
            raise BackendFailed("the sound device stopped")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._stream.abort()
            self._stream.close()


def open_backend(mode: Mode, bell: TerminalBell | None = None
                 ) -> tuple[Backend | None, AudioStatus]:
    """The backend for ``mode`` and what the header says about it.

    ``auto`` and ``speaker`` try the speakers and fall back to the bell, saying why; ``bell``
    uses the bell only; ``off`` gives no backend (IEC 60601-1-8 "audio off").
    """
    if mode not in MODES:
        raise ValueError(f"audio mode must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "off":
        return None, AudioStatus("off", mode)
    problem = ""
    if mode in ("auto", "speaker"):
        try:
            speaker = SpeakerBackend()
        except BackendFailed as exc:
            problem = str(exc)
        else:
            return speaker, AudioStatus("speaker", mode, device=speaker.device)
    bell = bell if bell is not None else TerminalBell()
    if not bell.available:
        problem = "; ".join(p for p in (problem, bell.problem) if p)
    return BellBackend(bell), AudioStatus("bell", mode, problem=problem)
