"""The sans-IO detection engine: the one code path for live, replay, tests and benchmarks."""

from monitor.engine.block import ReadingBlock
from monitor.engine.core import AlarmView, Engine, Snapshot

__all__ = ["AlarmView", "Engine", "ReadingBlock", "Snapshot"]
