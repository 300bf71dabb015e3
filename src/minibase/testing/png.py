"""Read a PNG back in tests: size, tEXt chunks and the colours its pixels use (zlib and struct;
8-bit RGB or RGBA, every filter type), so a test can check the image it was given."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {2: 3, 6: 4}


class NotPng(ValueError):
    pass


@dataclass(frozen=True)
class DecodedPng:
    width: int
    height: int
    color_type: int  # 2 RGB, 6 RGBA
    text: dict[str, str]
    colours: frozenset[tuple[int, ...]]  # every distinct pixel value

    @property
    def has_alpha(self) -> bool:
        return self.color_type == 6


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def _unfilter(raw: bytes, width: int, height: int, bpp: int) -> list[bytes]:
    stride = width * bpp
    rows: list[bytes] = []
    previous = bytearray(stride)
    offset = 0
    for _ in range(height):
        kind, line = raw[offset], bytearray(raw[offset + 1 : offset + 1 + stride])
        offset += 1 + stride
        if kind == 0:  # no filter: the bytes are the pixels (and the loop below is slow)
            rows.append(bytes(line))
            previous = line
            continue
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up, corner = previous[i], previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                line[i] = (line[i] + _paeth(left, up, corner)) & 0xFF
            else:
                raise NotPng(f"unknown filter type {kind}")
        rows.append(bytes(line))
        previous = line
    return rows


def decode_png(data: bytes) -> DecodedPng:
    if not data.startswith(SIGNATURE):
        raise NotPng("no PNG signature")
    offset, header, text, idat = len(SIGNATURE), b"", {}, b""
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind, body = data[offset + 4 : offset + 8], data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])
        if zlib.crc32(kind + body) & 0xFFFFFFFF != crc:
            raise NotPng(f"bad CRC in {kind!r}")
        offset += 12 + length
        if kind == b"IHDR":
            header = body
        elif kind == b"tEXt":
            key, _, value = body.partition(b"\x00")
            text[key.decode("latin-1")] = value.decode("latin-1")
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    width, height, depth, color_type = struct.unpack(">IIBB", header[:10])
    if depth != 8 or color_type not in _CHANNELS:
        raise NotPng(f"only 8-bit RGB or RGBA is read here, not {depth}/{color_type}")
    bpp = _CHANNELS[color_type]
    rows = _unfilter(zlib.decompress(idat), width, height, bpp)
    colours = {tuple(row[i : i + bpp]) for row in set(rows) for i in range(0, width * bpp, bpp)}
    return DecodedPng(width, height, color_type, text, frozenset(colours))
