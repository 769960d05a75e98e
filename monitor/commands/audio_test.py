"""``cryoguard audio-test``: play the alarm signals on the speakers, or write them as WAV files.

A team runs it before a case to hear that the speakers work and are loud enough; the WAV files
let anyone check the signals in an audio tool against IEC 60601-1-8 (docs/audio.md).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

PRIORITIES = ("high", "medium", "low")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "audio-test", help="play the alarm sounds (or write them as WAV) to check the speakers",
        description="Play the IEC 60601-1-8 alarm signals on the sound device: two bursts of "
                    "each priority with the interburst interval between them (one burst for "
                    "low). With --out, write them as mono 16-bit 44.1 kHz WAV instead.")
    parser.add_argument("--priority", choices=(*PRIORITIES, "all"), default="all",
                        help="which signal (default: all, high first)")
    parser.add_argument("--out", type=Path, metavar="FILE.wav",
                        help="write a WAV file instead of playing; with --priority all, one "
                             "file per priority named FILE-high.wav, FILE-medium.wav, "
                             "FILE-low.wav")
    parser.set_defaults(func=run)


def _targets(out: Path, chosen: list[str]) -> list[Path]:
    if len(chosen) == 1:
        return [out]
    suffix = out.suffix or ".wav"
    return [out.with_name(f"{out.stem}-{name}{suffix}") for name in chosen]


def run(args: argparse.Namespace) -> int:
    from monitor.audio.signals import check_sequence, write_wav
    from monitor.errors import CryoGuardError, UsageError
    from monitor.model import Priority

    chosen = list(PRIORITIES) if args.priority == "all" else [args.priority]
    if args.out is not None:
        if args.out.is_dir():
            raise UsageError(f"--out: {args.out} is a directory; give a file name")
        for name, target in zip(chosen, _targets(args.out, chosen), strict=True):
            try:
                write_wav(target, check_sequence(Priority.parse(name)))
            except OSError as exc:
                raise CryoGuardError(f"cannot write {target}: {exc.strerror or exc}") from exc
            print(f"wrote {target} ({name} priority)")
        return 0
    return _play([Priority.parse(name) for name in chosen])


def _play(priorities: list[object]) -> int:
    """Play on the speakers; without a device, ring the bell pattern and say so (exit 1)."""
    from monitor.audio.player import BackendFailed, TerminalBell, sound_device
    from monitor.audio.signals import check_sequence
    from monitor.audio.spec import BURSTS, SAMPLE_RATE_HZ
    from monitor.model import Priority

    chosen = [p for p in priorities if isinstance(p, Priority)]
    try:
        sounddevice, device = sound_device()
    except BackendFailed as exc:
        print(f"cryoguard: cannot play on the speakers: {exc}", file=sys.stderr)
        bell = TerminalBell()
        if not bell.available:
            print(f"cryoguard: and no terminal bell either: {bell.problem}", file=sys.stderr)
            return 1
        print("cryoguard: ringing the terminal bell pattern instead", file=sys.stderr)
        for priority in chosen:
            burst = BURSTS[priority]
            repeats = 1 if burst.interburst_s is None else 2
            for n in range(repeats):
                start = time.monotonic()
                for onset in burst.onsets_s:
                    time.sleep(max(0.0, start + onset - time.monotonic()))
                    bell.ring()
                if n + 1 < repeats and burst.interburst_s is not None:
                    time.sleep(burst.duration_s - burst.onsets_s[-1] + burst.interburst_s)
        bell.close()
        return 1
    try:
        for priority in chosen:
            print(f"playing {priority.label} priority on {device}")
            sounddevice.play(check_sequence(priority), SAMPLE_RATE_HZ, blocking=True)
    except Exception as exc:  # PortAudioError mid-play: the check failed, say so
        print(f"cryoguard: playing failed: {exc}", file=sys.stderr)
        return 1
    return 0
