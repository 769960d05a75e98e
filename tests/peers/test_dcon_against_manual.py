"""The DCON driver against modules written from the ADAM-4000 and I-7018 manuals.

Issue 14 cases: % of FSR and hex formats never give numbers, a lost $AA2 reply is retried and
never silently skips the check, classic 5-character codes and blank (disabled) channels keep
every channel at its position, a channel's thermocouple type must match the module's.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from drivers.backoff import Backoff
from drivers.collect import CollectingSink
from drivers.params import DconParams
from drivers.runner import run_device
from monitor.model import Status
from tests.peers.dcon_peer import OPEN, DconBus, DconModule
from tests.peers.ptys import PeerPty

FAST = Backoff(initial_s=0.05, max_s=0.2)
CHANNELS = {i: f"ch{i}" for i in range(8)}


@pytest.fixture
def pty(tmp_path: Path) -> Iterator[PeerPty]:
    link = PeerPty(tmp_path / "dev" / "rs485")
    yield link
    link.close()


@contextlib.asynccontextmanager
async def bus(pty: PeerPty, *modules: DconModule) -> AsyncIterator[DconBus]:
    served = DconBus(pty, *modules)
    try:
        yield served
    finally:
        served.stop()


@contextlib.asynccontextmanager
async def driving(params: DconParams, sink: CollectingSink) -> AsyncIterator[None]:
    loop = asyncio.get_running_loop()
    task = asyncio.create_task(run_device(params, sink, loop.time, backoff=FAST))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def params(pty: PeerPty, **kw: object) -> DconParams:
    base: dict[str, object] = dict(id="adam", port=str(pty.path), poll_interval_s=0.05,
                                   timeout_s=0.1, channel_map=CHANNELS)
    base.update(kw)
    return DconParams(**base)  # type: ignore[arg-type]


def readings(sink: CollectingSink) -> list[tuple[str, float | None, Status]]:
    first = sink.of("scan")[0].readings
    return [(r.channel, r.temp_c, r.status) for r in first]


NERVES = [23.45, 36.6, 44.99, 50.0]


@pytest.mark.parametrize(("fmt", "words"), [(1, "% of FSR"), (2, "two's complement hex")])
async def test_percent_and_hex_formats_never_give_numbers(pty: PeerPty, fmt: int,
                                                          words: str) -> None:
    module = DconModule(model="4018", data_format=fmt, inputs=[*NERVES, 21.0, 21.0, 21.0, 21.0])
    sink = CollectingSink()
    async with bus(pty, module), driving(params(pty), sink):
        assert await sink.wait_for("lost", 1, timeout_s=3)
        await asyncio.sleep(0.3)  # several reconnect attempts: still nothing
    assert sink.of("scan") == []
    assert words in sink.of("lost")[0].detail and "not temperatures" in sink.of("lost")[0].detail


async def test_one_lost_config_reply_is_retried(pty: PeerPty) -> None:
    module = DconModule(inputs=[*NERVES, 21.0, 21.0, 21.0, 21.0], drop_config_replies=1)
    sink = CollectingSink()
    async with bus(pty, module), driving(params(pty), sink):
        assert await sink.wait_for("scan", 1, timeout_s=3)
    assert sink.of("lost") == []
    got = readings(sink)[:4]
    assert [c for c, _, _ in got] == ["ch0", "ch1", "ch2", "ch3"]
    assert [v for _, v, _ in got] == pytest.approx(NERVES, abs=0.051)  # 0.1 °C resolution
    assert sum(f == b"$012" for f in module.received) == 2


async def test_lost_config_replies_refuse_the_module_even_in_percent_format(pty: PeerPty) -> None:
    """The issue's case: $AA2 lost and the module in % of FSR: no 5.9 °C for a 23.45 °C nerve."""
    module = DconModule(model="4018", data_format=1, drop_config_replies=10**6,
                        inputs=[*NERVES, 21.0, 21.0, 21.0, 21.0])
    sink = CollectingSink()
    async with bus(pty, module), driving(params(pty), sink):
        assert await sink.wait_for("lost", 1, timeout_s=3)
        await asyncio.sleep(0.3)
    assert sink.of("scan") == []
    lost = sink.of("lost")[0].detail
    assert "$012" in lost and "unconfirmed" in lost and 'data_format = "engineering"' in lost


