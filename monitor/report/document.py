"""A small document model written as Markdown (``report.md``) and rendered to HTML by
markdown-it-py in safe mode (``report.html``, self-contained).

Every string in a block is Markdown source. Text that came from a config, a device, an
operator or a session file goes in through :func:`text` (or :func:`ident`, :func:`code`), which
escapes it, so a label like ``[x](javascript:…)`` or ``<script>`` stays literal text in both
files. The HTML renderer is markdown-it-py with raw HTML off and its link validation on (no
``javascript:``, ``vbscript:``, ``file:`` or ``data:`` links); images are only our own plots,
embedded as data URIs. Printing keeps each heading on the page of what follows it.
Why: docs/security.md ("Reports").
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from monitor.text import printable


@dataclass(frozen=True, slots=True)
class Heading:
    level: int
    text: str  # Markdown


@dataclass(frozen=True, slots=True)
class Para:
    text: str  # Markdown


@dataclass(frozen=True, slots=True)
class Table:
    headers: tuple[str, ...]  # Markdown
    rows: tuple[tuple[str, ...], ...]  # Markdown
    empty: str = "none"  # plain text


@dataclass(frozen=True, slots=True)
class Image:
    path: Path
    alt: str  # plain text


Block = Heading | Para | Table | Image

# Markdown source from untrusted text -------------------------------------------------------

# What can start Markdown syntax inside a line: emphasis, code, links and images, HTML tags,
# entities, autolinks, table cell boundaries, strikethrough, and the backslash itself.
_SPECIAL = re.compile(r"([\\`*_\[\]<>!&|~#])")
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def text(value: object) -> str:
    """Untrusted text as Markdown that renders as exactly that text, on one line, inside a
    paragraph or a table cell (never at the start of a block, where ``-`` or ``1.`` would
    start a list: the report never puts it there).

    CommonMark lets any ASCII punctuation be backslash-escaped, and an escaped character
    never starts emphasis, a link, an HTML tag, an entity or a table cell boundary.
    """
    return _SPECIAL.sub(r"\\\1", printable(value))


def ident(value: object) -> str:
    """An id or a name (``N1.below_critical``, ``ct-suite-2``): as is when it holds only
    letters, digits, ``.``, ``_`` and ``-`` (as config ids do), else escaped like text."""
    shown = str(value)
    return shown if _SAFE_ID.match(shown) else text(shown)


def code(value: object, *, cell: bool = False) -> str:
    """Untrusted text as a code span (a port, a file name): literal in every renderer.

    ``cell``: for a table cell, where ``|`` must be escaped even inside a code span (the
    table splits its cells first); elsewhere the backslash would show.
    """
    shown = printable(value)
    if cell:
        shown = shown.replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", shown)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if shown.startswith("`") or shown.endswith("`") or not shown.strip() else ""
    return f"{fence}{pad}{shown}{pad}{fence}"


# Markdown -----------------------------------------------------------------------------------

def block_markdown(block: Block) -> str:
    if isinstance(block, Heading):
        return f"{'#' * block.level} {block.text}\n"
    if isinstance(block, Para):
        return f"{block.text}\n"
    if isinstance(block, Table):
        if not block.rows:
            return f"_{text(block.empty)}_\n"
        lines = ["| " + " | ".join(_cell(h) for h in block.headers) + " |",
                 "|" + "---|" * len(block.headers)]
        lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in block.rows]
        return "\n".join(lines) + "\n"
    return f"![{text(block.alt)}]({block.path.name})\n"


def _cell(markdown: str) -> str:
    return markdown.replace("\n", " ") or " "


def to_markdown(blocks: Sequence[Block]) -> str:
    return "\n".join(block_markdown(b) for b in blocks)


# HTML ---------------------------------------------------------------------------------------

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 75em; color: #222;
       padding: 0 1em; }
table { border-collapse: collapse; margin: 0.5em 0 1.2em; font-size: 0.9em; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #eee; }
img { max-width: 100%; border: 1px solid #ddd; margin: 0.5em 0 1.2em; }
p.note, p.empty { color: #555; }
@media print {
  body { margin: 0; max-width: none; font-size: 10pt; }
  h1, h2, h3 { break-after: avoid-page; page-break-after: avoid; }
  .keep { break-inside: avoid-page; page-break-inside: avoid; }
  tr, img { break-inside: avoid-page; page-break-inside: avoid; }
  thead { display: table-header-group; }
}
"""


@cache
def _renderer() -> Any:
    from markdown_it import MarkdownIt

    # "commonmark" with raw HTML off: a tag in the source is escaped text, not markup.
    return MarkdownIt("commonmark", {"html": False, "linkify": False,
                                     "typographer": False}).enable("table")


def _render(markdown: str, images: Mapping[str, str]) -> str:
    md = _renderer()
    env: dict[str, Any] = {"images": images}
    tokens = md.parse(markdown, env)
    for token in tokens:
        for child in token.children or ():
            if child.type == "image":
                src = str(child.attrGet("src") or "")
                child.attrSet("src", images.get(src, ""))  # only our own plots, embedded
    return str(md.renderer.render(tokens, md.options, env))


def to_html(blocks: Sequence[Block], title: str) -> str:
    """The whole page; each heading is kept with the block after it when printed."""
    images = {b.path.name: "data:image/png;base64,"
              + base64.b64encode(b.path.read_bytes()).decode("ascii")
              for b in blocks if isinstance(b, Image)}
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{html.escape(printable(title))}</title><style>{_STYLE}</style></head>"
           "<body>"]
    i = 0
    while i < len(blocks):
        block = blocks[i]
        if isinstance(block, Heading):
            group: list[Block] = [block]
            while i + 1 < len(blocks) and isinstance(blocks[i + 1], Heading):
                i += 1
                group.append(blocks[i])  # consecutive headings travel together
            if i + 1 < len(blocks):
                i += 1
                group.append(blocks[i])
            body = "".join(_block_html(b, images) for b in group)
            out.append(f'<div class="keep">{body}</div>')
        else:
            out.append(_block_html(block, images))
        i += 1
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _block_html(block: Block, images: Mapping[str, str]) -> str:
    if isinstance(block, Table) and not block.rows:
        return f'<p class="empty"><em>{html.escape(block.empty)}</em></p>\n'
    return _render(block_markdown(block), images)
