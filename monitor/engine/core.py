"""The engine: readings and operator actions in, events out. Pure, synchronous, deterministic.

Like h11 or wsproto it does no IO and reads no clock: time is the readings' timestamps and the
``tick(t)`` calls that let staleness be noticed when nothing arrives. Every input takes the next
position in one sequence; events are ordered by the position where they were detected, so the
same inputs give the same events however they are split into blocks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from monitor.config import defaults
from monitor.engine.alarms import Alarm, AlarmManager, AudioState
from monitor.engine.block import F64, I64, ReadingBlock
from monitor.engine.channel import PHASE_BEFORE, Change, ChannelEngine, ChannelView
from monitor.engine.cycles import (
    CYCLE_CHANNEL,
    TARGET_PRIORITY,
    ChannelCycleStats,
    CycleChange,
    CycleSummary,
    CycleTracker,
    ProbeSamples,
    phase_event,
    target_alarm_id,
)
from monitor.engine.spec import ChannelSpec, Condition, EngineSpec
from monitor.model import Category, Event, EventType, Priority, Reading, Role, Status

OUTPUT_FAILED = "output_failed"


@dataclass(frozen=True, slots=True)
class AlarmView:
    """One alarm as the operator sees it. ``value``, ``limit``, ``trip_rate_c_per_min`` and
    ``message`` are as the alarm was raised and never follow later readings: a display shows
    the live value beside them from the channel's :class:`ChannelView`."""

    id: str
    channel: str
    condition: str
    category: str
    priority: Priority
    raised_t: float
    active: bool  # False: latched, its condition has ended, waiting for an acknowledge
    acknowledged: bool
    value: float | None  # the reading that raised it (°C)
    limit: float | None  # the level it tripped at (°C)
    message: str  # as raised
    trip_rate_c_per_min: float | None = None  # rate and prediction alarms: the slope then
    latching: bool = False
    condition_cleared_t: float | None = None  # latched alarms: when the condition ended
    detail: str | None = None  # the latest word on a standing technical alarm (outputs)

    @property
    def trip_value(self) -> float | None:
        """The reading that raised the alarm (°C); the same as ``value``."""
        return self.value

    @property
    def trip_limit(self) -> float | None:
        """The level the alarm tripped at (°C); the same as ``limit``."""
        return self.limit

    @property
    def latched(self) -> bool:
        return not self.active


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything a display needs, copied so it can be rendered anywhere, any time later."""

    t: float
    channels: tuple[ChannelView, ...]
    alarms: tuple[AlarmView, ...]  # most urgent first, then oldest
    audio: AudioState
    devices: tuple[tuple[str, str], ...]  # (device id, "connected" | "lost")
    cycle: int = 0  # freeze–thaw cycle number (0 before the first freeze)
    phase: str = "idle"  # idle | freeze | thaw_passive | thaw_active | done
    phase_started_t: float | None = None
    phase_target_s: float | None = None  # protocol target of the phase (None: no timer)
    phase_source: str = ""  # "probe P1" or "operator"

    @property
    def phase_elapsed_s(self) -> float | None:
        """Time in the current phase on the engine's clock (None outside a timed phase)."""
        if self.phase_started_t is None:
            return None
        return max(0.0, self.t - self.phase_started_t)


@dataclass(slots=True)
class _Device:
    lost: bool = False
    bad: bool = False


