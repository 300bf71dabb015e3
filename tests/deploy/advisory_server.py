"""A stand-in for the npm registry's advisory database on loopback: `npm audit` asks it as it
would ask the real one (npm_config_registry), and it knows the advisories a test gives it."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# the real advisory of minimist < 1.2.6 (prototype pollution), as the registry serves it
MINIMIST_ADVISORY = {
    "id": 1097677,
    "url": "https://github.com/advisories/GHSA-xvch-5gv4-984h",
    "title": "Prototype Pollution in minimist",
    "severity": "critical",
    "vulnerable_versions": "<1.2.6",
    "cwe": ["CWE-1321"],
    "cvss": {"score": 9.8, "vectorString": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"},
}


def packument(name: str, versions: list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "dist-tags": {"latest": versions[-1]},
        "versions": {
            version: {
                "name": name,
                "version": version,
                "dist": {"tarball": f"http://127.0.0.1/{name}-{version}.tgz"},
            }
            for version in versions
        },
    }


@contextmanager
def advisory_registry(
    advisories: dict[str, list[dict[str, Any]]], versions: dict[str, list[str]]
) -> Iterator[str]:
    """Serves the bulk advisory endpoint and the packuments of `versions`; yields its URL."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _send(self, status: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length", 0)))
            if self.headers.get("content-encoding") == "gzip":
                raw = gzip.decompress(raw)
            if self.path.endswith("/-/npm/v1/security/advisories/bulk"):
                asked = json.loads(raw or b"{}")
                self._send(200, {name: advisories[name] for name in asked if name in advisories})
            else:
                self._send(404, {"error": "not found"})

        def do_GET(self) -> None:
            name = self.path.strip("/").replace("%2f", "/").replace("%2F", "/")
            if name in versions:
                self._send(200, packument(name, versions[name]))
            else:
                self._send(404, {"error": "not found"})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
