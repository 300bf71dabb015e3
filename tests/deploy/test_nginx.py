"""deploy/nginx: both configurations pass `nginx -t` (Debian's nginx), and nginx with them in
front of a real `minibase serve` on loopback passes requests, upgrades the realtime socket,
refuses oversized bodies itself, forwards the client's address and terminates TLS."""

from __future__ import annotations

import datetime
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from websockets.sync.client import connect

from tests.deploy.manifests import DEPLOY
from tests.e2e.conftest import RunningServer, free_port, start_server, stop_server

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


@dataclass
class Nginx:
    prefix: Path
    config: Path
    http_port: int
    https_port: int

    def test_config(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [NGINX, "-t", "-e", "stderr", "-p", str(self.prefix), "-c", str(self.config)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "api.example.com")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert, private = folder / "fullchain.pem", folder / "privkey.pem"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert, private


def nginx_for(folder: Path, site: str, upstream_port: int) -> Nginx:
    """deploy/nginx/`site` inside a minimal nginx.conf, with the compose service `app` replaced by
    a loopback upstream and the ports by free loopback ones; everything nginx writes in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    http_port, https_port = free_port(), free_port()
    cert, key = self_signed_certificate(folder)
    text = (DEPLOY / "nginx" / site).read_text()
    for old, new in (
        ("server app:8080", f"server 127.0.0.1:{upstream_port}"),
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;"),
        ("/etc/nginx/certs/fullchain.pem", str(cert)),
        ("/etc/nginx/certs/privkey.pem", str(key)),
    ):
        text = text.replace(old, new)
    (folder / site).write_text(text)
    temp = "\n".join(
        f"    {kind}_temp_path {folder / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    main = folder / "nginx.conf"
    main.write_text(
        f"""{"user root;" if os.geteuid() == 0 else ""}
worker_processes 1;
pid {folder / "nginx.pid"};
error_log {folder / "error.log"} warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
{temp}
    include {folder / site};
}}
"""
    )
    return Nginx(folder, main, http_port, https_port)


@pytest.mark.parametrize("site", ["minibase.conf", "minibase-tls.conf"])
def test_nginx_accepts_the_configuration(tmp_path: Path, site: str) -> None:
    result = nginx_for(tmp_path, site, free_port()).test_config()
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_nginx_t_refuses_a_configuration_with_an_error(tmp_path: Path) -> None:
    nginx = nginx_for(tmp_path, "minibase.conf", free_port())
    site = tmp_path / "minibase.conf"
    site.write_text(site.read_text().replace("proxy_http_version 1.1;", "proxy_http_versio 1.1;"))
    assert nginx.test_config().returncode != 0


@dataclass
class Stack:
    server: RunningServer
    nginx: Nginx

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.nginx.http_port}"


def run_nginx(nginx: Nginx) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [
            NGINX,
            "-e",
            "stderr",
            "-p",
            str(nginx.prefix),
            "-c",
            str(nginx.config),
            "-g",
            "daemon off;",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            assert process.stderr is not None
            raise RuntimeError(process.stderr.read().decode())
        try:
            socket.create_connection(("127.0.0.1", nginx.http_port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("nginx did not listen in 10 s")


@contextmanager
def behind_nginx(folder: Path, site: str) -> Iterator[Stack]:
    env = {
        # bodies up to 4 MB (above nginx's default limit of 1 MB) for minibase to judge itself
        "MINIBASE_MAX_BODY_BYTES": "4000000",
        # nginx connects from 127.0.0.1; clients in the tests come from 127.0.0.2 and up
        "MINIBASE_TRUSTED_PROXIES": "127.0.0.1",
        "MINIBASE_ADMIN_LOGIN_FAILURES_PER_ADDRESS": "2",
        "MINIBASE_ADMIN_LOGIN_FAILURES_PER_ACCOUNT": "0",
    }
    server = start_server(folder / "minibase", env=env)
    process = None
    try:
        nginx = nginx_for(folder / "nginx", site, server.port)
        process = run_nginx(nginx)
        yield Stack(server, nginx)
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=10)
        stop_server(server)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("behind-nginx")
    (folder / "minibase").mkdir()
    with behind_nginx(folder, "minibase.conf") as running:
        yield running


def test_requests_reach_minibase_through_nginx_with_a_request_id(stack: Stack) -> None:
    response = httpx.get(f"{stack.url}/api/health", timeout=10)
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.headers["server"] == "nginx"  # and no version: server_tokens off
    assert len(response.headers["x-request-id"]) >= 16


def test_the_realtime_socket_is_upgraded_through_nginx(stack: Stack) -> None:
    with connect(f"ws://127.0.0.1:{stack.nginx.http_port}/api/realtime", open_timeout=10) as ws:
        assert ws.response is not None
        assert ws.response.status_code == 101


def test_nginx_refuses_a_body_over_its_limit_before_it_reaches_minibase(stack: Stack) -> None:
    with socket.create_connection(("127.0.0.1", stack.nginx.http_port), timeout=10) as raw:
        raw.sendall(
            b"POST /api/files HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            b"Content-Length: 30000000\r\nConnection: close\r\n\r\n"
        )
        status_line = raw.recv(4096).split(b"\r\n", 1)[0]
    assert status_line.split()[1] == b"413"


def test_a_body_under_the_limit_is_passed_to_minibase(stack: Stack) -> None:
    body = {"email": "x" * 2_000_000 + "@example.com", "password": "not this one"}
    response = httpx.post(f"{stack.url}/api/admin/login", json=body, timeout=30)
    # minibase's own answer (JSON with a code), not nginx's default 1 MB limit (an HTML 413)
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["code"]


def failed_login_from(stack: Stack, source: str, forwarded: str) -> int:
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(transport=transport, timeout=10) as http:
        response = http.post(
            f"{stack.url}/api/admin/login",
            json={"email": "nobody@example.com", "password": "wrong"},
            headers={"X-Forwarded-For": forwarded},
        )
    return response.status_code


def test_minibase_counts_the_address_nginx_saw_not_one_the_client_wrote(stack: Stack) -> None:
    # a client that writes a new X-Forwarded-For each time is still throttled by its address
    statuses = [failed_login_from(stack, "127.0.0.2", f"203.0.113.{n}") for n in range(3)]
    assert statuses == [401, 401, 429]
    # and another client, behind the same nginx, is not
    assert failed_login_from(stack, "127.0.0.3", "203.0.113.1") == 401


def test_nginx_terminates_tls_and_sends_plain_http_to_https(tmp_path: Path) -> None:
    (tmp_path / "minibase").mkdir()
    with behind_nginx(tmp_path, "minibase-tls.conf") as stack:
        secure = httpx.get(
            f"https://127.0.0.1:{stack.nginx.https_port}/api/health", verify=False, timeout=10
        )
        assert secure.status_code == 200
        assert secure.headers["strict-transport-security"].startswith("max-age=")
        plain = httpx.get(f"{stack.url}/api/health", timeout=10)
        assert plain.status_code == 301
        assert plain.headers["location"].startswith("https://")
