"""Thumbnails: the sizes a field lists, cover and contain, upright photos, and what is no image
or too big refused."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from minibase.errors import ApiError
from minibase.files.thumbnails import MAX_PIXELS, make_thumbnail, parse_thumb

ALLOWED = ["200x200", "300x100"]


def _image(size: tuple[int, int], mode: str = "RGB", fmt: str = "JPEG", **save: object) -> bytes:
    out = io.BytesIO()
    colour = (200, 30, 30, 128) if mode == "RGBA" else (200, 30, 30)
    Image.new(mode, size, colour).save(out, fmt, **save)
    return out.getvalue()


def _opened(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def test_cover_fills_the_box_exactly() -> None:
    data, mime = make_thumbnail(_image((1200, 800)), parse_thumb("200x200", None, ALLOWED))
    assert mime == "image/jpeg"
    assert _opened(data).size == (200, 200)


def test_contain_keeps_the_proportions_inside_the_box() -> None:
    data, _ = make_thumbnail(_image((1200, 800)), parse_thumb("300x100", "contain", ALLOWED))
    assert _opened(data).size == (150, 100)


def test_a_transparent_png_stays_a_png_with_its_alpha() -> None:
    data, mime = make_thumbnail(
        _image((400, 400), "RGBA", "PNG"), parse_thumb("200x200", "cover", ALLOWED)
    )
    assert mime == "image/png"
    assert _opened(data).mode == "RGBA"


def test_a_phones_portrait_photo_stays_upright_and_loses_its_exif() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees to show it
    exif[0x8825] = {2: (30.0, 15.0, 0.0)}  # a GPS position
    photo = _image((400, 200), exif=exif.tobytes())
    data, _ = make_thumbnail(photo, parse_thumb("300x100", "contain", ALLOWED))
    thumb = _opened(data)
    assert thumb.size == (50, 100)  # 200 wide, 400 high once upright, fitted into 300x100
    assert not thumb.getexif()


@pytest.mark.parametrize(
    ("size", "fit"),
    [("100x100", None), ("200x200x2", None), ("0x10", None), ("200x200", "stretch")],
)
def test_only_the_fields_sizes_and_fits_are_made(size: str, fit: str | None) -> None:
    with pytest.raises(ApiError) as refused:
        parse_thumb(size, fit, ALLOWED)
    assert (refused.value.code, refused.value.status) == ("files.invalid_thumb", 400)


def test_bytes_that_are_no_image_are_refused() -> None:
    with pytest.raises(ApiError) as refused:
        make_thumbnail(b"%PDF-1.7 not an image", parse_thumb("200x200", None, ALLOWED))
    assert (refused.value.code, refused.value.status) == ("files.invalid_image", 422)


def _png_header(width: int, height: int) -> bytes:
    """A PNG that says it is width x height (what a bomb says), with no pixels to read."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def test_a_decompression_bomb_is_refused_before_it_is_decoded() -> None:
    side = int(MAX_PIXELS**0.5) + 10
    bomb = _png_header(side, side)
    with pytest.raises(ApiError) as refused:
        make_thumbnail(bomb, parse_thumb("200x200", None, ALLOWED))
    assert refused.value.code == "files.invalid_image"
    assert "pixels" in refused.value.message
