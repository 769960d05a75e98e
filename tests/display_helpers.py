"""Reading the bedside screen back as text: a channel's block, its value (large digits or text).

Used by the renderer tests and by the tmux tests, so both read what a person would read.
"""

from __future__ import annotations

from monitor.display.digits import FONTS

INK = set("▀▄█")


def _glyph_table(rows: int) -> dict[tuple[str, ...], str]:
    table: dict[tuple[str, ...], str] = {}
    for char, glyph in FONTS[rows].items():
        cols = [i for i in range(len(glyph[0])) if any(row[i] != " " for row in glyph)]
        if cols:
            table[tuple(row[cols[0]:cols[-1] + 1] for row in glyph)] = char
    return table


def read_big(rows: list[str]) -> str:
    """The number written in large digits over ``rows`` (the font's height)."""
    table = _glyph_table(len(rows))
    width = max(len(r) for r in rows)
    rows = [r.ljust(width) for r in rows]
    out, start = [], None
    for i in range(width + 1):
        blank = i == width or all(r[i] == " " for r in rows)
        if blank and start is not None:
            out.append(table.get(tuple(r[start:i] for r in rows), "?"))
            start = None
        elif not blank and start is None:
            start = i
    return "".join(out)


def channel_block(lines: list[str], cid: str) -> list[str]:
    """The screen lines of channel ``cid``: its first row and the rows under it (the rest of
    the label, the role, the lower rows of the digits) up to the next channel or the footer."""
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{cid} "))
    block = [lines[start]]
    for line in lines[start + 1:]:
        if not line.strip() or _looks_like_channel(line) or line.startswith(
                (" a ack", " quit?", " read-only", " replay")):
            break
        block.append(line)
    return block


def _looks_like_channel(line: str) -> bool:
    head = line.split(" ", 1)[0]
    return bool(head) and head[0].isalpha() and head[0].isupper() and any(
        c.isdigit() for c in head) and len(head) <= 8


def channel_value(lines: list[str], cid: str) -> float | str:
    """The value shown for channel ``cid``: a float, or the status word."""
    block = channel_block(lines, cid)
    first = block[0]
    if "°C" in first:
        end = first.index("°C")
        region = [line[:end].ljust(end) for line in block]
        ink_rows = [r for r in region if any(ch in INK for ch in r)]
        if ink_rows:
            start = min(i for r in region for i, ch in enumerate(r) if ch in INK)
            for height in (4, 2):
                if len(region) >= height:
                    text = read_big([r[start:end] for r in region[:height]])
                    if "?" not in text:
                        return float(text)
            raise AssertionError("unreadable large digits:\n" + "\n".join(block))
        words = first[:end].split()
        return float(words[-1])
    for word in ("OPEN", "SHORT", "OVER RANGE", "UNDER RANGE", "BAD DATA", "STALE", "NO DATA"):
        if word in first:
            return word
    raise AssertionError(f"no value in {first!r}")
