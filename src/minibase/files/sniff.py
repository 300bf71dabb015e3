"""A file's type from its first bytes (magic numbers), never from its name or the client's claim.

    head, chunks = await peek(upload.file)          # the first SNIFF_BYTES; chunks still has all
    mime = sniff(head)                              # "image/jpeg", ... or None (unknown binary)
    check_allowed(mime, ["image/*"], claimed=upload.content_type)  # or files.type_not_allowed
    async for chunk in chunks: ...

Known: JPEG, PNG, GIF, WebP, BMP, HEIC/HEIF/AVIF and MP4/MOV/M4A/3GP (ISO BMFF `ftyp` brands),
MP3, AAC (ADTS), WAV, AMR, SILK (WeChat and QQ voice), PDF, ZIP with Office's docx/xlsx/pptx
told apart when their first entries are in the head, and text: JSON, HTML, SVG, XML or plain
UTF-8. A client's content type that disagrees is ignored: the content wins.
"""

from __future__ import annotations

import codecs
import json
import struct
from collections.abc import AsyncIterator, Sequence

from minibase.errors import ApiError

SNIFF_BYTES = 8192  # enough for a ZIP's first entries, an ID3 tag's header, an ftyp box
UNKNOWN = "application/octet-stream"

_STARTS = (  # (prefix, type), first match wins
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"#!AMR-WB\n", "audio/amr-wb"),
    (b"#!AMR", "audio/amr"),  # "#!AMR\n", and "#!AMR_MC1.0\n" multichannel
    (b"\x02#!SILK_V3", "audio/silk"),  # WeChat and QQ voice put 0x02 first
    (b"#!SILK_V3", "audio/silk"),
)
_RIFF = {b"WEBP": "image/webp", b"WAVE": "audio/wav", b"AVI ": "video/x-msvideo"}
_HEIC = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"}
_BRANDS = {  # ISO BMFF major brands that are not plain MP4 video
    b"qt  ": "video/quicktime",
    b"M4A ": "audio/mp4",
    b"M4B ": "audio/mp4",
    b"M4P ": "audio/mp4",
    b"avif": "image/avif",
    b"avis": "image/avif",
    b"3g2a": "video/3gpp2",
}
_MP4_FAMILY = (b"iso", b"mp4", b"mp7", b"avc", b"dash", b"MSNV", b"mmp4", b"M4V", b"NDS", b"f4v")
_QUICKTIME_ATOMS = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}  # MOV without ftyp
_BMP_HEADERS = {12, 40, 52, 56, 64, 108, 124}  # the DIB header sizes BMP writers use
_OFFICE = (
    ("word/", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ("xl/", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("ppt/", "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
)
_TEXT_CONTROLS = frozenset("\t\n\r\f\v\x1b")


def sniff(head: bytes) -> str | None:
    """The MIME type the bytes show, or None. `head` is the file's start (SNIFF_BYTES of it,
    or all of a shorter file: a head shorter than that is taken to be the whole file)."""
    for prefix, mime in _STARTS:
        if head.startswith(prefix):
            return mime
    return (
        _riff(head)
        or _iso_media(head)
        or _bmp(head)
        or _zip(head)
        or _mpeg_audio(head)
        or _text(head, complete=len(head) < SNIFF_BYTES)
    )


def check_allowed(mime: str | None, allowed: Sequence[str], *, claimed: str | None = None) -> str:
    """The type, if one of `allowed` ("image/*", "application/pdf", "*/*") takes it; else
    files.type_not_allowed naming what the content is (and what the client said it was)."""
    if not allowed:
        raise ValueError("allowed needs at least one pattern; '*/*' takes anything")
    found = mime or UNKNOWN
    kind = found.split("/", 1)[0]
    for pattern in allowed:
        pattern = pattern.strip().lower()
        if pattern in ("*", "*/*", found) or pattern == f"{kind}/*":
            return found
    said = f" (it was sent as {claimed})" if claimed and claimed.lower() != found else ""
    raise ApiError(
        "files.type_not_allowed",
        415,
        f"the file's content is {found}{said}; this field takes {', '.join(allowed)}",
        {"found": found, "allowed": list(allowed), **({"claimed": claimed} if claimed else {})},
    )


async def peek(
    chunks: AsyncIterator[bytes], size: int = SNIFF_BYTES
) -> tuple[bytes, AsyncIterator[bytes]]:
    """The first `size` bytes of a chunk stream (fewer if it is shorter), and a stream that
    still yields every byte, the peeked ones first, in the chunks they came in."""
    taken: list[bytes] = []
    held = 0
    while held < size:
        try:
            chunk = await anext(chunks)
        except StopAsyncIteration:
            break
        taken.append(chunk)
        held += len(chunk)
    return b"".join(taken)[:size], _replay(taken, chunks)


async def _replay(taken: list[bytes], rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    while taken:
        yield taken.pop(0)
    async for chunk in rest:
        yield chunk


def _riff(head: bytes) -> str | None:
    if head[:4] == b"RIFF" and len(head) >= 12:
        return _RIFF.get(head[8:12])
    return None


def _iso_media(head: bytes) -> str | None:
    """MP4, MOV, M4A, 3GP, HEIC, HEIF, AVIF: the brands of the leading `ftyp` box."""
    if len(head) < 12:
        return None
    kind = head[4:8]
    size = struct.unpack(">I", head[:4])[0]
    if kind != b"ftyp":
        plausible = size == 1 or size >= 8  # 1: a 64-bit size follows
        return "video/quicktime" if kind in _QUICKTIME_ATOMS and plausible else None
    box = min(max(size, 16), len(head))
    major = head[8:12]
    brands = {major} | {head[i : i + 4] for i in range(16, box - 3, 4)}
    if major in _HEIC or (major in (b"mif1", b"msf1") and brands & _HEIC):
        return "image/heic"
    if major in (b"mif1", b"msf1"):
        return "image/avif" if b"avif" in brands else "image/heif"
    if major in _BRANDS:
        return _BRANDS[major]
    if major.startswith(b"3gp") or major.startswith(b"3ge") or major.startswith(b"3gg"):
        return "video/3gpp"
    if major.startswith(_MP4_FAMILY) or any(b.startswith(_MP4_FAMILY) for b in brands):
        return "video/mp4"
    return None


def _bmp(head: bytes) -> str | None:
    if head[:2] == b"BM" and len(head) >= 18:
        return "image/bmp" if struct.unpack("<I", head[14:18])[0] in _BMP_HEADERS else None
    return None


def _zip(head: bytes) -> str | None:
    """A ZIP; docx, xlsx or pptx when a local entry in the head is under word/, xl/ or ppt/."""
    if not head.startswith(b"PK\x03\x04"):
        return None
    at = 0
    while head[at : at + 4] == b"PK\x03\x04" and at + 30 <= len(head):
        flags, size, name_length, extra_length = struct.unpack("<H10xI4xHH", head[at + 6 : at + 30])
        name = head[at + 30 : at + 30 + name_length].decode("utf-8", "replace")
        for folder, mime in _OFFICE:
            if name.startswith(folder):
                return mime
        if flags & 0x08:  # sizes come after the data: the next entry cannot be found cheaply
            break
        at += 30 + name_length + extra_length + size
    return "application/zip"


_MPEG_BITRATE_BAD = (0x0, 0xF)  # free-format and the forbidden index


def _mpeg_audio(head: bytes) -> str | None:
    """MP3 (ID3 tag or an MPEG audio frame) or AAC (an ADTS frame)."""
    at = 0
    if head.startswith(b"ID3") and len(head) >= 10:
        size = (head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9]  # syncsafe
        at = 10 + size + (10 if head[5] & 0x10 else 0)  # the tag, and its footer if flagged
        if at + 4 > len(head):
            return "audio/mpeg"  # the frame after the tag is past the head; ID3 is MP3's
    frame = head[at : at + 4]
    if len(frame) < 4 or frame[0] != 0xFF or (frame[1] & 0xE0) != 0xE0:
        return None
    layer = (frame[1] >> 1) & 0x3
    if layer == 0:  # layer bits 00: ADTS, if the rest of the header holds
        if (frame[1] & 0xF0) == 0xF0 and ((frame[2] >> 2) & 0xF) < 13:
            return "audio/aac"
        return None
    bitrate, rate = frame[2] >> 4, (frame[2] >> 2) & 0x3
    version = (frame[1] >> 3) & 0x3
    if version == 1 or bitrate in _MPEG_BITRATE_BAD or rate == 3:
        return None  # reserved values: not an MPEG audio frame
    return "audio/mpeg"


def _text(head: bytes, *, complete: bool) -> str | None:
    """UTF-8 text without NUL or stray control characters: JSON, HTML, SVG, XML or plain."""
    if not head:
        return None
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:  # a cut-off head may end inside a character: leave that character out
        text = decoder.decode(head, final=complete)
    except UnicodeDecodeError:
        return None
    text = text.removeprefix("\ufeff")
    if any(c < " " and c not in _TEXT_CONTROLS for c in text) or "\x7f" in text:
        return None
    start = text.lstrip()
    lower = start[:512].lower()
    if start[:1] in ("{", "[") and _json_prefix(start, complete=complete):
        return "application/json"
    if lower.startswith(("<!doctype html", "<html", "<head", "<body", "<script")):
        return "text/html"
    if lower.startswith("<svg") or (lower.startswith("<?xml") and "<svg" in lower):
        return "image/svg+xml"
    if lower.startswith("<?xml"):
        return "application/xml"
    return "text/plain"


def _json_prefix(text: str, *, complete: bool) -> bool:
    """Whether text is JSON (complete) or the start of a JSON document (cut off at its end)."""
    try:
        json.loads(text)
        return True
    except json.JSONDecodeError as error:
        if complete:
            return False
        if error.pos >= len(text.rstrip()) or error.msg.startswith("Unterminated string"):
            return True  # the document only ran out
        rest = text[error.pos :]
        return any(word.startswith(rest) for word in ("true", "false", "null"))
