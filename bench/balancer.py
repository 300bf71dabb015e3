"""nginx (Debian's package) in front of several `minibase serve` instances on loopback, round
robin, as tests/e2e/test_cluster_behind_nginx.py runs it, plus keep-alive connections to the
instances (as a deployment would: without them nginx opens a connection per request)."""

from __future__ import annotations

import getpass
import os
from pathlib import Path

from file_servers import nginx_binary
from processes import ServerProcess, clean_environment, free_port

NGINX_CONF = """
{user}
worker_processes {workers};
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 100000;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    upstream minibase {{
{servers}
        keepalive 256;
        keepalive_requests 100000;
    }}
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location / {{
            proxy_pass http://minibase;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_read_timeout 60s;
        }}
    }}
}}
"""


class NginxBalancer:
    """nginx on a free loopback port, balancing round robin over `ports` until stop()."""

    def __init__(self, workdir: Path, ports: list[int], *, workers: str = "auto") -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        # a master running as root hands its workers to `nobody`; keep them as the caller
        user = f"user {getpass.getuser()};" if os.geteuid() == 0 else ""
        servers = "\n".join(f"        server 127.0.0.1:{port};" for port in ports)
        conf = workdir / "nginx.conf"
        conf.write_text(
            NGINX_CONF.format(
                user=user, workers=workers, dir=workdir, servers=servers, port=self.port
            )
        )
        command = [nginx_binary(), "-p", str(workdir), "-c", str(conf), "-e", "stderr"]
        command += ["-g", "daemon off;"]
        self.server: ServerProcess | None = ServerProcess(
            "nginx", command, workdir, clean_environment()
        )
        self.server.wait_until_healthy(self.base_url + "/api/health")

    @property
    def pid(self) -> int:
        assert self.server is not None
        return self.server.pid

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
