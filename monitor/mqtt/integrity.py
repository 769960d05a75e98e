"""Who sent a message: a publisher run id and a sequence number on every message a station
publishes, as MQTT 5 user properties, so a viewer can tell the live station from anyone else.

Why user properties: the payloads are a contract (``alarms`` is a bare JSON list, ``status``
a bare word, channel states have exactly five keys), and properties travel beside them,
retained messages included. Why a sequence number and not a signature: a viewer would need
the key to check a signature, and every viewer could then sign; the broker's ACL is what
stops a viewer from publishing (docs/mqtt.md gives one). The numbers make what the ACL
cannot see *visible*: a message without them (``mosquitto_pub -r -t .../alarms -m '[]'``,
or a retained leftover from an open broker) is not from a station; one from another run
while the live one is connected, or numbered below what that topic already carried, means
a second publisher. The station republishes its retained ``alarms`` and ``info`` every few
seconds, so even a forger who copies the numbers is caught at the next republication.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

PUBLISHER = "cg-pub"
SEQUENCE = "cg-seq"
WILL = "cg-will"
_BLANK = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]


@dataclass(frozen=True, slots=True)
class Origin:
    publisher: str
    seq: int
    will: bool = False


def read_origin(properties: Mapping[str, str]) -> Origin | None:
    """The origin a message claims, or ``None`` when it carries none (not from a station)."""
    publisher = properties.get(PUBLISHER)
    if not publisher:
        return None
    if properties.get(WILL) == "1":
        return Origin(publisher, 0, will=True)
    text = properties.get(SEQUENCE, "")
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        return None
    return Origin(publisher, int(text))


def user_properties(properties: Any) -> dict[str, str]:
    """A received message's user properties (paho ``Properties``, or ``None`` for MQTT 3)."""
    pairs = getattr(properties, "UserProperty", None) or []
    out: dict[str, str] = {}
    for pair in pairs:
        if isinstance(pair, tuple | list) and len(pair) == 2:
            out.setdefault(str(pair[0]), str(pair[1]))
    return out


class Stamp:
    """One publisher run: a random id and the next sequence number (never reused, also
    across reconnects, so numbers only grow while the daemon runs)."""

    def __init__(self, publisher: str | None = None) -> None:
        self.publisher = publisher or secrets.token_hex(4)
        self.seq = 0

    def next(self) -> Properties:
        self.seq += 1
        # A copy of a blank set: paho's constructor costs ~50 µs, a copy ~10 µs. Assigning
        # through object.__setattr__ sets the list (paho's own setter appends to it).
        props = copy.copy(_BLANK)
        object.__setattr__(props, "UserProperty",
                           [(PUBLISHER, self.publisher), (SEQUENCE, str(self.seq))])
        return props

    def will(self) -> Properties:
        props = Properties(PacketTypes.WILLMESSAGE)  # type: ignore[no-untyped-call]
        props.UserProperty = [(PUBLISHER, self.publisher), (WILL, "1")]
        return props
