"""The serial transport: one open port with a bounded receive buffer, and "device lost".

Opens a device path or pyserial URL (``socket://host:port`` too) through
``serial_asyncio_fast`` with an exclusive lock. A read or write error, end of file or a vanished
port ends the link with a readable reason; the device tasks turn that into ``lost`` and retry.
The protocol object (rather than a StreamReader) lets a polling driver discard a late reply
before the next command, so an old answer is never stamped with a new time.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
from collections.abc import Callable

import serial
import serial_asyncio_fast

from drivers.sink import DriverSink

log = logging.getLogger("cryoguard.drivers")

DEFAULT_LIMIT = 64 * 1024
CLOSE_TIMEOUT_S = 1.0


class DeviceLost(Exception):
    """The device cannot be used right now; ``reason`` is what the operator should read."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def describe_open_error(port: str, exc: BaseException) -> str:
    """A one-line reason for a port that would not open, with what to do about it."""
    text = str(exc)
    code = getattr(exc, "errno", None)
    if "exclusively lock" in text or code in (errno.EAGAIN, errno.EBUSY):
        return (f"{port} is in use by another program (exclusive lock refused); close the other "
                "program (another cryoguard, a serial terminal, ModemManager) and it reconnects")
    if code == errno.ENOENT or "No such file" in text:
        return f"{port} does not exist (unplugged? `cryoguard ports` lists serial ports)"
    if code == errno.EACCES or "Permission denied" in text:
        return f"no permission to open {port} (add the user to the 'dialout' group)"
    if code == errno.ECONNREFUSED or "refused" in text:
        return f"{port}: connection refused (is the device server running?)"
    return f"cannot open {port}: {text or type(exc).__name__}"


def describe_lost(exc: BaseException | None) -> str:
    if exc is None:
        return "the port was closed"
    text = str(exc) or type(exc).__name__
    if "returned no data" in text or getattr(exc, "errno", None) == errno.EIO:
        return f"the device disappeared (unplugged or powered off): {text}"
    return f"read/write error: {text}"


class SerialLink(asyncio.Protocol):
    """Receives bytes into a buffer of at most ``limit`` bytes (oldest dropped beyond it)."""

    def __init__(self, port: str, limit: int = DEFAULT_LIMIT) -> None:
        self.port = port
        self.limit = limit
        self.dropped = 0
        self._buf = bytearray()
        self._transport: asyncio.BaseTransport | None = None
        self._made = asyncio.Event()
        self._wake = asyncio.Event()
        self._closed = asyncio.Event()
        self.lost_reason: str | None = None

    # asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        self._made.set()

    def data_received(self, data: bytes) -> None:
        self._buf += data
        excess = len(self._buf) - self.limit
        if excess > 0:
            del self._buf[:excess]
            self.dropped += excess
        self._wake.set()

    def eof_received(self) -> bool:
        self._set_lost("the device closed the connection (end of file)")
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._set_lost(describe_lost(exc))
        self._closed.set()

    def _set_lost(self, reason: str) -> None:
        if self.lost_reason is None:
            self.lost_reason = reason
        self._wake.set()

    # Reading and writing ---------------------------------------------------------------

    def _check(self) -> None:
        if self.lost_reason is not None:
            raise DeviceLost(self.lost_reason)

    async def read(self) -> bytes:
        """Wait for bytes and return all that are buffered; DeviceLost on error or EOF."""
        while not self._buf:
            self._check()
            self._wake.clear()
            await self._wake.wait()
        data = bytes(self._buf)
        self._buf.clear()
        return data

    async def read_frame(self, end: bytes, timeout_s: float, max_len: int) -> bytes | None:
        """Bytes up to and including ``end``; None on timeout. Over ``max_len`` bytes without
        ``end`` returns what arrived, so a caller reports it as bad data rather than waiting."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            cut = self._buf.find(end)
            if cut >= 0:
                frame = bytes(self._buf[: cut + len(end)])
                del self._buf[: cut + len(end)]
                return frame
            if len(self._buf) > max_len:
                frame = bytes(self._buf)
                self._buf.clear()
                return frame
            self._check()
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):  # 3.11's wait_for can swallow a cancel
                    await self._wake.wait()

    def discard(self) -> int:
        """Drop buffered input (a late reply to an earlier command)."""
        n = len(self._buf)
        self._buf.clear()
        return n

    def write(self, data: bytes) -> None:
        self._check()
        transport = self._transport
        if not isinstance(transport, asyncio.WriteTransport) or transport.is_closing():
            raise DeviceLost(self.lost_reason or "the port is closed")
        try:
            transport.write(data)
        except (serial.SerialException, OSError) as exc:
            self._set_lost(describe_lost(exc))
            raise DeviceLost(self.lost_reason or "write failed") from exc
        self._check()

    async def close(self) -> None:
        """Close the port; waits briefly for the transport to finish, never raises."""
        transport = self._transport
        if transport is None or self._closed.is_set():
            return
        with contextlib.suppress(Exception):
            transport.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closed.wait(), CLOSE_TIMEOUT_S)


async def open_link(port: str, baudrate: int, *, limit: int = DEFAULT_LIMIT) -> SerialLink:
    """Open ``port`` exclusively; DeviceLost with a clear reason when it cannot be opened."""
    loop = asyncio.get_running_loop()
    link = SerialLink(port, limit)
    try:
        await serial_asyncio_fast.create_serial_connection(
            loop, lambda: link, port, baudrate=baudrate, exclusive=True)
    except (serial.SerialException, OSError, ValueError) as exc:
        raise DeviceLost(describe_open_error(port, exc)) from exc
    try:
        await asyncio.wait_for(link._made.wait(), CLOSE_TIMEOUT_S)
    except TimeoutError as exc:
        await link.close()
        raise DeviceLost(f"{port} opened but never became ready") from exc
    # Bytes queued in the kernel before we opened are old: they must not be stamped "now".
    transport = link._transport
    port_obj = transport.get_extra_info("serial") if transport is not None else None
    if isinstance(port_obj, serial.Serial) and port_obj.is_open:
        with contextlib.suppress(Exception):
            port_obj.reset_input_buffer()
    link.discard()
    return link


class LinkState:
    """Reports ``connected`` and ``lost`` to the sink once per transition."""

    def __init__(self, sink: DriverSink, device: str, clock: Callable[[], float]) -> None:
        self.sink = sink
        self.device = device
        self.clock = clock
        self.connected: bool | None = None
        self.connections = 0

    def mark_connected(self, detail: str, t: float | None = None) -> None:
        """``t`` is the time of the data that proved it (so events stay in time order)."""
        if self.connected is not True:
            self.connected = True
            self.connections += 1
            log.info("device %s connected: %s", self.device, detail)
            self.sink.connected(self.clock() if t is None else t, self.device, detail)

    def mark_lost(self, reason: str) -> None:
        if self.connected is not False:
            self.connected = False
            log.warning("device %s lost: %s", self.device, reason)
            self.sink.lost(self.clock(), self.device, reason)
        else:
            log.debug("device %s still lost: %s", self.device, reason)
