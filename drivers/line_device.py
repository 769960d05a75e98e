"""The ``line`` device task body: read bytes, feed the parser, deliver stamped scans."""

from __future__ import annotations

from collections.abc import Callable

from drivers.line import LineParser
from drivers.link import LinkState, open_link
from drivers.mapping import ChannelMapper
from drivers.params import LineParams
from drivers.sink import DriverSink


class LineSession:
    """One connection attempt per :meth:`run`; returns only by raising DeviceLost."""

    def __init__(self, params: LineParams, sink: DriverSink, clock: Callable[[], float],
                 state: LinkState) -> None:
        self.params = params
        self.sink = sink
        self.clock = clock
        self.state = state
        self.settings = params.settings()
        self.mapper = ChannelMapper(params.id, params.channel_map, learn=params.learn_channels)

    async def run(self) -> None:
        p = self.params
        link = await open_link(p.port, p.baudrate)
        try:
            # A fresh parser per connection: the first bytes may start mid-line, and a cut
            # positional line would put values on the wrong channels, so skip to a newline.
            parser = LineParser(self.settings)
            synced = False
            detail = f"{p.port} at {p.baudrate} baud, receiving lines"
            while True:
                data = await link.read()
                t = self.clock()
                if not synced:
                    cut = data.find(b"\n")
                    if cut < 0:
                        continue
                    data = data[cut + 1:]
                    synced = True
                    self.state.mark_connected(detail, t)
                for scan in parser.feed(data):
                    self.mapper.deliver(scan, t, self.sink)
        finally:
            await link.close()
