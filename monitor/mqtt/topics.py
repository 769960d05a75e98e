"""Topic names under ``cryoguard/<station>/``: one place, so publisher and watcher agree."""

from __future__ import annotations

import re
from dataclasses import dataclass

ROOT = "cryoguard"
ONLINE = "online"
OFFLINE = "offline"


@dataclass(frozen=True, slots=True)
class Topics:
    """The topics of one station."""

    station: str

    @property
    def base(self) -> str:
        return f"{ROOT}/{self.station}"

    @property
    def status(self) -> str:
        """Retained ``online``; the will message (and a clean shutdown) make it ``offline``."""
        return f"{self.base}/status"

    @property
    def event(self) -> str:
        return f"{self.base}/event"

    @property
    def alarms(self) -> str:
        return f"{self.base}/alarms"

    @property
    def info(self) -> str:
        """Retained channel labels and roles, for remote views (not in the state payloads)."""
        return f"{self.base}/info"

    def channel(self, channel_id: str) -> str:
        return f"{self.base}/channel/{channel_id}"

    @property
    def everything(self) -> str:
        return f"{self.base}/#"


ALL_STATIONS = f"{ROOT}/#"


@dataclass(frozen=True, slots=True)
class TopicRef:
    """A received topic, taken apart: ``kind`` is status, event, alarms, info or channel."""

    station: str
    kind: str
    channel: str | None = None


KINDS = frozenset({"status", "event", "alarms", "info"})


# The config's rules for station names and channel ids: a topic level that breaks them is
# not ours (and may hold escape sequences meant for a viewer's terminal).
_STATION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_CHANNEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")


def parse_topic(topic: str) -> TopicRef | None:
    """What a topic is about, or ``None`` for anything that is not ours."""
    parts = topic.split("/")
    if len(parts) < 3 or parts[0] != ROOT or not _STATION.match(parts[1]):
        return None
    if len(parts) == 3 and parts[2] in KINDS:
        return TopicRef(parts[1], parts[2])
    if len(parts) == 4 and parts[2] == "channel" and _CHANNEL.match(parts[3]):
        return TopicRef(parts[1], "channel", parts[3])
    return None
