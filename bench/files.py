"""Files: upload and download throughput (MB/s) and thumbnails per second, minibase beside nginx
(the machine's ceiling) and PocketBase, on local disk and on S3 (moto's server mode).

    .venv/bin/python bench/files.py [--duration 10] [--connections 4] [--images 100]
                                    [--only nginx|minibase|pocketbase|minibase-s3|pocketbase-s3]

One server at a time on loopback, each with a fresh temporary directory (and, for the S3 runs,
a fresh moto), measured the same way:

- upload: wrk sends the same file (10 MB, then 1 MB of random bytes) again and again over
  `--connections` connections for `--duration` seconds, after a `--warmup`: minibase
  `POST /api/collections/media/files/doc` (multipart, the user's token: a pending upload),
  PocketBase `POST /api/collections/media/records` (multipart, the user's token: a record with the
  file), nginx a WebDAV `PUT` of the raw bytes. MB/s = uploads answered 2xx x size / seconds.
- download: wrk GETs one stored file: minibase through a temporary URL, PocketBase at
  `/api/files/media/<record>/<name>`, nginx as a static file (sendfile).
- thumbnails, first time: `--images` distinct 1600x1200 JPEGs are uploaded (not timed), then
  their 200x200 thumbnails are asked for once each, `--connections` at a time (httpx), timed
  from the first request to the last answer: each is decoded, resized and stored then.
- thumbnails, served again: wrk GETs those thumbnails (a random one per request).

Each answer is checked before it is loaded (bytes back equal bytes sent; thumbnails are
200x200 JPEGs); a wrk run that saw errors is flagged. Server CPU is the share of one core the
server's process tree used during the measured run (moto's own beside it for S3). S3 figures
measure moto (a Python server on the same two cores), not AWS S3.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from file_servers import FileServer, MinibaseFiles, MotoS3, NginxFiles, PocketBaseFiles
from loadgen import Load, LoadError, Measurement, run_wrk
from PIL import Image, ImageDraw
from proc_stats import cpu_seconds, process_tree
from processes import ServerError
from sampling import format_summary, start_recording, summarize

RESULTS = Path(__file__).resolve().parent / "results"
MB = 1 << 20
SIZES = {"10 MB": 10 * MB, "1 MB": MB}
SEED = 20261206
TARGETS = ("nginx", "minibase", "pocketbase", "minibase-s3", "pocketbase-s3")


@dataclass
class Result:
    target: str
    measure: str  # "upload 10 MB", "download 1 MB", "thumbs first", "thumbs again"
    value: float  # MB/s, or thumbnails/s
    unit: str
    count: int  # requests answered
    seconds: float
    errors: int = 0
    cpu: dict[str, float] = field(default_factory=dict)  # share of one core, per process tree
    p50_ms: float | None = None
    p99_ms: float | None = None
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average before and after


def sample_bytes(size: int) -> bytes:
    return random.Random(SEED + size).randbytes(size)


def photo(index: int) -> bytes:
    """A distinct 1600x1200 JPEG (gradients, noise and shapes: ~120-200 KB at quality 85)."""
    rng = random.Random(SEED + index)
    size = (1600, 1200)
    angle = Image.linear_gradient("L").resize(size).rotate(rng.randint(0, 359))
    image = Image.merge(
        "RGB", (angle, Image.radial_gradient("L").resize(size), Image.effect_noise(size, 40))
    )
    draw = ImageDraw.Draw(image)
    for _ in range(30):
        x, y, r = rng.randrange(size[0]), rng.randrange(size[1]), rng.randint(20, 300)
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


class Run:
    """The measurements of one server, with the processes whose CPU is reported."""

    def __init__(self, args: argparse.Namespace, target: str, workdir: Path) -> None:
        self.args = args
        self.target = target
        self.workdir = workdir
        self.results: list[Result] = []
        self.watched: dict[str, int] = {}
        self.profiles: dict[str, Any] = {}

    def transfers(self, server: FileServer) -> None:
        for label, size in SIZES.items():
            data = sample_bytes(size)
            request = server.upload_request(data, f"bench-{size}.bin")
            body_file = self.workdir / f"upload-{size}.body"
            body_file.write_bytes(request.body)
            extra = {
                "BENCH_BODY_FILE": str(body_file),
                "BENCH_METHOD": request.method,
                "BENCH_CONTENT_TYPE": request.content_type,
            }
            sending = Load(url=request.url, script="upload.lua", auth=request.auth, extra=extra)
            self.loaded(f"upload {label}", "MB/s", size, sending)
            url = server.store(data, f"stored-{size}.bin")
            back = httpx.get(url, timeout=60)
            if back.status_code != 200 or back.content != data:
                raise ServerError(f"{server.label}: {url} gave {back.status_code}, other bytes")
            self.loaded(f"download {label}", "MB/s", size, Load(url=url, script="list.lua"))

    def thumbnails(self, server: FileServer, images: list[bytes]) -> None:
        stored = [server.store(data, f"photo-{i}.jpg") for i, data in enumerate(images)]
        thumbs = [url for url in map(server.thumb_url, stored) if url is not None]
        if not thumbs:
            return
        self._timed("thumbs first", "thumbs/s", 0, lambda: self._first_thumbs(thumbs))
        ids = self.workdir / "thumbs.txt"
        base = thumbs[0].split("/api/", 1)[0]
        ids.write_text("".join(url.removeprefix(base) + "\n" for url in thumbs))
        load = Load(url=base, script="get_by_id.lua", ids_file=ids, extra={"BENCH_PATH": ""})
        self.loaded("thumbs again", "thumbs/s", 0, load)

    def loaded(self, measure: str, unit: str, size: int, load: Load) -> None:
        """A wrk run (after a warm-up), then, with --profile, one more under py-spy."""
        self._timed(measure, unit, size, lambda: self._wrk(load))
        if self.args.profile and self.target.startswith("minibase"):
            self._profile(measure, load)

    def _wrk(self, load: Load) -> tuple[int, float, Measurement]:
        args = self.args
        if args.warmup:
            run_wrk(load, duration=args.warmup, connections=args.connections)
        measured = run_wrk(load, duration=args.duration, connections=args.connections)
        return measured.requests, measured.seconds, measured

    def _first_thumbs(self, urls: list[str]) -> tuple[int, float, None]:
        return len(urls), asyncio.run(fetch_all(urls, self.args.connections)), None

    def _timed(
        self,
        measure: str,
        unit: str,
        size: int,
        work: Callable[[], tuple[int, float, Measurement | None]],
    ) -> None:
        """Run the work (answers, seconds, wrk's measurement) and note the servers' CPU."""
        trees = {name: process_tree(pid) for name, pid in self.watched.items()}
        before = {name: cpu_seconds(pids) for name, pids in trees.items()}
        load_before = os.getloadavg()[0]
        count, seconds, measured = work()
        used = {name: cpu_seconds(pids) - before[name] for name, pids in trees.items()}
        result = Result(
            self.target,
            measure,
            count * (size / MB if size else 1) / seconds if seconds else 0.0,
            unit,
            count,
            seconds,
            cpu={name: round(value / seconds, 2) for name, value in used.items()},
            load=(load_before, os.getloadavg()[0]),
        )
        if measured is not None:
            result.errors = measured.error_count
            result.p50_ms, result.p99_ms = measured.p50, measured.p99
        self.results.append(result)
        cpu = ", ".join(f"{name} {share:.0%}" for name, share in result.cpu.items())
        flag = f" ⚠ {result.errors} errors" if result.errors else ""
        print(
            f"  {self.target:14} {measure:15} {result.value:9.1f} {unit}"
            f" ({count} in {seconds:.1f} s; CPU {cpu}; load {result.load[0]:.1f}){flag}",
            file=sys.stderr,
        )

    def _profile(self, measure: str, load: Load) -> None:
        """One more run of the load under py-spy (--gil): its summary on stderr and stored."""
        name = f"profile-files-{self.target}-{measure.replace(' ', '-')}.txt"
        raw = self.args.results_dir / name
        raw.parent.mkdir(parents=True, exist_ok=True)
        recorder = start_recording(self.watched["server"], self.args.duration, raw)
        run_wrk(load, duration=self.args.duration + 1, connections=self.args.connections)
        recorder.wait()
        summary = summarize(raw)
        self.profiles[measure] = summary
        print(f"  py-spy, {measure}:\n{format_summary(summary)}", file=sys.stderr)


async def fetch_all(urls: list[str], concurrency: int) -> float:
    """GET every URL once, `concurrency` at a time; the seconds it took. Each answer must be
    a 200x200 JPEG."""
    queue = list(reversed(urls))

    async def worker(client: httpx.AsyncClient) -> None:
        while queue:
            url = queue.pop()
            answer = await client.get(url)
            if answer.status_code != 200:
                raise ServerError(f"{url}: {answer.status_code} {answer.text[:300]}")
            made = Image.open(io.BytesIO(answer.content))
            if made.format != "JPEG" or made.size != (200, 200):
                raise ServerError(f"{url}: a {made.format} of {made.size}, not a 200x200 JPEG")

    async with httpx.AsyncClient(timeout=120) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        return time.perf_counter() - started


def start(target: str, workdir: Path) -> tuple[FileServer, MotoS3 | None]:
    moto = MotoS3(workdir / "moto") if target.endswith("-s3") else None
    try:
        if target == "nginx":
            return NginxFiles(workdir / "nginx"), None
        if target.startswith("minibase"):
            return MinibaseFiles(workdir / "minibase", moto), moto
        return PocketBaseFiles(workdir / "pocketbase", moto), moto
    except BaseException:
        if moto is not None:
            moto.stop()
        raise


def measure(args: argparse.Namespace, target: str, images: list[bytes]) -> Run:
    with tempfile.TemporaryDirectory(prefix=f"minibase-files-bench-{target}-") as tmp:
        workdir = Path(tmp)
        server, moto = start(target, workdir)
        run = Run(args, target, workdir)
        try:
            assert server.server is not None
            run.watched["server"] = server.server.pid
            if moto is not None:
                run.watched["moto"] = moto.server.pid
            run.transfers(server)
            run.thumbnails(server, images)
            if moto is not None and moto.object_count() == 0:
                raise ServerError(f"{server.label} stored nothing in moto's bucket")
        finally:
            server.stop()
            if moto is not None:
                moto.stop()
        return run


def _cell(results: dict[tuple[str, str], Result], target: str, measure: str) -> str:
    found = results.get((target, measure))
    if found is None:
        return "—"
    text = f"{found.value:,.1f}" if found.value < 100 else f"{found.value:,.0f}"
    return text + (f" ⚠ {found.errors} errors" if found.errors else "")


def _ratio(results: dict[tuple[str, str], Result], a: str, b: str, measure: str) -> str:
    x, y = results.get((a, measure)), results.get((b, measure))
    return f"{x.value / y.value:.2f}x" if x and y and y.value else "—"


MEASURES = (
    ("upload 10 MB", "upload, 10 MB file (MB/s)"),
    ("upload 1 MB", "upload, 1 MB file (MB/s)"),
    ("download 10 MB", "download, 10 MB file (MB/s)"),
    ("download 1 MB", "download, 1 MB file (MB/s)"),
    ("thumbs first", "200x200 thumbnails made, first request (/s)"),
    ("thumbs again", "200x200 thumbnails served again (/s)"),
)


def _row(title: str, cells: list[str]) -> str:
    return f"| {title} | " + " | ".join(cells) + " |"


def tables(results: list[Result]) -> str:
    by = {(r.target, r.measure): r for r in results}
    lines = [
        "| measure | nginx | minibase | PocketBase | minibase/nginx | minibase/PocketBase |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for key, title in MEASURES:
        cells = [_cell(by, t, key) for t in ("nginx", "minibase", "pocketbase")]
        ratios = [_ratio(by, "minibase", t, key) for t in ("nginx", "pocketbase")]
        lines.append(_row(title, [*cells, *ratios]))
    lines += [
        "",
        "| measure, S3 = moto on loopback | minibase | PocketBase | minibase/PocketBase |",
        "|---|---:|---:|---:|",
    ]
    for key, title in MEASURES:
        cells = [_cell(by, t, key) for t in ("minibase-s3", "pocketbase-s3")]
        ratio = _ratio(by, "minibase-s3", "pocketbase-s3", key)
        lines.append(_row(title, [*cells, ratio]))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--warmup", type=int, default=2, help="unrecorded seconds before each")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--images", type=int, default=100, help="distinct JPEGs to thumbnail")
    parser.add_argument("--only", action="append", choices=TARGETS, help="repeatable")
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    parser.add_argument(
        "--profile", action="store_true", help="after each minibase wrk run, one under py-spy"
    )
    args = parser.parse_args()
    print(f"making {args.images} JPEGs of 1600x1200 ...", file=sys.stderr)
    images = [photo(i) for i in range(args.images)]
    results: list[Result] = []
    profiles: dict[str, Any] = {}
    failed = False
    for target in args.only or TARGETS:
        print(f"{target}:", file=sys.stderr)
        try:
            run = measure(args, target, images)
            results += run.results
            profiles.update({f"{target} {key}": value for key, value in run.profiles.items()})
        except (ServerError, LoadError) as exc:
            print(f"  {target} FAILED: {exc}", file=sys.stderr)
            failed = True
    print(tables(results))
    args.results_dir.mkdir(parents=True, exist_ok=True)
    path = args.results_dir / f"files-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    document = {
        "settings": vars(args) | {"results_dir": str(args.results_dir)},
        "results": [asdict(r) for r in results],
        "profiles": profiles,
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
    print(f"results: {path}", file=sys.stderr)
    return 1 if failed or any(r.errors for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
