"""A tiny document model rendered twice: Markdown (``report.md``) and self-contained HTML.

The HTML embeds its images as base64 data URIs and its style inline, so it opens from the
folder (or as a mail attachment) with no network and no other file.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True, slots=True)
class Para:
    text: str


@dataclass(frozen=True, slots=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    empty: str = "none"


@dataclass(frozen=True, slots=True)
class Image:
    path: Path
    alt: str


Block = Heading | Para | Table | Image

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 75em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.2em; font-size: 0.9em; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #eee; }
img { max-width: 100%; border: 1px solid #ddd; margin: 0.5em 0 1.2em; }
p.note { color: #555; }
"""


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(blocks: list[Block]) -> str:
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append(f"{'#' * block.level} {block.text}\n")
        elif isinstance(block, Para):
            out.append(f"{block.text}\n")
        elif isinstance(block, Table):
            if not block.rows:
                out.append(f"_{block.empty}_\n")
                continue
            out.append("| " + " | ".join(_md_cell(h) for h in block.headers) + " |")
            out.append("|" + "---|" * len(block.headers))
            out.extend("| " + " | ".join(_md_cell(c) for c in row) + " |" for row in block.rows)
            out.append("")
        else:
            out.append(f"![{block.alt}]({block.path.name})\n")
    return "\n".join(out)


def _inline(text: str) -> str:
    """Escape, then turn Markdown ``code`` and [text](link) into HTML."""
    import re

    escaped = html.escape(text)
    escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
    return re.sub(r"\[([^\]]+)\]\(([^)]+)\)", r'<a href="\2">\1</a>', escaped)


def to_html(blocks: list[Block], title: str) -> str:
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"]
    for block in blocks:
        if isinstance(block, Heading):
            out.append(f"<h{block.level}>{_inline(block.text)}</h{block.level}>")
        elif isinstance(block, Para):
            out.append(f"<p>{_inline(block.text)}</p>")
        elif isinstance(block, Table):
            if not block.rows:
                out.append(f'<p class="note"><em>{html.escape(block.empty)}</em></p>')
                continue
            out.append("<table><thead><tr>"
                       + "".join(f"<th>{html.escape(h)}</th>" for h in block.headers)
                       + "</tr></thead><tbody>")
            out.extend("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in row) + "</tr>"
                       for row in block.rows)
            out.append("</tbody></table>")
        else:
            data = base64.b64encode(block.path.read_bytes()).decode("ascii")
            out.append(f'<img alt="{html.escape(block.alt)}" '
                       f'src="data:image/png;base64,{data}">')
    out.append("</body></html>")
    return "\n".join(out) + "\n"
