"""Private files that never follow a symlink, and text that cannot drive a terminal."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.errors import UsageError
from monitor.files import (
    UnsafePathError,
    create_private,
    open_private_text,
    private_dir,
    write_private,
)
from monitor.outputs.eventstream import open_event_stream
from monitor.text import control_characters, printable


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture
def loose_umask():
    old = os.umask(0o000)
    yield
    os.umask(old)


def test_new_files_and_directories_are_private_whatever_the_umask(tmp_path, loose_umask):
    target = tmp_path / "a" / "b" / "session.cgsession"
    os.close(create_private(target))
    assert _mode(target) == 0o600
    assert _mode(tmp_path / "a") == 0o700
    assert _mode(tmp_path / "a" / "b") == 0o700
    write_private(tmp_path / "c" / "report.html", "<p>x</p>")
    assert _mode(tmp_path / "c" / "report.html") == 0o600
    assert _mode(tmp_path / "c") == 0o700


def test_an_existing_directory_keeps_its_mode(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)
    private_dir(shared)
    assert _mode(shared) == 0o755


def test_a_dangling_symlink_is_refused_and_creates_nothing(tmp_path):
    elsewhere = tmp_path / "elsewhere.txt"
    link = tmp_path / "events.jsonl"
    link.symlink_to(elsewhere)
    with pytest.raises(UnsafePathError, match="symbolic link"):
        create_private(link, exclusive=False)
    with pytest.raises(UnsafePathError, match="symbolic link"):
        open_private_text(link)
    assert not elsewhere.exists()


def test_a_whole_document_replaces_a_symlink_instead_of_clobbering_its_target(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    link = tmp_path / "report.html"
    link.symlink_to(victim)
    write_private(link, "report")
    assert victim.read_text() == "keep me"
    assert not link.is_symlink() and link.read_text() == "report"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_exclusive_create_refuses_an_existing_file(tmp_path):
    target = tmp_path / "x"
    target.write_text("old")
    with pytest.raises(FileExistsError):
        create_private(target)
    assert target.read_text() == "old"


def test_events_out_refuses_a_non_empty_file_unless_append(tmp_path):
    target = tmp_path / "events.jsonl"
    target.write_text('{"type": "session.started"}\n')
    with pytest.raises(UsageError, match="--append"):
        open_event_stream(str(target))
    stream, owned = open_event_stream(str(target), append=True)
    stream.write("second\n")
    stream.close()
    assert owned and target.read_text().splitlines() == ['{"type": "session.started"}',
                                                         "second"]
    empty = tmp_path / "empty.jsonl"
    empty.touch()
    stream, _ = open_event_stream(str(empty))
    stream.close()


def test_events_out_refuses_a_symlink(tmp_path):
    link = tmp_path / "events.jsonl"
    link.symlink_to(tmp_path / "nowhere")
    with pytest.raises(UsageError, match="symbolic link"):
        open_event_stream(str(link), append=True)


def test_escape_sequences_never_survive():
    hostile = "N1\x1b]0;pwned\x07\x1b[2J\x9b31m\u202eevil\r\nnext\tcol"
    shown = printable(hostile)
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in shown)
    assert "\u202e" not in shown
    assert shown.startswith("N1\N{REPLACEMENT CHARACTER}]0;pwned")
    assert control_characters(hostile) == ["U+001B", "U+0007", "U+009B", "U+202E", "U+000D",
                                           "U+000A", "U+0009"]
    assert control_characters("L4 right neuroforamen °C") == []
    assert printable("L4 right neuroforamen −12 °C") == "L4 right neuroforamen −12 °C"


@given(st.text())
def test_printable_output_has_no_control_character(text):
    shown = printable(text)
    assert control_characters(shown) == []
    assert len(shown) == len(text)
