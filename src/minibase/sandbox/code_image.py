"""The sandbox's mini program codes: a real PNG, `width` pixels square, whose modules come from
a hash of what was asked (so two codes differ when their scene or page does) drawn in the line
colour on white, or on a transparent background for `is_hyaline`. tEXt chunks say what the
code carries, so a test can read back the scene, page and colour it asked for."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping

from minibase.sandbox.png import RGB, RGBA, encode_png

MODULES = 25  # modules a side, like a small QR code, with a quiet zone of one module
_FINDERS = ((0, 0), (0, MODULES - 7), (MODULES - 7, 0))


def auto_color(appid: str) -> tuple[int, int, int]:
    """The app's "main colour" that auto_color picks: dark, and the same for an app."""
    digest = hashlib.sha256(f"colour:{appid}".encode()).digest()
    return (digest[0] % 160, digest[1] % 160, digest[2] % 160)


def _in_finder(row: int, col: int) -> bool | None:
    """Inside a finder square: whether the module is dark; None elsewhere."""
    for top, left in _FINDERS:
        r, c = row - top, col - left
        if 0 <= r < 7 and 0 <= c < 7:
            ring = min(r, c, 6 - r, 6 - c)
            return ring != 1
    return None


def _modules(seed: bytes) -> list[list[bool]]:
    bits = hashlib.shake_256(seed).digest(MODULES * MODULES // 8 + 1)
    grid = []
    for row in range(MODULES):
        line = []
        for col in range(MODULES):
            finder = _in_finder(row, col)
            index = row * MODULES + col
            line.append(finder if finder is not None else bool(bits[index // 8] >> (index % 8) & 1))
        grid.append(line)
    return grid


def _rows(grid: list[list[bool]], width: int, dark: bytes, light: bytes) -> Iterator[bytes]:
    size = width // (MODULES + 2)
    margin = (width - size * MODULES) // 2
    blank = light * width
    for _ in range(margin):
        yield blank
    for line in grid:
        pixels = b"".join((dark if on else light) * size for on in line)
        row = light * margin + pixels + light * (width - margin - size * MODULES)
        for _ in range(size):
            yield row
    for _ in range(width - margin - size * MODULES):
        yield blank


def draw_code(
    appid: str,
    scene: str,
    page: str,
    width: int,
    colour: tuple[int, int, int],
    *,
    hyaline: bool,
    text: Mapping[str, str],
) -> bytes:
    seed = "\x00".join((appid, scene, page)).encode()
    if hyaline:
        dark, light, kind = bytes((*colour, 255)), bytes((255, 255, 255, 0)), RGBA
    else:
        dark, light, kind = bytes(colour), bytes((255, 255, 255)), RGB
    rows = _rows(_modules(seed), width, dark, light)
    return encode_png(width, width, rows, color_type=kind, text=text)
