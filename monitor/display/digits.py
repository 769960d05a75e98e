"""Large digits for the bedside screen, two or four text rows tall, made of block characters.

Half-block characters (``▀ ▄ █``) give two pixel rows per text row, so the four-row font is a
classic 5 × 7 dot-matrix face and the two-row font a 3 × 4 one. Every glyph of a font has the
same height; widths differ (the point is narrow), and one blank column separates glyphs.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

# Two rows: 3 × 4 pixels, drawn directly.
FONT2: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "0": ("█▀█", "█▄█"), "1": ("▀█ ", "▄█▄"), "2": ("▀▀█", "█▄▄"), "3": ("▀▀█", "▄▄█"),
    "4": ("█ █", "▀▀█"), "5": ("█▀▀", "▄▄█"), "6": ("█▄▄", "█▄█"), "7": ("▀▀█", "  █"),
    "8": ("█▄█", "█▄█"), "9": ("█▀█", "▀▀█"), "-": ("▄▄ ", "   "), "+": ("▄█▄", " ▀ "),
    ".": (" ", "▄"), " ": ("  ", "  "),
})

# Four rows: 5 × 7 pixels (plus a blank bottom row), '#' = lit.
_PIXELS_5X7: Mapping[str, tuple[str, ...]] = {
    "0": (".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."),
    "1": ("..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."),
    "2": (".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"),
    "3": ("####.", "....#", "....#", ".###.", "....#", "....#", "####."),
    "4": ("...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."),
    "5": ("#####", "#....", "####.", "....#", "....#", "#...#", ".###."),
    "6": ("..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."),
    "7": ("#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."),
    "8": (".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."),
    "9": (".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."),
    "-": ("....", "....", "....", "####", "....", "....", "...."),
    "+": (".....", "..#..", "..#..", "#####", "..#..", "..#..", "....."),
    ".": (".", ".", ".", ".", ".", ".", "#"),
    " ": ("...", "...", "...", "...", "...", "...", "..."),
}


def _half_blocks(pixels: tuple[str, ...]) -> tuple[str, ...]:
    rows = list(pixels) + ["." * len(pixels[0])] * (len(pixels) % 2)
    out = []
    for top, bottom in zip(rows[0::2], rows[1::2], strict=True):
        out.append("".join(" ▄▀█"[(t == "#") * 2 + (b == "#")] for t, b in zip(top, bottom,
                                                                                strict=True)))
    return tuple(out)


FONT4: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {char: _half_blocks(pixels) for char, pixels in _PIXELS_5X7.items()})
FONTS: Mapping[int, Mapping[str, tuple[str, ...]]] = MappingProxyType({2: FONT2, 4: FONT4})


def big_rows(value: str, rows: int) -> list[str]:
    """``value`` drawn ``rows`` text rows tall; every row the same width, nothing trailing.

    A character the font lacks is drawn as a box of the font's height, never dropped.
    """
    font = FONTS[rows]
    glyphs = [font.get(c, ("█",) * rows) for c in value]
    lines = [" ".join(g[r] for g in glyphs) for r in range(rows)]
    width = max((len(line.rstrip()) for line in lines), default=0)
    return [line[:width].ljust(width) for line in lines]


def big_width(value: str, rows: int) -> int:
    return len(big_rows(value, rows)[0]) if value else 0
