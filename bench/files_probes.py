"""Probes of the costs `bench/files.py` points at, to see them again (and a fix work):

    .venv/bin/python bench/files_probes.py [--only s3-requests|thumb-cpu|thumb-memory|thumb-stall]

- s3-requests: minibase on moto (its request log): the S3 requests behind one plain download,
  one thumbnail served again and one made first; then wrk on a thumbnail served again against
  a plain file of the same size, on local disk and on moto.
- thumb-cpu: `make_thumbnail` in process on the 1600x1200 JPEGs of files.py, as shipped and
  with the JPEG drafted to the thumbnail's own box instead.
- thumb-memory: the server's RSS while four first-time thumbnails of 7000x7000 images (about
  1 MB files, under MAX_PIXELS) are made at once, as JPEG and as PNG.
- thumb-stall: a 7 KB download again and again while eight of those PNG thumbnails are made:
  how long the downloads wait.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from file_servers import MinibaseFiles, MotoS3
from files_memory import Sampler
from loadgen import Load, run_wrk
from PIL import Image, ImageOps

from files import photo
from minibase.files import thumbnails

MB = 1 << 20
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_REQUEST = re.compile(r'"([A-Z]+) (\S+) HTTP/1\.1"')


@contextmanager
def minibase(s3: bool = False) -> Iterator[tuple[MinibaseFiles, MotoS3 | None]]:
    with tempfile.TemporaryDirectory(prefix="minibase-files-probe-") as tmp:
        moto = MotoS3(Path(tmp) / "moto") if s3 else None
        try:
            server = MinibaseFiles(Path(tmp) / "minibase", moto)
            try:
                yield server, moto
            finally:
                server.stop()
        finally:
            if moto is not None:
                moto.stop()


def _s3_log(moto: MotoS3) -> list[str]:
    """moto's requests so far, as `METHOD what` (the bucket, the file, its thumbnail)."""
    requests = []
    for line in moto.server.log_path.read_text(errors="replace").splitlines():
        found = _REQUEST.search(_ANSI.sub("", line))
        if found:
            method, path = found[1], found[2].split("?")[0]
            what = "bucket" if path.count("/") == 1 else "file"
            what = "thumbnail" if ".thumb-" in path else what
            requests.append(f"{method} {what}")
    return requests


def s3_requests() -> None:
    with minibase(s3=True) as (server, moto):
        assert moto is not None
        url = server.store(photo(1), "photo.jpg")
        thumb = server.thumb_url(url) or ""
        for label, target in (
            ("thumbnail, first request", thumb),
            ("thumbnail, served again", thumb),
            ("plain download", url),
        ):
            before = len(_s3_log(moto))
            httpx.get(target).raise_for_status()
            sent = _s3_log(moto)[before:]
            print(f"S3 requests for one {label}: {len(sent)}: {', '.join(sent)}")
    for s3 in (False, True):
        with minibase(s3) as (server, _):
            url = server.store(photo(1), "photo.jpg")
            thumb = server.thumb_url(url) or ""
            same = server.store(httpx.get(thumb).content, "same-size.jpg")
            pairs = (("thumbnail served again", thumb), ("plain file, same size", same))
            for label, target in pairs:
                load = Load(url=target, script="list.lua")
                run_wrk(load, duration=1, connections=4)
                m = run_wrk(load, duration=5, connections=4)
                where = "S3 (moto)" if s3 else "local disk"
                print(f"{where}: {label}: {m.rps:,.0f}/s, p50 {m.p50:.1f} ms")


def _drafted(data: bytes, spec: thumbnails.ThumbSpec) -> bytes:
    image: Image.Image = Image.open(io.BytesIO(data))
    image.draft("RGB", (spec.width, spec.height))
    image = ImageOps.exif_transpose(image)
    image = ImageOps.fit(image, (spec.width, spec.height), method=Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=85, optimize=True)
    return out.getvalue()


