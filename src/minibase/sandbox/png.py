"""A small PNG writer (zlib and struct, no imaging library): the sandbox draws its mini program
codes with it."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Mapping

SIGNATURE = b"\x89PNG\r\n\x1a\n"
RGB, RGBA = 2, 6  # colour types, 8 bits a channel


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def encode_png(
    width: int,
    height: int,
    rows: Iterable[bytes],
    *,
    color_type: int = RGB,
    text: Mapping[str, str] | None = None,
) -> bytes:
    """A PNG of `height` rows, each `width` pixels of 3 (RGB) or 4 (RGBA) bytes; `text`
    becomes tEXt chunks (Latin-1; anything else is replaced)."""
    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    raw = b"".join(b"\x00" + row for row in rows)  # filter type 0 (None) on every row
    chunks = [_chunk(b"IHDR", header)]
    for key, value in (text or {}).items():
        data = key.encode("latin-1") + b"\x00" + value.encode("latin-1", errors="replace")
        chunks.append(_chunk(b"tEXt", data))
    chunks.append(_chunk(b"IDAT", zlib.compress(raw, 6)))
    chunks.append(_chunk(b"IEND", b""))
    return SIGNATURE + b"".join(chunks)
