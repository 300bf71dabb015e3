"""Helpers for the files tests: images made with Pillow, uploads sent as wx.uploadFile sends
them (multipart/form-data, the file under `file`, formData before it), short calls.

Every test that uses `client` runs twice, on SQLite and on a fresh PostgreSQL database.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image
from tests.files.s3_server import MotoS3
from tests.http.records.conftest import make_collection

from minibase.config import Settings
from minibase.jobs import JobWorker
from minibase.services import Services
from minibase.testing.plugin import Actor

__all__ = ["jpeg", "make_collection", "on_s3", "png", "run_jobs", "upload"]


def jpeg(width: int = 64, height: int = 48, color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "JPEG", quality=90)
    return out.getvalue()


def png(width: int = 32, height: int = 32) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (width, height), (0, 128, 255, 128)).save(out, "PNG")
    return out.getvalue()


async def upload(
    client: httpx.AsyncClient,
    actor: Actor | None,
    url: str,
    data: bytes,
    *,
    filename: str = "wxfile://tmp_5f2a9c.jpg",
    content_type: str | None = "image/jpeg",
    fields: dict[str, str] | None = None,
    part: str = "file",
    expect: int = 201,
) -> dict[str, Any]:
    """POST a file as the mini program runtimes do; the answer's JSON (status checked)."""
    file = (filename, data, content_type) if content_type else (filename, data)
    response = await client.post(
        url,
        headers=actor.headers if actor else {},
        data=fields or {},
        files={part: file},
    )
    assert response.status_code == expect, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def run_jobs(services: Services) -> int:
    """Run every due job (file deletions among them) to the end, as a server's worker would."""
    worker = JobWorker(
        services.jobs, services.functions.handler_for, concurrency=2, poll_interval=0.05
    )
    return await worker.run_until_idle()


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[MotoS3]:
    """moto's S3 server on loopback, one per test session and xdist worker."""
    server = MotoS3()
    yield server
    server.stop()


def on_s3(settings: Settings, moto: MotoS3) -> Settings:
    """The settings, with files in a new bucket of the moto server."""
    key = moto.credentials
    return settings.replace(
        s3_endpoint=moto.url,
        s3_bucket=moto.create_bucket(),
        s3_access_key=key.access_key,
        s3_secret_key=key.secret_key,
        s3_region=key.region,
    )
