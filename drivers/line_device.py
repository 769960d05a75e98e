"""The ``line`` device task body: read bytes, feed the parser, deliver stamped scans."""

from __future__ import annotations

import logging
from collections.abc import Callable

from drivers.line import LEARN_LINES, LineParser, describe_shape
from drivers.link import LinkState, open_link
from drivers.mapping import ChannelMapper
from drivers.params import LineParams
from drivers.sink import DriverSink

log = logging.getLogger("cryoguard.drivers")


class LineSession:
    """One connection attempt per :meth:`run`; returns only by raising DeviceLost.

    The parser (and the scan shape it learned) outlives a reconnect: a device that comes back
    sending another shape, or noise, is bad data rather than a new set of channels.
    """

    def __init__(self, params: LineParams, sink: DriverSink, clock: Callable[[], float],
                 state: LinkState) -> None:
        self.params = params
        self.sink = sink
        self.clock = clock
        self.state = state
        self.settings = params.settings()
        self.parser = LineParser(self.settings, learn_lines=LEARN_LINES)
        self.mapper = ChannelMapper(params.id, params.channel_map, learn=params.learn_channels)

    def detail(self) -> str:
        p = self.params
        shape = self.parser.shape
        how = ("configured" if self.parser.learned_from == 0
               else f"learned from the first {self.parser.learned_from} lines")
        text = f"{p.port} at {p.baudrate} baud, receiving lines"
        if shape is not None:
            text += f" of {describe_shape(shape)} ({how})"
            if not shape.keyed:
                beyond = sorted(str(c) for k, c in self.params.channel_map.items()
                                if isinstance(k, int) and k >= shape.width)
                if beyond:
                    text += (f"; WARNING: channel(s) {', '.join(beyond)} lie beyond the "
                             "scan and get no readings")
        return text

    async def run(self) -> None:
        p = self.params
        link = await open_link(p.port, p.baudrate)
        try:
            # The first bytes may start mid-line, and a cut positional line would put values
            # on the wrong channels, so the parser skips to the first newline.
            self.parser.resync()
            while True:
                data = await link.read()
                t = self.clock()
                for scan in self.parser.feed(data):
                    if self.mapper.deliver(scan, t, self.sink) and not self.state.connected:
                        detail = self.detail()
                        if "WARNING" in detail:
                            log.warning("device %s: %s", p.id, detail)
                        self.state.mark_connected(detail, t)
        finally:
            await link.close()
