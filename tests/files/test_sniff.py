"""A file's type is read from its first bytes: small real files of each kind (made here with
the standard library or by their published layouts) are told apart, and a client's claim that
disagrees with the content changes nothing."""

from __future__ import annotations

import io
import json
import struct
import wave
import zipfile
from collections.abc import AsyncIterator

import pytest

from minibase.errors import ApiError
from minibase.files.multipart import read_upload
from minibase.files.sniff import SNIFF_BYTES, check_allowed, peek, sniff
from minibase.sandbox.png import encode_png
from minibase.testing.png import decode_png

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"


def png() -> bytes:
    data = encode_png(3, 2, [b"\x10\x20\x30" * 3, b"\xff\xff\xff" * 3])
    assert decode_png(data).width == 3  # a real PNG, as a reader takes it
    return data


def jpeg() -> bytes:  # SOI, a JFIF APP0 segment, a comment, EOI
    app0 = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    comment = b"minibase"
    return (
        b"\xff\xd8"
        + b"\xff\xe0"
        + struct.pack(">H", len(app0) + 2)
        + app0
        + b"\xff\xfe"
        + struct.pack(">H", len(comment) + 2)
        + comment
        + b"\xff\xd9"
    )


def exif_jpeg() -> bytes:  # what phone cameras write: APP1 Exif first
    return b"\xff\xd8\xff\xe1\x00\x0eExif\x00\x00MM\x00\x2a\x00\x00\x00\x08\xff\xd9"


def gif() -> bytes:  # the classic 1x1 transparent GIF
    return (
        b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
        b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
    )


def webp() -> bytes:
    vp8l = b"\x2f\x00\x00\x00\x00\x88\x88\x08"  # a 1x1 lossless bitstream
    chunk = b"VP8L" + struct.pack("<I", len(vp8l)) + vp8l
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


def bmp() -> bytes:  # 1x1, 24 bits, BITMAPINFOHEADER
    pixels = b"\x00\x00\xff\x00"  # one red pixel and row padding
    info = struct.pack("<IiiHHIIiiII", 40, 1, 1, 1, 24, 0, len(pixels), 2835, 2835, 0, 0)
    header = struct.pack("<2sIHHI", b"BM", 14 + len(info) + len(pixels), 0, 0, 14 + len(info))
    return header + info + pixels


def iso_media(major: bytes, *compatible: bytes) -> bytes:
    """An ISO BMFF file's start: the ftyp box, then an empty mdat."""
    body = major + b"\x00\x00\x02\x00" + b"".join(compatible)
    return struct.pack(">I", 8 + len(body)) + b"ftyp" + body + b"\x00\x00\x00\x08mdat"


def wav() -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(16000)
        writer.writeframes(b"\x00\x00" * 160)
    return out.getvalue()


MP3_FRAME = b"\xff\xfb\x90\x64" + b"\x00" * 413  # MPEG-1 layer III, 128 kbit/s, 44.1 kHz
ADTS_FRAME = b"\xff\xf1\x50\x80\x02\x1f\xfc" + b"\x00" * 9  # AAC LC, 44.1 kHz, stereo


def id3(size: int = 20, *, then: bytes = MP3_FRAME) -> bytes:
    syncsafe = bytes([(size >> 21) & 0x7F, (size >> 14) & 0x7F, (size >> 7) & 0x7F, size & 0x7F])
    return b"ID3\x04\x00\x00" + syncsafe + b"\x00" * size + then