def thumb_cpu() -> None:
    images = [photo(i) for i in range(20)]
    spec = thumbnails.ThumbSpec(200, 200)
    for label, make in (
        ("as shipped (JPEG drafted to 2048x2048)", lambda d: thumbnails.make_thumbnail(d, spec)),
        ("drafted to the 200x200 box", lambda d: _drafted(d, spec)),
    ):
        make(images[0])
        started = time.perf_counter()
        for data in images:
            make(data)
        each = (time.perf_counter() - started) / len(images) * 1000
        print(f"make_thumbnail of a 1600x1200 JPEG, {label}: {each:.1f} ms")


def big_image(kind: str, seed: int) -> bytes:
    size = (7000, 7000)
    bands = (
        Image.linear_gradient("L").resize(size).rotate(seed),
        Image.radial_gradient("L").resize(size),
        Image.new("L", size, seed),
    )
    out = io.BytesIO()
    options = {"quality": 85} if kind == "JPEG" else {"compress_level": 1}
    Image.merge("RGB", bands).save(out, kind, **options)
    return out.getvalue()


async def _get_all(urls: list[str]) -> list[int]:
    async with httpx.AsyncClient(timeout=300) as client:
        return [r.status_code for r in await asyncio.gather(*(client.get(u) for u in urls))]


def thumb_memory() -> None:
    for kind in ("JPEG", "PNG"):
        with minibase() as (server, _):
            assert server.server is not None
            images = [big_image(kind, i) for i in range(4)]
            stored = [server.store(data, f"big{i}") for i, data in enumerate(images)]
            urls = [server.thumb_url(url) or "" for url in stored]
            sampler = Sampler(server.server.pid)
            before = sum(sampler.snapshot().values())
            sampler.start()
            started = time.monotonic()
            codes = asyncio.run(_get_all(urls))
            ended = time.monotonic()
            time.sleep(0.3)
            sampler.stop()
            peak, _ = sampler.peak(started, ended + 0.3)
            print(
                f"4 first-time thumbnails of 7000x7000 {kind}s ({len(images[0]) / MB:.1f} MB"
                f" each) at once: {codes}, {ended - started:.1f} s, server RSS"
                f" {before / MB:.0f} MB, peak {(peak - before) / MB:+.0f} MB"
            )


async def _stall(small: str, thumbs: list[str]) -> None:
    async with httpx.AsyncClient(timeout=300) as client:

        async def probe() -> float:
            started = time.perf_counter()
            (await client.get(small)).raise_for_status()
            await asyncio.sleep(0.02)
            return (time.perf_counter() - started - 0.02) * 1000

        alone = [await probe() for _ in range(50)]
        making = asyncio.gather(*(client.get(u) for u in thumbs))
        await asyncio.sleep(0.1)
        during = []
        while not making.done():
            during.append(await probe())
        await making
    for label, lat in (("alone", alone), (f"while {len(thumbs)} thumbnails are made", during)):
        print(
            f"7 KB download {label}: median {statistics.median(lat):.1f} ms,"
            f" worst {max(lat):.1f} ms ({len(lat)} requests)"
        )


def thumb_stall() -> None:
    with minibase() as (server, _):
        small = server.store(b"\xff\xd8\xff" + bytes(7000), "small.jpg")
        urls = [server.thumb_url(server.store(big_image("PNG", i), f"b{i}")) for i in range(8)]
        asyncio.run(_stall(small, [u for u in urls if u]))


PROBES = {
    "s3-requests": s3_requests,
    "thumb-cpu": thumb_cpu,
    "thumb-memory": thumb_memory,
    "thumb-stall": thumb_stall,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(PROBES), action="append")
    args = parser.parse_args()
    for name in args.only or PROBES:
        print(f"{name}:", file=sys.stderr)
        PROBES[name]()
    return 0


if __name__ == "__main__":
    sys.exit(main())