async def test_site_may_vouch_for_engineering_units_when_the_module_cannot_say(
        pty: PeerPty) -> None:
    module = DconModule(drop_config_replies=10**6, inputs=[*NERVES, 21.0, 21.0, 21.0, 21.0])
    sink = CollectingSink()
    async with bus(pty, module), driving(params(pty, data_format="engineering"), sink):
        assert await sink.wait_for("scan", 1, timeout_s=3)
    assert "WARNING: data format not confirmed" in sink.of("connected")[0].detail
    assert readings(sink)[3] == ("ch3", 50.0, Status.OK)


async def test_site_word_never_overrides_a_module_that_says_otherwise(pty: PeerPty) -> None:
    module = DconModule(data_format=1)
    sink = CollectingSink()
    async with bus(pty, module), driving(params(pty, data_format="engineering"), sink):
        assert await sink.wait_for("lost", 1, timeout_s=3)
    assert sink.of("scan") == []


async def test_classic_codes_and_disabled_channels_keep_positions(pty: PeerPty) -> None:
    """4018 classic codes (5 characters) next to 7-character values; 46 °C stays on ch5."""
    module = DconModule(model="4018", inputs=[23.0, 500.0, 22.0, -150.0, OPEN, 46.0, 9.0, 30.0])
    sink = CollectingSink()
    async with bus(pty, module), driving(params(pty), sink):
        assert await sink.wait_for("scan", 1, timeout_s=3)
    assert readings(sink) == [
        ("ch0", 23.0, Status.OK), ("ch1", None, Status.OVER_RANGE), ("ch2", 22.0, Status.OK),
        ("ch3", None, Status.UNDER_RANGE), ("ch4", None, Status.OVER_RANGE),
        ("ch5", 46.0, Status.OK), ("ch6", 9.0, Status.OK), ("ch7", 30.0, Status.OK)]


async def test_4018_plus_disabled_channels_and_burn_out(pty: PeerPty) -> None:
    module = DconModule(model="4018+", inputs=[23.0, 500.0, 22.0, OPEN, -150.0, 46.0, 9.0, 30.0],
                        enabled=0b11011010)  # channels 0, 2 and 5 switched off with $AA5VV
    sink = CollectingSink()
    async with bus(pty, module), driving(params(pty), sink):
        assert await sink.wait_for("scan", 1, timeout_s=3)
    assert readings(sink) == [
        ("ch1", None, Status.OVER_RANGE), ("ch3", None, Status.OPEN),
        ("ch4", None, Status.UNDER_RANGE), ("ch6", 9.0, Status.OK), ("ch7", 30.0, Status.OK)]


async def test_i7018_reads_the_full_type_t_span_with_checksum(pty: PeerPty) -> None:
    module = DconModule(model="7018", checksum=True, inputs=[-196.0, 8.5, 44.0])
    sink = CollectingSink()
    async with bus(pty, module), driving(params(pty, checksum=True, roles={"ch0": "probe"}),
                                         sink):
        assert await sink.wait_for("scan", 1, timeout_s=3)
    assert readings(sink) == [("ch0", -196.0, Status.OK), ("ch1", 8.5, Status.OK),
                              ("ch2", 44.0, Status.OK)]
    assert "WARNING" not in sink.of("connected")[0].detail  # -270 °C reaches a probe's range


async def test_another_address_on_the_bus_stays_out_of_the_way(pty: PeerPty) -> None:
    mine = DconModule(address=2, inputs=[11.0, 12.0])
    other = DconModule(address=1, inputs=[99.0, 98.0])
    sink = CollectingSink()
    async with bus(pty, mine, other), driving(params(pty, address=2), sink):
        assert await sink.wait_for("scan", 2, timeout_s=3)
    assert readings(sink) == [("ch0", 11.0, Status.OK), ("ch1", 12.0, Status.OK)]


async def test_channel_type_must_match_the_modules(pty: PeerPty) -> None:
    module = DconModule(type_code="10")
    sink = CollectingSink()
    async with bus(pty, module), driving(params(pty, tc_types={"ch1": "K"}), sink):
        assert await sink.wait_for("lost", 1, timeout_s=3)
    assert sink.of("scan") == []
    assert "type K" in sink.of("lost")[0].detail and "type T" in sink.of("lost")[0].detail