def office(folder: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>' * 20)
        archive.writestr("_rels/.rels", "<Relationships/>")
        archive.writestr(f"{folder}document.xml", "<document/>")
    return out.getvalue()


def plain_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("notes.txt", "hello")
    return out.getvalue()


FILES = {
    "png": (png(), "image/png"),
    "jpeg": (jpeg(), "image/jpeg"),
    "jpeg with exif": (exif_jpeg(), "image/jpeg"),
    "gif": (gif(), "image/gif"),
    "webp": (webp(), "image/webp"),
    "bmp": (bmp(), "image/bmp"),
    "heic (iPhone photo)": (iso_media(b"heic", b"mif1", b"heic"), "image/heic"),
    "heif sequence of hevc": (iso_media(b"msf1", b"msf1", b"hevc"), "image/heic"),
    "heif": (iso_media(b"mif1", b"mif1"), "image/heif"),
    "avif": (iso_media(b"avif", b"mif1", b"avif"), "image/avif"),
    "mp4": (iso_media(b"isom", b"isom", b"iso2", b"avc1", b"mp41"), "video/mp4"),
    "mp4 (mp42)": (iso_media(b"mp42", b"mp42", b"isom"), "video/mp4"),
    "mov": (iso_media(b"qt  ", b"qt  "), "video/quicktime"),
    "mov without ftyp": (b"\x00\x00\x00\x08wide\x00\x00\x00\x08mdat", "video/quicktime"),
    "m4a (iOS recording)": (iso_media(b"M4A ", b"M4A ", b"mp42", b"isom"), "audio/mp4"),
    "3gp": (iso_media(b"3gp4", b"3gp4", b"isom"), "video/3gpp"),
    "mp3 with id3": (id3(), "audio/mpeg"),
    "mp3 frame": (MP3_FRAME * 2, "audio/mpeg"),
    "aac (adts)": (ADTS_FRAME * 2, "audio/aac"),
    "aac after an id3 tag": (id3(then=ADTS_FRAME), "audio/aac"),
    "wav": (wav(), "audio/wav"),
    "amr": (b"#!AMR\n" + b"\x3c" + b"\x00" * 31, "audio/amr"),
    "amr-wb": (b"#!AMR-WB\n" + b"\x24" + b"\x00" * 32, "audio/amr-wb"),
    "silk (WeChat voice)": (b"\x02#!SILK_V3\x0c\x00" + b"\x00" * 12, "audio/silk"),
    "silk": (b"#!SILK_V3\x0c\x00" + b"\x00" * 12, "audio/silk"),
    "pdf": (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n%%EOF\n", "application/pdf"),
    "docx": (office("word/"), DOCX),
    "xlsx": (office("xl/"), XLSX),
    "pptx": (office("ppt/"), PPTX),
    "zip": (plain_zip(), "application/zip"),
    "json": (b'{"title": "\xe7\xac\x94\xe8\xae\xb0", "n": 1}', "application/json"),
    "json array": (b"[1, 2, 3]\n", "application/json"),
    "text": ("一段笔记\nline two\ttabbed\r\n".encode(), "text/plain"),
    "text with a bom": (b"\xef\xbb\xbfhello", "text/plain"),
    "a log line that starts like json": (b"[2024-01-01] started\n", "text/plain"),
    "html": (b"<!DOCTYPE html><html><body>hi</body></html>", "text/html"),
    "svg": (b'<svg xmlns="http://www.w3.org/2000/svg"/>', "image/svg+xml"),
    "svg with a prolog": (b'<?xml version="1.0"?>\n<svg/>', "image/svg+xml"),
    "xml": (b'<?xml version="1.0"?><note/>', "application/xml"),
}


@pytest.mark.parametrize("kind", FILES)
def test_each_kind_of_file_is_known_by_its_first_bytes(kind: str) -> None:
    data, mime = FILES[kind]
    assert sniff(data[:SNIFF_BYTES]) == mime


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00\x01\x02\x03\x04\x05binary",
        bytes(range(256)),
        b"RIFF\x10\x00\x00\x00XXXX",
        b"\xff\xfa\x0c\x00",  # an MPEG frame header with reserved bitrate and rate
        b"PK\x05\x06" + b"\x00" * 18,  # an empty ZIP has no entry to tell it by
        iso_media(b"crx ", b"crx "),  # a Canon raw: an ftyp box, but no media type we know
    ],
)
def test_bytes_of_no_known_kind_are_unknown(data: bytes) -> None:
    assert sniff(data) is None


def test_text_that_starts_like_a_magic_number_is_text() -> None:
    assert sniff(b"BM is not a bitmap") == "text/plain"
    assert sniff(b"PK and then words") == "text/plain"


def test_a_json_document_longer_than_the_head_is_still_json() -> None:
    document = json.dumps({"items": [{"n": i, "name": "名字"} for i in range(2000)]}).encode()
    assert len(document) > SNIFF_BYTES
    assert sniff(document[:SNIFF_BYTES]) == "application/json"


def test_text_cut_inside_a_character_is_still_text() -> None:
    text = ("汉字" * SNIFF_BYTES).encode()
    assert SNIFF_BYTES % 3  # the head ends inside a three-byte character
    assert sniff(text[:SNIFF_BYTES]) == "text/plain"


def test_a_whole_file_that_is_not_complete_json_is_plain_text() -> None:
    assert sniff(b'{"a": 1') == "text/plain"


def test_an_office_file_whose_folder_entry_is_past_the_head_is_a_zip() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("[Content_Types].xml", "x" * SNIFF_BYTES)
        archive.writestr("word/document.xml", "<document/>")
    assert sniff(out.getvalue()[:SNIFF_BYTES]) == "application/zip"