class Engine:
    """Detection for one session. Not thread-safe: one owner feeds it."""

    def __init__(self, spec: EngineSpec, *, t0: float | None = None) -> None:
        self.spec = spec
        self.manager = AlarmManager(spec.audio_pause_s)
        self.channels: list[ChannelEngine] = []
        self._index: dict[str, int] = {}
        self._devices: dict[str, _Device] = {}
        self._device_channels: dict[str, set[int]] = {}
        self.t0 = t0
        self.now = -math.inf
        self.cycles = CycleTracker(spec.cycles, lambda i: self.channels[i].spec)
        self._raised: list[tuple[str, str]] = []  # (channel, alarm id) of every alarm raised
        for channel in spec.channels:
            self._add_channel(channel)

    # Channels ----------------------------------------------------------------------------

    def channel_index(self, channel_id: str, device: str | None = None) -> int:
        """The engine's number for a channel; a channel not in the config is added, not lost."""
        index = self._index.get(channel_id)
        if index is None:
            spec = self.spec.spec_for_unknown(channel_id)
            if device is not None:
                spec = replace(spec, device=device)
            index = self._add_channel(spec)
        return index

    def _add_channel(self, spec: ChannelSpec) -> int:
        index = len(self.channels)
        start = self.t0 if self.t0 is not None else 0.0
        if self.now > -math.inf:
            start = self.now
        self.channels.append(ChannelEngine(index, spec, self.spec.trend, start))
        self._index[spec.id] = index
        if spec.device is not None:
            self._device_channels.setdefault(spec.device, set()).add(index)
            self._devices.setdefault(spec.device, _Device())
        return index

    # Inputs ------------------------------------------------------------------------------

    def feed(self, readings: Sequence[Reading]) -> list[Event]:
        return self.process(ReadingBlock.from_readings(readings, self.channel_index))

    def process(self, block: ReadingBlock) -> list[Event]:
        """Run a block of readings (in input order) through detection."""
        n = len(block)
        if n == 0:
            return []
        self._start(float(block.t[0]))
        now = np.maximum.accumulate(np.concatenate(([self.now], block.t)))[1:]
        changes: list[Change] = []
        order = np.argsort(block.channel, kind="stable")
        chans = block.channel[order]
        cuts = np.flatnonzero(np.diff(chans)) + 1
        starts = np.concatenate(([0], cuts))
        ends = np.concatenate((cuts, [n]))
        present: set[int] = set()
        probes: list[tuple[int, I64, F64, F64, F64]] = []
        for lo, hi in zip(starts.tolist(), ends.tolist(), strict=True):
            rows = order[lo:hi]
            ch = int(chans[lo])
            present.add(ch)
            channel = self.channels[ch]
            changes.extend(channel.process(
                rows, block.t[rows], block.temp_c[rows], block.status[rows], now))
            if channel.spec.role is Role.PROBE and channel.accepted[0].shape[0]:
                probes.append((ch, *channel.accepted))
        for channel in self.channels:
            if channel.index not in present:
                changes.extend(channel.idle(now))
        cycle_changes = self.cycles.process(ProbeSamples.merge(probes), now)
        for ch in present:
            acc_rows, ta, va, _slope = self.channels[ch].accepted
            self.cycles.account(ch, acc_rows, ta, va)
        events = self._apply([*changes, *cycle_changes], now, block)
        self.now = float(now[-1])
        return events

    def tick(self, t: float) -> list[Event]:
        """Let time pass with no reading: staleness and the audio-pause timer need it."""
        if not math.isfinite(t):
            return []
        self._start(t)
        now = np.array([max(self.now, t)], np.float64)
        changes: list[Change | CycleChange] = []
        for channel in self.channels:
            changes.extend(channel.idle(now))
        changes.extend(self.cycles.process(ProbeSamples.empty(), now))
        events = self._apply(changes, now, None)
        self.now = float(now[0])
        return events

    def acknowledge(self, t: float, alarm: str | None = None, by: str = "operator"
                    ) -> list[Event]:
        events = self.tick(t)
        return events + self.manager.acknowledge(self.now, alarm, by)

    def pause_audio(self, t: float, by: str = "operator") -> list[Event]:
        events = self.tick(t)
        return events + self.manager.pause_audio(self.now, by)

    def mark(self, t: float, mark: str, by: str = "operator") -> list[Event]:
        """An operator mark of the procedure (freeze, thaw, active-thaw, end)."""
        events = self.tick(t)
        events.append(Event(self.now, EventType.CYCLE_MARK, {
            "mark": mark, "by": by, "message": f"operator mark: {mark} ({by})"}))
        change = self.cycles.mark(self.now, mark, by)
        if change is not None:
            events += self._cycle_events(change)
        return events

    def intervention(self, t: float, kind: str, by: str = "operator") -> list[Event]:
        """Thermal protection given near the nerve (``co2`` or warm ``saline``)."""
        events = self.tick(t)
        events.append(Event(self.now, EventType.INTERVENTION, {
            "kind": kind, "by": by, "message": f"intervention: {kind} ({by})"}))
        return events

    def note(self, t: float, text: str, by: str = "operator") -> list[Event]:
        """Free text from the operator, in the event log at its time."""
        events = self.tick(t)
        events.append(Event(self.now, EventType.NOTE, {
            "text": text, "by": by, "message": f"note ({by}): {text}"}))
        return events

    def device_lost(self, t: float, device: str, reason: str) -> list[Event]:
        events = self.tick(t)
        state = self._devices.setdefault(device, _Device())
        if state.lost:
            return events
        state.lost = True
        t = self.now
        events.append(Event(t, EventType.DEVICE_LOST, {
            "device": device, "reason": reason, "message": f"device {device} lost: {reason}"}))
        priority = self.spec.device_lost_priority
        events += self._noted(self.manager.raise_alarm(t, Alarm(
            id=f"{device}.{Condition.DEVICE_LOST}", channel=device,
            condition=str(Condition.DEVICE_LOST), category=Category.TECHNICAL,
            priority=priority, latching=False, raised_t=t, value=None, limit=None,
            message=f"{priority.marker} device {device} lost: {reason}")))
        return events

    def device_connected(self, t: float, device: str, detail: str = "") -> list[Event]:
        """The transport answers again; the lost alarm clears with the first reading."""
        events = self.tick(t)
        self._devices.setdefault(device, _Device())
        text = f"device {device} connected" + (f": {detail}" if detail else "")
        events.append(Event(self.now, EventType.DEVICE_CONNECTED,
                            {"device": device, "detail": detail, "message": text}))
        return events

    def device_bad_data(self, t: float, device: str, detail: str) -> list[Event]:
        """A frame from ``device`` that gave no reading at all (garbage, a broken line)."""
        events = self.tick(t)
        state = self._devices.setdefault(device, _Device())
        if state.bad:
            return events
        state.bad = True
        priority = defaults.DEVICE_BAD_DATA_PRIORITY
        events += self._noted(self.manager.raise_alarm(self.now, Alarm(
            id=f"{device}.{Condition.BAD_DATA}", channel=device,
            condition=str(Condition.BAD_DATA), category=Category.TECHNICAL,
            priority=priority, latching=False, raised_t=self.now, value=None,
            limit=None, message=f"{priority.marker} device {device}: bad data ({detail})")))
        return events

    def output_fault(self, t: float, output: str, message: str,
                     priority: Priority = defaults.OUTPUT_FAULT_PRIORITY) -> list[Event]:
        """An output (recorder, event stream, display, MQTT) failed or fell behind.

        Not a patient condition and not recorded as an input: replay of a session reproduces
        the patient and device alarms, not the state of the outputs that recorded it.
        """
        events = self.tick(t)
        alarm_id = f"{output}.{OUTPUT_FAILED}"
        existing = self.manager.alarms.get(alarm_id)
        if existing is not None and existing.active:
            existing.detail = f"{output}: {message}"  # the message stays as raised
            return events
        events += self.manager.raise_alarm(self.now, Alarm(
            id=alarm_id, channel=output, condition=OUTPUT_FAILED,
            category=Category.TECHNICAL, priority=priority, latching=False,
            raised_t=self.now, value=None, limit=None,
            message=f"{priority.marker} {output}: {message}"))
        return events

    def output_recovered(self, t: float, output: str, message: str) -> list[Event]:
        events = self.tick(t)
        return events + self.manager.clear_condition(
            self.now, f"{output}.{OUTPUT_FAILED}", None, None, f"{output}: {message}")

    # Internals ---------------------------------------------------------------------------

    def _start(self, t: float) -> None:
        if self.t0 is None:
            self.t0 = t
            for channel in self.channels:
                if channel.view.readings == 0:
                    channel.last_valid_t = t

    def _apply(self, changes: list[Change | CycleChange], now: F64, block: ReadingBlock | None
               ) -> list[Event]:
        events: list[Event] = []
        until = self.manager.paused_until
        expiry: tuple[int, int, float] | None = None
        if until is not None and now[-1] >= until:
            expiry = (int(np.searchsorted(now, until, "left")), PHASE_BEFORE, until)
        changes.extend(self._device_recoveries(block))
        changes.sort(key=lambda c: c.key())
        for change in changes:
            if expiry is not None and expiry < (change.row, change.phase, change.t):
                events += self.manager.expire_pause(expiry[2])
                expiry = None
            if isinstance(change, CycleChange):
                events += self._cycle_events(change)
            else:
                events += self._noted(self._change_to_events(change))
        if expiry is not None:
            events += self.manager.expire_pause(expiry[2])
        return events

    def _cycle_events(self, change: CycleChange) -> list[Event]:
        """A phase change (event, and the previous phase's reminder clears) or a reminder."""
        if change.kind == "target":
            alarm_id = target_alarm_id(change.new_phase)
            return self._noted(self.manager.raise_alarm(change.t, Alarm(
                id=alarm_id, channel=CYCLE_CHANNEL, condition=alarm_id.split(".", 1)[1],
                category=Category.TECHNICAL, priority=TARGET_PRIORITY, latching=False,
                raised_t=change.t, value=None, limit=None, message=change.fields["message"],
                extra={"cycle": change.cycle, "phase": change.new_phase.value,
                       "target_s": change.fields["target_s"]})))
        events = [phase_event(change)]
        events += self.manager.clear_condition(
            change.t, target_alarm_id(change.previous), None, None,
            f"cycle {change.cycle}: {change.previous.words} ended")
        self.cycles.applied_label = change.label
        return events

    def _noted(self, events: list[Event]) -> list[Event]:
        """Alarms raised count for the channel and for the cycle running when they were
        raised."""
        for event in events:
            if event.type is EventType.ALARM_RAISED:
                self._raised.append((str(event.get("channel", "")), str(event.get("alarm", ""))))
                self.cycles.note_alarm(event, self.cycles.applied_label)
        return events

    def _change_to_events(self, change: Change) -> list[Event]:
        if change.channel < 0:  # device-level recovery
            return self.manager.clear_condition(change.t, change.extra["alarm_id"], None, None,
                                                change.message)
        channel = self.channels[change.channel]
        alarm_id = f"{channel.spec.id}.{change.condition}"
        if not change.raised:
            return self.manager.clear_condition(change.t, alarm_id, change.value, change.limit,
                                                change.message, change.extra)
        spec = channel.spec.conditions[change.condition]
        return self.manager.raise_alarm(change.t, Alarm(
            id=alarm_id, channel=channel.spec.id, condition=str(change.condition),
            category=change.condition.category, priority=spec.priority,
            latching=spec.latching, raised_t=change.t, value=change.value, limit=change.limit,
            message=change.message, extra=dict(change.extra)))

    def _device_recoveries(self, block: ReadingBlock | None) -> list[Change]:
        """Device alarms clear with the device's first reading (lost) or first good one (bad)."""
        if block is None:
            return []
        out: list[Change] = []
        for device, state in self._devices.items():
            if not (state.lost or state.bad):
                continue
            members = self._device_channels.get(device)
            if not members:
                continue
            mine = np.isin(block.channel, np.fromiter(members, np.int32))
            for flag, condition, need_ok in ((state.lost, Condition.DEVICE_LOST, False),
                                             (state.bad, Condition.BAD_DATA, True)):
                if not flag:
                    continue
                hits = mine & (block.status == Status.OK) if need_ok else mine
                found = np.flatnonzero(hits)
                if found.size == 0:
                    continue
                row = int(found[0])
                if condition is Condition.DEVICE_LOST:
                    state.lost = False
                    text = f"device {device} reading again"
                else:
                    state.bad = False
                    text = f"device {device}: good data again"
                out.append(Change(row, 1, float(block.t[row]), -1, condition, False, None,
                                  None, text, {"alarm_id": f"{device}.{condition}"}))
        return out

    # Views -------------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        alarms = tuple(
            AlarmView(a.id, a.channel, a.condition, str(a.category), a.priority, a.raised_t,
                      a.active, a.acknowledged, a.value, a.limit, a.message,
                      trip_rate_c_per_min=a.trip_rate_c_per_min, latching=a.latching,
                      condition_cleared_t=a.condition_cleared_t, detail=a.detail)
            for a in self.manager.ordered())
        return Snapshot(
            t=self.now if math.isfinite(self.now) else 0.0,
            channels=tuple(replace(c.view) for c in self.channels),
            alarms=alarms,
            audio=self.manager.audio(),
            devices=tuple((d, "lost" if s.lost else "connected")
                          for d, s in self._devices.items()),
            cycle=self.cycles.cycle, phase=self.cycles.phase.value,
            phase_started_t=self.cycles.started_t, phase_target_s=self.cycles.target_s(),
            phase_source=self.cycles.source)

    def channels_summary(self) -> list[ChannelCycleStats]:
        """Whole session, per channel: accepted samples, minimum, time at or below its levels,
        and the alarms raised on it (ids, in order)."""
        raised: dict[str, list[str]] = {}
        for record in self._raised:
            raised.setdefault(record[0], []).append(record[1])
        return self.cycles.session_summary({k: tuple(v) for k, v in raised.items()})

    def cycles_summary(self) -> list[CycleSummary]:
        """Per cycle: phases, duration, and per channel minimum, time below levels, alarms."""
        return self.cycles.summary(self.now if math.isfinite(self.now) else 0.0)
