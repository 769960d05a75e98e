"""The display's keys for interventions and notes, and Ctrl-C: the same inputs as stdin."""

from __future__ import annotations

from typing import Any

from monitor.config.schema import DisplayConfig
from monitor.daemon.grammar import NOTE_MAX_CHARS
from monitor.display.keys import Action, decode_keys
from monitor.display.live import LiveDisplay


def test_c_and_s_are_interventions() -> None:
    assert decode_keys(b"c", False).actions == (Action.CO2,)
    assert decode_keys(b"S", False).actions == (Action.SALINE,)
    assert [a.intervention for a in (Action.CO2, Action.SALINE, Action.ACK)] == [
        "co2", "saline", None]


def test_n_opens_a_note_whose_letters_are_text_not_actions() -> None:
    opened = decode_keys(b"n", False)
    assert opened.actions == (Action.ASK_NOTE,) and opened.note == ""
    typing = decode_keys(b"ack paused", False, opened.note)
    assert typing.actions == () and typing.note == "ack paused"  # no acknowledge, no pause
    edited = decode_keys(b"\x7f\x7fd!", False, typing.note)
    assert edited.note == "ack pausd!"
    saved = decode_keys(b"\r", False, "CO2 20 ml at L4")
    assert saved.actions == (Action.NOTE,) and saved.notes == ("CO2 20 ml at L4",)
    assert saved.note is None
    assert decode_keys(b"\r", False, "   ").actions == ()  # an empty note is no note
    cancelled = decode_keys(b"\x1b", False, "half a thought")
    assert cancelled.actions == () and cancelled.note is None
    arrows = decode_keys(b"\x1b[A", False, "abc")
    assert arrows.note == "abc"  # an arrow key is neither text nor a cancel
    full = decode_keys(b"x" * (NOTE_MAX_CHARS + 50), False, "")
    assert full.note is not None and len(full.note) == NOTE_MAX_CHARS


def test_ctrl_c_asks_like_q_even_while_typing_a_note() -> None:
    asked = decode_keys(b"\x03", False)
    assert asked.actions == (Action.ASK_QUIT,) and asked.quit_prompt
    assert decode_keys(b"y", True).actions == (Action.QUIT,)
    from_note = decode_keys(b"\x03", False, "half")
    assert from_note.actions == (Action.ASK_QUIT,) and from_note.quit_prompt
    assert from_note.note is None
    assert decode_keys(b"n", True).actions == (Action.CANCEL,)  # n answers "no" here


class _Context:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def intervention(self, kind: str) -> None:
        self.calls.append(("intervention", kind))

    def note(self, text: str) -> None:
        self.calls.append(("note", text))

    def fault(self, *args: Any) -> None:
        self.calls.append(("fault", args))


def test_the_display_turns_keys_into_the_context_calls() -> None:
    display = LiveDisplay(DisplayConfig(bell=False), stdin_fd=None)
    context = _Context()
    display._context = context  # type: ignore[assignment]
    display.handle_keys(b"cs")
    display.handle_keys(b"nsaline ready")
    assert display.note_text == "saline ready"
    display.handle_keys(b"\r")
    assert context.calls == [("intervention", "co2"), ("intervention", "saline"),
                             ("note", "saline ready")]
    assert display.note_text is None


def test_a_read_only_display_takes_no_note() -> None:
    display = LiveDisplay(DisplayConfig(bell=False), stdin_fd=None, read_only=True)
    display.handle_keys(b"nhello")
    assert display.note_text is None
