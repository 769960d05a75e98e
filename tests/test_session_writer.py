"""SessionWriter on real SQLite files with real faults, no threads, an injected clock.

Faults are the real ones: ``PRAGMA max_page_count`` gives SQLite's own SQLITE_FULL, the
directory or file is really deleted or replaced, ``chattr +i`` makes the file really read-only
(even for root), another connection really holds the lock.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.errors import CryoGuardError
from monitor.model import Reading, Status
from monitor.sessions.reader import open_session
from monitor.sessions.schema import ChannelInfo
from monitor.sessions.writer import SessionWriter, WriteFault

CHANNELS = [ChannelInfo("N1"), ChannelInfo("P1")]
META = {"schema_version": "1", "station": "w", "started": "2026-01-01T00:00:00.000Z"}


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Pages:
    """An ``on_connect`` hook: a database limited to ``limit`` pages (None: no limit)."""

    def __init__(self) -> None:
        self.limit: int | None = None

    def __call__(self, conn: sqlite3.Connection) -> None:
        if self.limit is not None:
            conn.execute(f"PRAGMA max_page_count={self.limit}")


def make(path: Path, clock: FakeClock | None = None, pages: Pages | None = None, *,
         commit_interval_s: float = 1.0, retry_interval_s: float = 1.0,
         busy_timeout_s: float = 1.0) -> SessionWriter:
    return SessionWriter.create(path, meta=META, channels=CHANNELS, clock=clock or FakeClock(),
                                on_connect=pages, commit_interval_s=commit_interval_s,
                                retry_interval_s=retry_interval_s, busy_timeout_s=busy_timeout_s)


def scan(seq: int, t: float) -> list[Reading]:
    return [Reading(t, "N1", 30.0 - t), Reading(t, "P1", None, Status.OPEN)]


def count(path: Path) -> int:
    with open_session(path) as session:
        return session.reading_count()


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_files_are_private_whatever_the_umask(tmp_path: Path, umask_022: None) -> None:
    path = tmp_path / "new" / "deeper" / "s.cgsession"
    writer = make(path)
    writer.write_readings(0, scan(0, 0.0))
    writer.flush()
    assert mode(tmp_path / "new") == 0o700 and mode(tmp_path / "new" / "deeper") == 0o700
    beside = sorted(p.name for p in path.parent.iterdir())
    assert beside == ["s.cgsession", "s.cgsession-shm", "s.cgsession-wal"]
    assert {p.name: mode(p) for p in path.parent.iterdir()} == dict.fromkeys(beside, 0o600)
    writer.finish(1.0)
    assert [p.name for p in path.parent.iterdir()] == ["s.cgsession"]
    assert mode(path) == 0o600
    assert count(path) == 2


def test_never_through_a_symlink_nor_over_a_file(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.cgsession"
    link = tmp_path / "link.cgsession"
    link.symlink_to(elsewhere)  # dangling: following it would create a file elsewhere
    with pytest.raises(CryoGuardError, match="symbolic link"):
        make(link)
    assert not elsewhere.exists()
    wal_link = tmp_path / "w.cgsession-wal"
    wal_link.symlink_to(elsewhere)
    with pytest.raises(CryoGuardError, match="left over"):
        make(tmp_path / "w.cgsession")
    assert not elsewhere.exists() and not (tmp_path / "w.cgsession").exists()
    existing = tmp_path / "old.cgsession"
    existing.write_bytes(b"precious")
    with pytest.raises(CryoGuardError, match="already exists"):
        make(existing)
    assert existing.read_bytes() == b"precious"


def test_scheduling_follows_the_injected_clock(tmp_path: Path) -> None:
    clock = FakeClock()
    writer = make(tmp_path / "s.cgsession", clock, commit_interval_s=1.0, retry_interval_s=0.5)
    writer.write_readings(0, scan(0, 0.0))
    assert not writer.flush_due() and writer.next_due() == 101.0
    clock.now = 101.0
    assert writer.flush_due()
    writer.flush()
    assert writer.next_due() == 102.0 and writer.pending == 0
    clock.now = 101.2
    writer.write_event(2, 0.1, "alarm.raised", {"type": "alarm.raised", "t": 0.1})
    assert writer.flush_due()  # an event is committed at once
    writer.flush()
    assert not writer.flush_due() and writer.events_in_file == 1


def test_disk_full_keeps_every_row_and_writes_them_when_there_is_room(tmp_path: Path) -> None:
    pages, clock = Pages(), FakeClock()
    path = tmp_path / "s.cgsession"
    writer = make(path, clock, pages, retry_interval_s=0.5)
    writer.write_readings(0, scan(0, 0.0))
    writer.flush()
    pages.limit = 1  # below what the file has: SQLite itself answers SQLITE_FULL
    writer.drop_connection()  # the hook applies from the next connection on
    for i in range(1, 500):
        writer.write_readings(2 * i, scan(2 * i, i * 0.1))
    with pytest.raises(WriteFault) as caught:
        writer.flush()
    assert caught.value.reason == "disk full" and "SQLITE_FULL" in str(caught.value)
    assert writer.pending == 998 and writer.fault is caught.value
    assert writer.next_due() == clock.now + 0.5  # retried later, not in a loop
    assert count(path) == 2
    pages.limit = None
    clock.now += 0.5
    assert writer.flush_due()
    writer.flush()
    assert writer.fault is None and writer.pending == 0 and count(path) == 1000


def test_a_deleted_directory_is_not_recreated_a_deleted_file_is(tmp_path: Path) -> None:
    directory = tmp_path / "sessions"
    path = directory / "s.cgsession"
    writer = make(path)
    writer.write_readings(0, scan(0, 0.0))
    writer.flush()
    shutil.rmtree(directory)
    writer.write_readings(2, scan(2, 0.1))
    with pytest.raises(WriteFault, match="directory was deleted"):
        writer.flush()
    with pytest.raises(WriteFault, match="directory was deleted"):
        writer.flush()
    assert not directory.exists() and writer.pending == 2
    directory.mkdir()
    writer.flush()  # the file is re-created privately and gets what was not written
    assert writer.recreated_at_seq == 2 and writer.recreated_after_t == 0.0
    assert mode(path) == 0o600
    path.unlink()  # the file alone, the connection still open: a commit goes nowhere
    writer.write_readings(4, scan(4, 0.2))
    with pytest.raises(WriteFault, match="file was deleted"):
        writer.flush()
    writer.flush()
    writer.finish(0.3)
    with open_session(path) as session:
        assert [t for t in session.columns().t] == [0.2, 0.2]
        assert session.meta["resumed_at_seq"] == "4"
        assert session.closed_cleanly
    assert writer.committed == [6, 0, 0] and writer.readings_in_file == 2


def test_a_replaced_file_is_never_written(tmp_path: Path) -> None:
    path = tmp_path / "s.cgsession"
    writer = make(path)
    writer.write_readings(0, scan(0, 0.0))
    writer.flush()
    other = tmp_path / "other"
    other.write_bytes(b"someone else's file")
    os.replace(other, path)
    writer.write_readings(2, scan(2, 0.1))
    for _ in range(2):  # reconnecting does not make it ours
        with pytest.raises(WriteFault, match="replaced"):
            writer.flush()
    assert path.read_bytes() == b"someone else's file"
    with pytest.raises(WriteFault):
        writer.finish(1.0)


def test_a_locked_database_is_a_fault_until_released(tmp_path: Path) -> None:
    path = tmp_path / "s.cgsession"
    writer = make(path, busy_timeout_s=0.01)
    blocker = sqlite3.connect(path, isolation_level=None, timeout=0)
    blocker.execute("BEGIN EXCLUSIVE")
    writer.write_readings(0, scan(0, 0.0))
    with pytest.raises(WriteFault) as caught:
        writer.flush()
    assert caught.value.reason == "the file is locked by another program"
    blocker.execute("ROLLBACK")
    blocker.close()
    writer.flush()
    assert count(path) == 2


def _chattr(flag: str, *paths: Path) -> bool:
    try:
        done = subprocess.run(["chattr", flag, *map(str, paths)], capture_output=True)
    except FileNotFoundError:
        return False
    return done.returncode == 0


def test_a_read_only_file_is_a_fault_until_writable_again(tmp_path: Path) -> None:
    path = tmp_path / "s.cgsession"
    wal = tmp_path / "s.cgsession-wal"
    writer = make(path)
    writer.write_readings(0, scan(0, 0.0))
    writer.flush()
    if not _chattr("+i", path, wal):  # immutable: read-only even for root
        pytest.skip("chattr +i is not available on this file system")
    try:
        writer.write_readings(2, scan(2, 0.1))
        for _ in range(2):  # the open connection, then a reconnection: both refused
            with pytest.raises(WriteFault) as caught:
                writer.flush()
            assert caught.value.reason in ("write error", "the file is read-only")
        assert caught.value.reason == "the file is read-only"
    finally:
        _chattr("-i", path, wal)
    writer.flush()
    writer.finish(1.0)
    assert count(path) == 4


def test_a_file_deleted_during_the_commit_is_noticed_after_it(tmp_path: Path) -> None:
    """The check before the commit passed; the file goes while SQLite writes into it."""
    path = tmp_path / "s.cgsession"
    armed = {"on": False}

    def delete_mid_transaction() -> int:
        if armed["on"]:
            armed["on"] = False
            path.unlink()
        return 0  # go on

    def hook(conn: sqlite3.Connection) -> None:
        conn.set_progress_handler(delete_mid_transaction, 1)

    writer = SessionWriter.create(path, meta=META, channels=CHANNELS, clock=FakeClock(),
                                  on_connect=hook)
    writer.write_readings(0, scan(0, 0.0))
    armed["on"] = True
    with pytest.raises(WriteFault, match="the file was deleted"):
        writer.flush()  # the commit itself succeeded, into a file nobody can open any more
    assert writer.pending == 2 and writer.readings_in_file == 0
    writer.flush()  # re-created, and the rows are in it
    assert writer.recreated_at_seq == 0 and count(path) == 2
