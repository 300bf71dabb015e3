"""Image thumbnails of file fields: `?thumb=200x200` (and `&fit=contain`), from the sizes the
field lists, made with Pillow. Making one is CPU work on the whole image: the caller runs
`make_thumbnail` in a thread (`await asyncio.to_thread(make_thumbnail, data, spec)`), once per
object and size, and keeps the result beside the original.

    spec = parse_thumb("200x200", "cover", allowed=["200x200", "64x64"])
    data, mime = make_thumbnail(original_bytes, spec)

- `cover` (the default) fills the box exactly, cropping the overflow around the centre;
  `contain` fits the whole image inside the box, keeping its proportions.
- The photo's EXIF orientation is applied, so a phone's portrait photo stays upright; the
  thumbnail carries no EXIF (no location) of its own.
- JPEG stays JPEG, PNG/GIF/WebP with transparency become PNG, others JPEG. Images over
  MAX_PIXELS (decompression bombs) and bytes that are no image are refused.
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from PIL import Image, ImageOps, UnidentifiedImageError

from minibase.errors import ApiError

MAX_PIXELS = 50_000_000  # about 8,000 x 6,000: every phone camera, no bomb
MAX_SIDE = 2048
_SIZE = re.compile(r"([1-9][0-9]{0,3})x([1-9][0-9]{0,3})")

Fit = Literal["cover", "contain"]


@dataclass(frozen=True)
class ThumbSpec:
    width: int
    height: int
    fit: Fit = "cover"

    @property
    def suffix(self) -> str:
        """What tells this thumbnail apart from the original and other sizes in storage."""
        return f"thumb-{self.width}x{self.height}-{self.fit}"


def parse_thumb(size: str, fit: str | None, allowed: Sequence[str]) -> ThumbSpec:
    """The thumbnail a request asks for, if the field lists that size."""
    match = _SIZE.fullmatch(size)
    if match is None or size not in allowed:
        listed = ", ".join(allowed) or "none"
        raise ApiError("files.invalid_thumb", 400, f"thumb {size!r}: this field makes {listed}")
    if fit not in (None, "cover", "contain"):
        raise ApiError("files.invalid_thumb", 400, f"fit {fit!r}: use cover or contain")
    width, height = int(match[1]), int(match[2])
    if width > MAX_SIDE or height > MAX_SIDE:
        raise ApiError("files.invalid_thumb", 400, f"a thumbnail side is at most {MAX_SIDE}")
    return ThumbSpec(width, height, "contain" if fit == "contain" else "cover")


def make_thumbnail(data: bytes, spec: ThumbSpec) -> tuple[bytes, str]:
    """The thumbnail's bytes and MIME type. Blocking: run it in a thread."""
    image = _open(data, max(spec.width, spec.height))
    source_format = image.format
    image = ImageOps.exif_transpose(image)
    box = (spec.width, spec.height)
    if spec.fit == "cover":
        image = ImageOps.fit(image, box, method=Image.Resampling.LANCZOS)
    else:
        image = ImageOps.contain(image, box, method=Image.Resampling.LANCZOS)
    out = io.BytesIO()
    if source_format != "JPEG" and _has_alpha(image):
        image.save(out, "PNG", optimize=True)
        return out.getvalue(), "image/png"
    image.convert("RGB").save(out, "JPEG", quality=85, optimize=True)
    return out.getvalue(), "image/jpeg"


def _open(data: bytes, box: int = MAX_SIDE) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.width * image.height > MAX_PIXELS:
                raise Image.DecompressionBombError("too many pixels")
            # JPEG: decode at the smallest scale still covering the box (either way round,
            # before EXIF turns it): a 4000 px photo for a 200 px thumbnail decodes 8x smaller
            image.draft("RGB", (box, box))
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ApiError(
            "files.invalid_image", 422, f"the image has more than {MAX_PIXELS:,} pixels"
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise ApiError(
            "files.invalid_image", 422, "the file is not an image Pillow can read"
        ) from None
    return image


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )
