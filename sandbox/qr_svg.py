"""A QR-looking SVG for a sandbox ticket: finder squares and modules drawn from the ticket's hash.

It is a placeholder, not a scannable code: the chat page's sample picture. The
codes the app creates are served as real, scannable PNGs (``qr_png``).
"""
from __future__ import annotations

import hashlib
from xml.sax.saxutils import escape

SIZE = 25  # modules per side, like a version-2 QR code
MODULE = 8  # pixels per module
QUIET = 2  # modules of white border


def _finder_cells(x0: int, y0: int) -> set[tuple[int, int]]:
    cells = set()
    for y in range(7):
        for x in range(7):
            ring = max(abs(x - 3), abs(y - 3))
            if ring != 2:  # dark outer ring and 3x3 centre, light ring between
                cells.add((x0 + x, y0 + y))
    return cells


def _reserved(x: int, y: int) -> bool:
    corners = ((0, 0), (SIZE - 7, 0), (0, SIZE - 7))
    return any(cx - 1 <= x <= cx + 7 and cy - 1 <= y <= cy + 7 for cx, cy in corners)


def qr_svg(ticket: str, caption: str = "") -> str:
    """The SVG document for ``ticket``, with an escaped caption under the code."""
    dark = _finder_cells(0, 0) | _finder_cells(SIZE - 7, 0) | _finder_cells(0, SIZE - 7)
    stream = b""
    counter = 0
    while len(stream) * 8 < SIZE * SIZE:
        stream += hashlib.sha256(f"{counter}:{ticket}".encode()).digest()
        counter += 1
    bits = "".join(f"{byte:08b}" for byte in stream)
    for y in range(SIZE):
        for x in range(SIZE):
            if not _reserved(x, y) and bits[y * SIZE + x] == "1":
                dark.add((x, y))
    side = (SIZE + 2 * QUIET) * MODULE
    text_height = 28 if caption else 0
    rects = "".join(
        f'<rect x="{(x + QUIET) * MODULE}" y="{(y + QUIET) * MODULE}" '
        f'width="{MODULE}" height="{MODULE}"/>'
        for x, y in sorted(dark)
    )
    label = ""
    if caption:
        label = (
            f'<text x="{side // 2}" y="{side + 18}" text-anchor="middle" '
            f'font-family="sans-serif" font-size="13" fill="#555">{escape(caption[:64])}</text>'
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{side}" height="{side + text_height}" '
        f'viewBox="0 0 {side} {side + text_height}" role="img" aria-label="sandbox QR code">'
        f'<rect width="100%" height="100%" fill="#fff"/><g fill="#111">{rects}</g>{label}</svg>'
    )