# -- allowed types --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mime", "allowed"),
    [
        ("image/png", ["image/*"]),
        ("image/png", ["application/pdf", "image/png"]),
        ("image/heic", ["IMAGE/*"]),
        ("audio/silk", ["audio/*", "video/*"]),
        ("application/pdf", ["*/*"]),
        (None, ["*"]),
        (None, ["application/octet-stream"]),
    ],
)
def test_an_allowed_type_passes_and_is_returned(mime: str | None, allowed: list[str]) -> None:
    assert check_allowed(mime, allowed) == (mime or "application/octet-stream")


def test_a_type_not_allowed_is_refused_naming_what_the_content_is() -> None:
    with pytest.raises(ApiError) as caught:
        check_allowed("application/pdf", ["image/*", "video/mp4"])
    error = caught.value
    assert (error.code, error.status) == ("files.type_not_allowed", 415)
    assert error.message == (
        "the file's content is application/pdf; this field takes image/*, video/mp4"
    )
    assert error.details == {"found": "application/pdf", "allowed": ["image/*", "video/mp4"]}


def test_unknown_bytes_are_octet_stream_and_refused_by_a_typed_field() -> None:
    with pytest.raises(ApiError) as caught:
        check_allowed(sniff(b"\x00\x01binary"), ["image/*"])
    assert caught.value.details["found"] == "application/octet-stream"


def test_the_client_claim_is_named_but_never_believed() -> None:
    pdf = FILES["pdf"][0]
    with pytest.raises(ApiError) as caught:
        check_allowed(sniff(pdf), ["image/*"], claimed="image/jpeg")
    assert "content is application/pdf (it was sent as image/jpeg)" in caught.value.message
    assert caught.value.details["claimed"] == "image/jpeg"
    # and the other way round: a real PNG sent as application/octet-stream is a PNG
    assert check_allowed(sniff(png()), ["image/png"], claimed="application/octet-stream") == (
        "image/png"
    )


def test_an_empty_allowed_list_is_a_mistake_not_a_policy() -> None:
    with pytest.raises(ValueError, match="at least one"):
        check_allowed("image/png", [])


# -- peeking at a stream --------------------------------------------------------------------------


class Chunks:
    """A chunk stream that counts how many chunks were taken from it."""

    def __init__(self, data: bytes, size: int) -> None:
        self.parts = [data[at : at + size] for at in range(0, len(data), size)]
        self.taken = 0

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        if self.taken == len(self.parts):
            raise StopAsyncIteration
        self.taken += 1
        return self.parts[self.taken - 1]


async def everything(chunks: AsyncIterator[bytes]) -> list[bytes]:
    return [chunk async for chunk in chunks]


@pytest.mark.parametrize("size", [1, 100, SNIFF_BYTES, 3 * SNIFF_BYTES])
async def test_peek_gives_the_head_and_a_stream_that_still_has_every_byte(size: int) -> None:
    data = bytes(range(256)) * 100  # 25,600 bytes
    source = Chunks(data, size)
    head, rest = await peek(source)
    assert head == data[:SNIFF_BYTES]
    assert source.taken == -(-SNIFF_BYTES // size)  # only the chunks the head needed
    replayed = await everything(rest)
    assert b"".join(replayed) == data
    assert replayed == source.parts  # in the chunks they came in


async def test_peek_at_a_stream_shorter_than_the_head() -> None:
    head, rest = await peek(Chunks(b"%PDF-1.4 tiny", 4))
    assert head == b"%PDF-1.4 tiny"
    assert b"".join(await everything(rest)) == b"%PDF-1.4 tiny"
    head, rest = await peek(Chunks(b"", 4))
    assert (head, await everything(rest)) == (b"", [])


async def test_an_upload_claiming_jpeg_that_holds_a_pdf_is_refused_by_its_content() -> None:
    pdf = FILES["pdf"][0]
    body = (
        b"--b\r\n"
        b'Content-Disposition: form-data; name="file"; filename="wxfile://tmp_photo.jpg"\r\n'
        b"Content-Type: image/jpeg\r\n\r\n" + pdf + b"\r\n--b--\r\n"
    )

    async def send() -> AsyncIterator[bytes]:
        yield body

    upload = await read_upload(send(), "multipart/form-data; boundary=b")
    head, chunks = await peek(upload.file)
    with pytest.raises(ApiError) as caught:
        check_allowed(sniff(head), ["image/*"], claimed=upload.content_type)
    assert caught.value.details == {
        "found": "application/pdf",
        "allowed": ["image/*"],
        "claimed": "image/jpeg",
    }
    assert b"".join(await everything(chunks)) == pdf  # nothing was lost to the peek
