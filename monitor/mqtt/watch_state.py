"""What a remote viewer knows about each station, rebuilt from MQTT messages. Sans-IO.

Messages go in with the viewer's own clock (``now``, monotonic seconds); answers come out as a
presence (ONLINE, WAITING, OFFLINE), a one-line summary, or a :class:`Snapshot` for the bedside
renderer. The rule that matters: a station whose will message arrived, whose channel data
stopped, or that this viewer can no longer reach is OFFLINE, and is never drawn with its last
values as if they were current: its channels show no number and its last alarms are replaced
by one "offline" alarm that says what was last known.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from monitor.config.defaults import CYCLE_FREEZE_S, CYCLE_PASSIVE_THAW_S
from monitor.engine import AlarmView, Snapshot
from monitor.engine.alarms import AudioState
from monitor.engine.channel import ChannelView
from monitor.model import Category, Priority, Status
from monitor.mqtt.payloads import (
    STALE,
    RemoteChannel,
    decode_alarms,
    decode_channel,
    decode_event,
    decode_info,
)
from monitor.mqtt.topics import OFFLINE, ONLINE, parse_topic

DATA_TIMEOUT_S = 3.0  # six missed channel messages at the default 2 Hz
PHASE_TARGETS_S: Mapping[str, float] = {"freeze": CYCLE_FREEZE_S,
                                        "thaw_passive": CYCLE_PASSIVE_THAW_S}


class Presence(enum.StrEnum):
    ONLINE = "ONLINE"
    WAITING = "WAITING"  # heard of, no channel data yet (just subscribed)
    OFFLINE = "OFFLINE"


@dataclass(slots=True)
class StationState:
    name: str
    first_seen: float
    status: str | None = None
    last_data: float | None = None
    channels: dict[str, RemoteChannel] = field(default_factory=dict)
    channel_at: dict[str, float] = field(default_factory=dict)
    alarms: list[AlarmView] = field(default_factory=list)
    labels: dict[str, tuple[str, str]] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    phase: dict[str, Any] = field(default_factory=dict)
    ended: bool = False  # session.ended seen since the last ``online``
    bad_messages: int = 0


class WatchState:
    """Every station seen on the broker (or just ``station``)."""

    def __init__(self, *, station: str | None = None,
                 data_timeout_s: float = DATA_TIMEOUT_S) -> None:
        self.only = station
        self.data_timeout_s = data_timeout_s
        self.stations: dict[str, StationState] = {}
        self.broker_ok = False
        self.broker_problem: str | None = "not connected yet"
        self.ignored = 0

    # Input ----------------------------------------------------------------------------------

    def broker_connected(self) -> None:
        self.broker_ok = True
        self.broker_problem = None

    def broker_lost(self, reason: str) -> None:
        self.broker_ok = False
        self.broker_problem = reason
        for station in self.stations.values():
            # What was retained will come again on reconnect; until then nothing is known.
            station.status = None
            station.last_data = None

    def apply(self, topic: str, payload: bytes, now: float) -> str | None:
        """Take one message; returns the station it was about (``None`` if ignored)."""
        ref = parse_topic(topic)
        if ref is None or (self.only is not None and ref.station != self.only):
            self.ignored += 1
            return None
        station = self.stations.get(ref.station)
        if station is None:
            station = self.stations[ref.station] = StationState(ref.station, now)
        if ref.kind == "status":
            text = payload.decode("utf-8", errors="replace").strip().lower()
            if text not in (ONLINE, OFFLINE):
                station.bad_messages += 1
                return ref.station
            if text == ONLINE and station.status != ONLINE:
                # A new connection: its data must arrive afresh before it counts as current.
                station.ended = False
                station.first_seen = now
                station.last_data = None
            station.status = text
        elif ref.kind == "channel" and ref.channel is not None:
            state = decode_channel(ref.channel, payload)
            if state is None:
                station.bad_messages += 1
            else:
                station.channels[ref.channel] = state
                station.channel_at[ref.channel] = now
                station.last_data = now
        elif ref.kind == "alarms":
            alarms = decode_alarms(payload)
            if alarms is None:
                station.bad_messages += 1
            else:
                station.alarms = alarms
        elif ref.kind == "info":
            info = decode_info(payload)
            if info is None:
                station.bad_messages += 1
            else:
                station.labels, station.info = info
        elif ref.kind == "event":
            record = decode_event(payload)
            if record is None:
                station.bad_messages += 1
            elif record["type"] == "cycle.phase":
                station.phase = {"phase": str(record.get("phase", "")),
                                 "cycle": record.get("cycle"),
                                 "start_t": _float(record.get("t"))}
            elif record["type"] == "session.ended":
                station.ended = True
        return ref.station

    # Answers --------------------------------------------------------------------------------

    def presence(self, name: str, now: float) -> tuple[Presence, str]:
        """ONLINE / WAITING / OFFLINE with the reason a viewer needs."""
        station = self.stations.get(name)
        if not self.broker_ok:
            return Presence.OFFLINE, f"watch cannot reach the broker: {self.broker_problem}"
        if station is None:
            return Presence.OFFLINE, "nothing heard on the broker"
        if station.status == OFFLINE:
            return Presence.OFFLINE, "session ended" if station.ended else \
                "station disconnected (will message)"
        if station.last_data is None:
            if now - station.first_seen <= self.data_timeout_s:
                return Presence.WAITING, "no channel data yet"
            return Presence.OFFLINE, f"no channel data for {self.data_timeout_s:g} s"
        silent = now - station.last_data
        if silent > self.data_timeout_s:
            return Presence.OFFLINE, f"no channel data for {silent:.0f} s"
        return Presence.ONLINE, ""

    def worst_alarm(self, name: str) -> AlarmView | None:
        station = self.stations.get(name)
        if station is None or not station.alarms:
            return None
        return max(station.alarms, key=lambda a: (a.priority, a.active, -a.raised_t))

    def summary_line(self, name: str, now: float) -> str:
        """``ct-suite-2 ONLINE *** L4R.below_critical ...`` or ``ct-suite-2 OFFLINE (...)``."""
        presence, reason = self.presence(name, now)
        if presence is not Presence.ONLINE:
            return f"{name} {presence.value} ({reason})"
        alarm = self.worst_alarm(name)
        if alarm is None:
            return f"{name} ONLINE no alarms"
        station = self.stations[name]
        flags = ("" if alarm.active else " LATCHED") + (" ACK" if alarm.acknowledged else "")
        message = alarm.message.lstrip("*").strip()
        more = len(station.alarms) - 1
        return (f"{name} ONLINE {alarm.priority.marker} {alarm.id}{flags}: {message}"
                + (f" (+{more} more)" if more else ""))

    def summary(self, now: float) -> list[str]:
        names = sorted(self.stations) if self.only is None else [self.only]
        return [self.summary_line(name, now) for name in names]

    def snapshot(self, name: str, now: float) -> tuple[Snapshot, dict[str, Any]]:
        """A Snapshot and header for ``render_dashboard`` (read-only), offline made obvious."""
        station = self.stations.get(name) or StationState(name, now)
        presence, reason = self.presence(name, now)
        online = presence is Presence.ONLINE
        order = [cid for cid in station.labels if cid in station.channels]
        order += sorted(cid for cid in station.channels if cid not in station.labels)
        order += [cid for cid in station.labels if cid not in station.channels]
        times = [c.t for c in station.channels.values() if c.t is not None]
        t = max(times) if times else 0.0
        channels = tuple(self._channel_view(station, cid, now, online) for cid in order)
        if online:
            alarms = tuple(sorted(
                station.alarms, key=lambda a: (-a.priority, a.raised_t, a.id)))
        else:
            alarms = (self._offline_alarm(station, presence, reason, t),)
        audio = _audio(station.info.get("audio")) if online else AudioState(False, None, None)
        devices = tuple((str(d[0]), str(d[1])) for d in station.info.get("devices", [])
                        if isinstance(d, list | tuple) and len(d) == 2) if online else ()
        header: dict[str, Any] = {
            "station": name,
            "mode": f"remote {station.info.get('mode') or ''}".strip() if online
            else f"remote {presence.value}",
        }
        for key in ("levels", "phase_targets"):
            if isinstance(station.info.get(key), dict):
                header[key] = station.info[key]
        if online and station.phase.get("phase"):
            phase = station.phase["phase"]
            header["phase"] = phase
            header["cycle"] = station.phase.get("cycle")
            start = station.phase.get("start_t")
            if start is not None:
                header["phase_elapsed_s"] = max(0.0, t - start)
            targets = header.get("phase_targets")
            target = targets.get(phase) if isinstance(targets, dict) \
                else PHASE_TARGETS_S.get(phase)
            if target is not None:
                header["phase_target_s"] = target
        return Snapshot(t=t, channels=channels, alarms=alarms, audio=audio,
                        devices=devices), header

    def _channel_view(self, station: StationState, cid: str, now: float,
                      online: bool) -> ChannelView:
        label, role = station.labels.get(cid, (cid, "other"))
        state = station.channels.get(cid)
        if state is None:
            return ChannelView(id=cid, label=label, role=role)  # stale, no readings: NO DATA
        fresh = online and now - station.channel_at.get(cid, -1e9) <= self.data_timeout_s
        status = _status(state.status)
        stale = not fresh or state.status == STALE
        limit = None
        if state.temp_c is not None and state.slope_c_per_min is not None \
                and state.seconds_to_limit is not None:
            # The payload carries the time to the limit, not the limit: the engine computes
            # it from the last reading, so the limit is that reading plus slope × time.
            limit = round(state.temp_c + state.slope_c_per_min / 60.0
                          * state.seconds_to_limit, 1)
        return ChannelView(
            id=cid, label=label, role=role, t=state.t,
            temp_c=state.temp_c if fresh and status is Status.OK and not stale else None,
            status=status, stale=stale,
            slope_c_per_min=state.slope_c_per_min if fresh else None,
            seconds_to_limit=state.seconds_to_limit if fresh else None,
            limit_c=limit if fresh else None, readings=1)

    def _offline_alarm(self, station: StationState, presence: Presence, reason: str,
                       t: float) -> AlarmView:
        last = ""
        if station.alarms:
            worst = max(station.alarms, key=lambda a: (a.priority, a.active, -a.raised_t))
            last = f"; last known: {len(station.alarms)} alarm(s), worst " \
                   f"{worst.priority.marker} {worst.id}"
        what = "remote view not current" if presence is Presence.WAITING else "OFFLINE"
        return AlarmView(
            id=f"{station.name}.offline", channel=station.name, condition="offline",
            category=str(Category.TECHNICAL), priority=Priority.HIGH, raised_t=t, active=True,
            acknowledged=False, value=None, limit=None,
            message=f"*** {station.name} {what}: {reason}{last}")


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        else None


def _status(text: str) -> Status:
    if text == STALE:
        return Status.OK
    try:
        return Status.parse(text)
    except KeyError:
        return Status.BAD_DATA


def _audio(data: Any) -> AudioState:
    if not isinstance(data, dict):
        return AudioState(False, None, None)
    sounding = None
    if isinstance(data.get("sounding"), str):
        try:
            sounding = Priority.parse(data["sounding"])
        except KeyError:
            sounding = None
    return AudioState(paused=data.get("paused") is True,
                      paused_until=_float(data.get("paused_until")), sounding=sounding)
