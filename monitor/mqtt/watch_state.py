"""What a remote viewer knows about each station, rebuilt from MQTT messages. Sans-IO.

Messages go in with the viewer's own clock (``now``, monotonic seconds); answers come out as a
presence (ONLINE, WAITING, OFFLINE), a one-line summary, or a :class:`Snapshot` for the bedside
renderer. The rules that matter:

- A station whose will message arrived, whose channel data stopped, or that this viewer can no
  longer reach is OFFLINE, and is never drawn with its last values as if they were current:
  its channels show no number and its last alarms are replaced by one "offline" alarm that
  says what was last known.
- Every message a station publishes carries its publisher's run id and a sequence number
  (MQTT 5 user properties, :mod:`monitor.mqtt.integrity`). A message without them is not from
  a CryoGuard station and is dropped; one from another run than the live one, or whose
  number goes backwards on its topic, means someone else publishes as the station. Either is
  flagged, for as long as the viewer runs, as a high-priority "integrity" alarm and on the
  station's line: a spoofed view is never quiet (docs/mqtt.md, "Integrity").
- Text from the network is stripped of control characters when it is decoded.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from monitor.engine import AlarmView, Snapshot
from monitor.engine.alarms import AudioState
from monitor.engine.channel import ChannelView
from monitor.model import Category, Priority, Status
from monitor.mqtt.integrity import Origin, read_origin
from monitor.mqtt.payloads import (
    STALE,
    RemoteChannel,
    clean,
    decode_alarms,
    decode_channel,
    decode_event,
    decode_info,
)
from monitor.mqtt.topics import OFFLINE, ONLINE, parse_topic

DATA_TIMEOUT_S = 3.0  # six missed channel messages at the default 2 Hz
INTEGRITY_KEPT = 20  # problems remembered per station (the count is kept whole)


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
    phase: dict[str, Any] = field(default_factory=dict)  # phase, cycle, started_t, target_s
    last_intervention: dict[str, Any] | None = None  # t, kind, by
    last_note: dict[str, Any] | None = None  # t, text, by
    ended: bool = False  # session.ended seen since the last ``online``
    bad_messages: int = 0
    publisher: str | None = None  # run id of the live publisher
    seqs: dict[str, int] = field(default_factory=dict)  # topic -> highest sequence seen
    integrity: list[str] = field(default_factory=list)  # the latest problems
    integrity_count: int = 0
    alarms_doubt: bool = False  # a forged alarm list was dropped; no genuine one since
    news: list[str] = field(default_factory=list)  # phase, injection, note (for --headless)

    def flag(self, problem: str) -> None:
        self.integrity_count += 1
        self.integrity.append(problem)
        del self.integrity[:-INTEGRITY_KEPT]


class WatchState:
    """Every station seen on the broker (or just ``station``)."""

    def __init__(self, *, station: str | None = None,
                 data_timeout_s: float = DATA_TIMEOUT_S, connection: str = "") -> None:
        self.only = station
        self.data_timeout_s = data_timeout_s
        self.connection = connection  # "TLS, user viewer" / "NO TLS, anonymous"
        self.stations: dict[str, StationState] = {}
        self.broker_ok = False
        self.broker_problem: str | None = "not connected yet"
        self.ignored = 0

    # Input ----------------------------------------------------------------------------------

    def broker_connected(self) -> None:
        self.broker_ok = True
        self.broker_problem = None
        for station in self.stations.values():
            station.seqs.clear()  # retained messages come again with the numbers they had

    def broker_lost(self, reason: str) -> None:
        self.broker_ok = False
        self.broker_problem = clean(reason)
        for station in self.stations.values():
            # What was retained will come again on reconnect; until then nothing is known.
            station.status = None
            station.last_data = None

    def apply(self, topic: str, payload: bytes, now: float,
              properties: Mapping[str, str] | None = None) -> str | None:
        """Take one message; returns the station it was about (``None`` if ignored).

        ``properties`` are the message's MQTT 5 user properties as the subscriber received
        them (empty when there were none); ``None`` skips the integrity check (unit tests of
        the other rules feed payloads alone).
        """
        ref = parse_topic(topic)
        if ref is None or (self.only is not None and ref.station != self.only):
            self.ignored += 1
            return None
        station = self.stations.get(ref.station)
        if station is None:
            station = self.stations[ref.station] = StationState(ref.station, now)
        if properties is not None and not self._genuine(station, topic, ref.kind, payload,
                                                         read_origin(properties)):
            if ref.kind == "alarms" and station.integrity_count:
                station.alarms_doubt = True
            return ref.station
        if ref.kind == "status":
            self._status(station, payload, now)
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
                station.alarms_doubt = False
        elif ref.kind == "info":
            self._info(station, payload)
        elif ref.kind == "event":
            self._event(station, payload)
        return ref.station

    def _genuine(self, station: StationState, topic: str, kind: str, payload: bytes,
                 origin: Origin | None) -> bool:
        """Is this message from the station's live publisher? Flags it when not."""
        what = f"{kind} message"
        if origin is None:
            station.flag(f"{what} without a CryoGuard sequence number: not from the station "
                         "(dropped)")
            return False
        new_run = kind == "status" and payload.strip().lower() == ONLINE.encode() \
            and origin.publisher != station.publisher
        if station.publisher is None or new_run:
            if station.publisher is not None:
                station.seqs.clear()  # a restarted station: its numbers start again
            station.publisher = origin.publisher
        elif origin.publisher != station.publisher:
            station.flag(f"{what} from publisher {origin.publisher}, not the live one "
                         f"({station.publisher}): another client publishes as this station "
                         "(dropped)")
            return False
        if origin.will:
            return True  # the broker sends the will; its number was fixed at connect
        last = station.seqs.get(topic)
        if last is not None and origin.seq == last:
            return False  # a QoS 1 duplicate: already applied
        if last is not None and origin.seq < last:
            station.flag(f"{what} numbered {origin.seq} after {last}: another client "
                         "publishes as this station")
        station.seqs[topic] = max(origin.seq, last or 0)
        return True

    def _status(self, station: StationState, payload: bytes, now: float) -> None:
        text = payload.decode("utf-8", errors="replace").strip().lower()
        if text not in (ONLINE, OFFLINE):
            station.bad_messages += 1
            return
        if text == ONLINE and station.status != ONLINE:
            # A new connection: its data must arrive afresh before it counts as current.
            station.ended = False
            station.first_seen = now
            station.last_data = None
        station.status = text

    def _info(self, station: StationState, payload: bytes) -> None:
        info = decode_info(payload)
        if info is None:
            station.bad_messages += 1
            return
        station.labels, station.info = info
        cycle = station.info.get("cycle")
        if isinstance(cycle, Mapping):
            self._set_phase(station, cycle.get("phase"), cycle.get("cycle"),
                            cycle.get("started_t"), cycle.get("target_s"))

    def _event(self, station: StationState, payload: bytes) -> None:
        record = decode_event(payload)
        if record is None:
            station.bad_messages += 1
            return
        kind = record["type"]
        t = _float(record.get("t"))
        by = clean(record.get("by") or "")
        if kind == "cycle.phase":
            self._set_phase(station, record.get("phase"), record.get("cycle"), t,
                            record.get("target_s"))
        elif kind == "session.ended":
            station.ended = True
        elif kind == "intervention":
            station.last_intervention = {"t": t, "kind": clean(record.get("kind") or "?"),
                                         "by": by}
            station.news.append(f"{station.name}: {injection_words(record.get('kind'))}"
                                + (f" by {by}" if by else ""))
        elif kind == "note":
            text = clean(record.get("text") or "")
            station.last_note = {"t": t, "text": text, "by": by}
            station.news.append(f"{station.name}: note" + (f" by {by}" if by else "")
                                + f": {text}")

    def _set_phase(self, station: StationState, phase: Any, cycle: Any, started: Any,
                   target: Any) -> None:
        if not isinstance(phase, str) or not phase:
            return
        name = clean(phase)
        number = cycle if isinstance(cycle, int) and not isinstance(cycle, bool) else None
        target_s = _float(target)
        if (name, number) != (station.phase.get("phase"), station.phase.get("cycle")):
            station.news.append(
                f"{station.name}: cycle {number} {name.replace('_', ' ')}"
                + (f" (target {_clock(target_s)})" if target_s is not None else ""))
        station.phase = {"phase": name, "cycle": number, "started_t": _float(started),
                         "target_s": target_s}

    def take_news(self, name: str) -> list[str]:
        station = self.stations.get(name)
        if station is None:
            return []
        news, station.news = station.news, []
        return news

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

    def integrity_text(self, name: str) -> str | None:
        """``INTEGRITY: 3 message(s) not from the live publisher (last: ...)`` or ``None``."""
        station = self.stations.get(name)
        if station is None or not station.integrity_count:
            return None
        return (f"INTEGRITY: {station.integrity_count} message(s) not from the live "
                f"publisher (last: {station.integrity[-1]})")

    def summary_line(self, name: str, now: float) -> str:
        """``ct-suite-2 ONLINE *** L4R.below_critical ...`` or ``ct-suite-2 OFFLINE (...)``;
        ``!!! INTEGRITY: ...`` appended while messages not from the station were seen."""
        flag = self.integrity_text(name)
        suffix = f" !!! {flag}" if flag else ""
        presence, reason = self.presence(name, now)
        if presence is not Presence.ONLINE:
            return f"{name} {presence.value} ({reason}){suffix}"
        alarm = self.worst_alarm(name)
        station = self.stations[name]
        if alarm is None:
            if station.alarms_doubt:  # never "no alarms" on the word of a forger
                return f"{name} ONLINE alarms not known (a forged list was dropped){suffix}"
            return f"{name} ONLINE no alarms{suffix}"
        flags = ("" if alarm.active else " LATCHED") + (" ACK" if alarm.acknowledged else "")
        message = alarm.message.lstrip("*").strip()
        more = len(station.alarms) - 1
        return (f"{name} ONLINE {alarm.priority.marker} {alarm.id}{flags}: {message}"
                + (f" (+{more} more)" if more else "") + suffix)

    def summary(self, now: float) -> list[str]:
        names = sorted(self.stations) if self.only is None else [self.only]
        return [self.summary_line(name, now) for name in names]

    def details(self, name: str, now: float) -> list[str]:
        """The phase with its timer and target, and the last injection and note with the
        time since (session time, from the station's own readings)."""
        station = self.stations.get(name)
        presence, _ = self.presence(name, now)
        if station is None or presence is not Presence.ONLINE:
            return []
        t = self._station_t(station)
        out = []
        phase = station.phase
        if phase.get("phase"):
            line = f"cycle {phase.get('cycle')} {str(phase['phase']).replace('_', ' ')}"
            started, target = phase.get("started_t"), phase.get("target_s")
            if started is not None:
                line += f" {_clock(t - started)}"
                if target is not None:
                    line += f" / {_clock(target)}"
            out.append(line)
        injection = station.last_intervention
        if injection is not None:
            ago = f"{_clock(t - injection['t'])} ago" if injection["t"] is not None else ""
            out.append(f"last injection: {injection_words(injection['kind'])} {ago}"
                       + (f" by {injection['by']}" if injection["by"] else ""))
        note = station.last_note
        if note is not None:
            ago = f"{_clock(t - note['t'])} ago" if note["t"] is not None else ""
            out.append(f"last note {ago}" + (f" by {note['by']}" if note["by"] else "")
                       + f": {note['text']}")
        return out

    @staticmethod
    def _station_t(station: StationState) -> float:
        times = [c.t for c in station.channels.values() if c.t is not None]
        return max(times) if times else 0.0

    def snapshot(self, name: str, now: float) -> tuple[Snapshot, dict[str, Any]]:
        """A Snapshot and header for ``render_dashboard`` (read-only), offline made obvious."""
        station = self.stations.get(name) or StationState(name, now)
        presence, reason = self.presence(name, now)
        online = presence is Presence.ONLINE
        order = [cid for cid in station.labels if cid in station.channels]
        order += sorted(cid for cid in station.channels if cid not in station.labels)
        order += [cid for cid in station.labels if cid not in station.channels]
        t = self._station_t(station)
        channels = tuple(self._channel_view(station, cid, now, online) for cid in order)
        alarms: tuple[AlarmView, ...]
        if online:
            alarms = tuple(sorted(
                station.alarms, key=lambda a: (-a.priority, a.raised_t, a.id)))
        else:
            alarms = (self._offline_alarm(station, presence, reason, t),)
        flag = self.integrity_text(name)
        if flag is not None:
            alarms = (AlarmView(
                id=f"{name}.integrity", channel=name, condition="integrity",
                category=str(Category.TECHNICAL), priority=Priority.HIGH, raised_t=t,
                active=True, acknowledged=False, value=None, limit=None,
                message=f"*** {name} remote view may be spoofed: {flag}"), *alarms)
        audio = _audio(station.info.get("audio")) if online else AudioState(False, None, None)
        devices = tuple((clean(d[0]), clean(d[1])) for d in station.info.get("devices", [])
                        if isinstance(d, list | tuple) and len(d) == 2) if online else ()
        mode = clean(station.info.get("mode") or "")
        header: dict[str, Any] = {
            "station": name,
            "mode": (f"remote {mode}".strip() if online else f"remote {presence.value}")
            + (f" · {self.connection}" if self.connection else ""),
        }
        if isinstance(station.info.get("levels"), dict):
            header["levels"] = station.info["levels"]
        phase = station.phase
        snapshot_phase: dict[str, Any] = {}
        if online and phase.get("phase"):
            header["phase"] = phase["phase"]
            header["cycle"] = phase.get("cycle")
            started, target = phase.get("started_t"), phase.get("target_s")
            if started is not None:
                header["phase_elapsed_s"] = max(0.0, t - started)
            if target is not None:
                header["phase_target_s"] = target  # the station's own target, never a default
            snapshot_phase = {"cycle": phase.get("cycle") or 0, "phase": phase["phase"],
                              "phase_started_t": started, "phase_target_s": target}
        return Snapshot(t=t, channels=channels, alarms=alarms, audio=audio, devices=devices,
                        **snapshot_phase), header

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


INJECTION_WORDS = {"co2": "CO₂ injection", "saline": "warm saline injection"}


def injection_words(kind: Any) -> str:
    return INJECTION_WORDS.get(str(kind), f"injection {clean(kind)}")


def _clock(seconds: float) -> str:
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if number == number and abs(number) != float("inf") else None


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
