"""moto's S3 server on loopback for the tests: a real S3-compatible service that checks every
request's SigV4 signature against an IAM user's key."""

from __future__ import annotations

import contextlib
import hashlib
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode
from xml.etree import ElementTree

import httpx

from minibase.files import sigv4
from minibase.files.s3 import S3Storage
from minibase.testing.sandbox import free_port

REGION = "us-east-1"
ALLOW_S3 = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}'
)


class MotoS3:
    """`python -m moto.server` on a free port, with an IAM user allowed s3:* and signature
    checks on (moto verifies SigV4 with botocore's signer once auth is enabled)."""

    def __init__(self) -> None:
        port = free_port()
        self.host = f"127.0.0.1:{port}"
        self.url = f"http://{self.host}"
        # a file, not a pipe: a pipe nobody reads fills with the request log and blocks moto
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop)
        self._process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )
        self._http = httpx.Client(base_url=self.url, timeout=10)
        self._wait_until_up()
        # IAM calls go through while auth is still off; any key signs them.
        self.credentials = sigv4.Credentials("AKIAIOSFODNN7EXAMPLE", "boot", REGION, "iam")
        self._iam(Action="CreateUser", UserName="minibase")
        self._iam(
            Action="PutUserPolicy", UserName="minibase", PolicyName="s3", PolicyDocument=ALLOW_S3
        )
        key = self._iam(Action="CreateAccessKey", UserName="minibase")
        self.credentials = sigv4.Credentials(
            key.findtext(".//{*}AccessKeyId") or "",
            key.findtext(".//{*}SecretAccessKey") or "",
            REGION,
        )
        self.set_auth(on=True)

    def storage(self, bucket: str, secret_key: str | None = None, **options: Any) -> S3Storage:
        key = self.credentials
        secret = secret_key or key.secret_key
        return S3Storage(self.url, bucket, key.access_key, secret, REGION, **options)

    def create_bucket(self) -> str:
        bucket = f"test-{uuid.uuid4().hex[:20]}"
        self.s3("PUT", f"/{bucket}").raise_for_status()
        return bucket

    def pending_uploads(self, bucket: str) -> list[str]:
        """The keys of multipart uploads begun and neither completed nor aborted."""
        answer = self.s3("GET", f"/{bucket}", [("uploads", "")])
        answer.raise_for_status()
        return [
            k.text or ""
            for k in ElementTree.fromstring(answer.content).iterfind("{*}Upload/{*}Key")
        ]

    def s3(
        self, method: str, path: str, query: list[tuple[str, str]] | None = None
    ) -> httpx.Response:
        headers = {
            "host": self.host,
            "x-amz-date": sigv4.amz_date(datetime.now(UTC)),
            "x-amz-content-sha256": sigv4.EMPTY_PAYLOAD,
        }
        headers["authorization"] = sigv4.authorization(
            self.credentials, method, path, query or [], headers, sigv4.EMPTY_PAYLOAD
        )
        return self._http.request(method, path, params=query, headers=headers)

    @contextlib.contextmanager
    def without_auth(self) -> Iterator[None]:
        """Moto checks header signatures only: a presigned URL (no Authorization header) needs
        its checks off."""
        self.set_auth(on=False)
        try:
            yield
        finally:
            self.set_auth(on=True)

    def set_auth(self, *, on: bool) -> None:
        self._http.post("/moto-api/reset-auth", content=b"0" if on else b"inf").raise_for_status()

    def stop(self) -> None:
        self._http.close()
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
        self._log.close()

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                self._http.get("/moto-api/data.json", timeout=0.5)
                return
            except httpx.TransportError:
                if self._process.poll() is not None:
                    self._log.seek(0)
                    errors = self._log.read().decode(errors="replace")
                    raise RuntimeError(f"moto_server exited: {errors[-2000:]}") from None
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("moto_server did not answer within 30 s") from None
                time.sleep(0.05)

    def _iam(self, **form: str) -> ElementTree.Element:
        body = urlencode({**form, "Version": "2010-05-08"}).encode()
        headers = {
            "host": self.host,
            "x-amz-date": sigv4.amz_date(datetime.now(UTC)),
            "content-type": "application/x-www-form-urlencoded",
        }
        headers["authorization"] = sigv4.authorization(
            self.credentials, "POST", "/", [], headers, hashlib.sha256(body).hexdigest()
        )
        answer = self._http.post("/", content=body, headers=headers)
        answer.raise_for_status()
        return ElementTree.fromstring(answer.content)
