"""Several instances behind a load balancer, as a deployment runs them: three `minibase serve`
and two `minibase worker` processes on one PostgreSQL and one Redis, behind Debian's nginx on
loopback (round robin, WebSockets upgraded). A session works on every instance, a collection
made through one is used through the others within a second, a change written through one
reaches a watcher connected through nginx to another, jobs run once between the two workers,
and an instance killed under write load loses no acknowledged write: the only failed requests
are those that were in flight on it."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import websockets

from minibase.testing import postgres
from tests.e2e.conftest import (
    MASTER_KEY,
    MINIBASE,
    RunningServer,
    admin_headers,
    free_port,
    start_server,
    stop_server,
)

# one worker runs the module, in its order (the last test kills an instance)
pytestmark = pytest.mark.xdist_group("cluster")
DEADLINE = 3.0  # definitions are re-read every second; the rest is slack for a busy machine
REDIS_URL = "redis://127.0.0.1:6379/3"
# every instance counts a user's calls of functions in Redis: 5 a minute in all, not 5 each
INSTANCE_ENV = {
    "MINIBASE_CACHE_URL": REDIS_URL,
    "MINIBASE_RUN_JOBS": "false",  # the HTTP instances run no jobs: the workers do
    "MINIBASE_RATE_LIMITS_PER_USER": "functions=5/minute",
    "MINIBASE_WORKERS": "1",  # one process an instance, as deploy/compose.yaml and k8s run them
}
FUNCTIONS = """
import os

from minibase.functions import function, job


@function(auth="user")
async def where(ctx, input):
    return {"process": os.getpid()}


@function(auth="admin")
async def enqueue_marks(ctx, input):
    for n in range(input["count"]):
        await ctx.jobs.enqueue("mark", {"n": n}, key=f"mark:{input['batch']}:{n}")
    return {"queued": input["count"]}


@job("mark")
async def mark(ctx, payload):
    async with ctx.transaction() as tx:  # the mark and the job's success commit together
        await tx.records_as_admin.create("marks", {"n": payload["n"]})
        await tx.complete_job()
"""

NGINX = """
user root;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    upstream minibase {{
{servers}
    }}
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://minibase;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_read_timeout 60s;
        }}
    }}
}}
"""


class Balancer:
    """Debian's nginx in front of the instances, run as an operator runs it: a configuration
    file, and a reload (SIGHUP) when an instance is taken out or put back."""

    def __init__(self, folder: Path, ports: list[int]) -> None:
        self.folder, self.ports, self.port = folder, ports, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = folder / "error.log"
        folder.mkdir()
        self._configure(down=None)
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        self.process = subprocess.Popen(
            [nginx, "-p", str(folder), "-c", str(folder / "nginx.conf"), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/api/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"nginx did not answer: {self.log.read_text()}")

    def _configure(self, down: int | None) -> None:
        servers = "\n".join(
            f"        server 127.0.0.1:{port} max_fails=1 fail_timeout=1s"
            + (" down;" if port == down else ";")
            for port in self.ports
        )
        config = NGINX.format(dir=self.folder, servers=servers, port=self.port)
        (self.folder / "nginx.conf").write_text(config)

    def reload(self, down: int | None = None) -> None:
        """Send requests to every instance but `down` (a port) once this returns: nginx's old
        worker, which finishes the requests it has by the old configuration, has exited."""
        self._configure(down)
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        before = set(children.read_text().split())
        self.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while set(children.read_text().split()) & before:  # the old worker has finished
            assert time.monotonic() < deadline, self.said()
            time.sleep(0.01)

    def said(self) -> str:
        """nginx's error log: why it answered 502 itself, if it did."""
        return self.log.read_text()[-3000:]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@dataclass
class Cluster:
    balancer: Balancer
    instances: list[RunningServer]
    workers: list[subprocess.Popen[bytes]]
    admin: dict[str, str]
    user: dict[str, str]

    @property
    def url(self) -> str:
        return self.balancer.url


@pytest.fixture(scope="module")
def cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    if "postgres" not in os.environ.get("MINIBASE_TEST_BACKENDS", "postgres"):
        pytest.skip("several instances share PostgreSQL: the tests run without it")
    request.getfixturevalue("_postgres_template")
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    folder = tmp_path_factory.mktemp("cluster")
    database = asyncio.run(postgres.clone_database())
    (folder / "minibase.toml").write_text(f'database_url = "{postgres.url_for(database)}"\n')
    (folder / "functions").mkdir()
    (folder / "functions" / "marks.py").write_text(FUNCTIONS)
    env = {"MINIBASE_CACHE_URL": REDIS_URL, "MINIBASE_AUTO_MIGRATE": "true"}
    instances: list[RunningServer] = []
    workers: list[subprocess.Popen[bytes]] = []
    balancer: Balancer | None = None
    try:
        for _ in range(3):
            instances.append(start_server(folder, env={**env, **INSTANCE_ENV}))
        for _ in range(2):
            workers.append(
                subprocess.Popen(
                    [MINIBASE, "worker"],
                    cwd=folder,
                    env={**os.environ, "MINIBASE_MASTER_KEY": MASTER_KEY, **env},
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
        balancer = Balancer(folder / "nginx", [instance.port for instance in instances])
        url = balancer.url
        admin = admin_headers(instances[0])
        user_id = httpx.post(f"{url}/api/admin/users", json={}, headers=admin).json()["id"]
        tokens = httpx.post(f"{url}/api/admin/users/{user_id}/tokens", headers=admin).json()
        user = {"Authorization": f"Bearer {tokens['access_token']}"}
        yield Cluster(balancer, instances, workers, admin, user)
    finally:
        if balancer is not None:
            balancer.stop()
        for worker in workers:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=30)
        for instance in instances:
            if instance.process.poll() is None:
                stop_server(instance)
        asyncio.run(postgres.drop_database(database))


def make_collection(cluster: Cluster, name: str, via: str) -> None:
    body = {
        "name": name,
        "fields": {"n": {"type": "integer"}, "text": {"type": "string"}},
        "rules": {"preset": "public_read_owner_write"},
    }
    made = httpx.post(f"{via}/api/admin/collections", json=body, headers=cluster.admin)
    assert made.status_code == 201, made.text
    for instance in cluster.instances:  # every instance knows it within a second
        if instance.process.poll() is not None:
            continue
        started = time.monotonic()
        while True:
            listed = httpx.get(
                f"{instance.url}/api/collections/{name}/records", headers=cluster.user
            )
            if listed.status_code != 404:
                assert listed.status_code == 200, listed.text
                break
            assert time.monotonic() - started < DEADLINE, f"{instance.url}: {listed.text}"
            time.sleep(0.05)


def test_a_session_and_a_new_collection_work_on_every_instance(cluster: Cluster) -> None:
    make_collection(cluster, "notes", via=cluster.instances[0].url)  # known to all within 1 s
    for instance in cluster.instances:  # one user's token, taken by each
        created = httpx.post(
            f"{instance.url}/api/collections/notes/records",
            json={"text": f"from {instance.port}"},
            headers=cluster.user,
        )
        assert created.status_code == 201, created.text
    # through the balancer, every request is answered whichever instance takes it
    with httpx.Client(base_url=cluster.url, headers=cluster.user) as http:
        answers = [http.get("/api/collections/notes/records").status_code for _ in range(12)]
    assert answers == [200] * 12
    listed = httpx.get(f"{cluster.url}/api/collections/notes/records", headers=cluster.user)
    assert sorted(item["text"] for item in listed.json()["items"]) == sorted(
        f"from {instance.port}" for instance in cluster.instances
    )


async def test_a_watcher_behind_the_balancer_hears_of_a_write_made_on_another_instance(
    cluster: Cluster,
) -> None:
    make_collection(cluster, "chat", via=cluster.url)
    socket_url = cluster.url.replace("http://", "ws://") + "/api/realtime"
    async with (
        websockets.connect(socket_url, additional_headers=cluster.user) as socket,
        httpx.AsyncClient() as http,
    ):
        authenticated = orjson.loads(await asyncio.wait_for(socket.recv(), 5))
        assert authenticated["type"] == "authenticated"
        await socket.send(orjson.dumps({"type": "subscribe", "id": "c", "collection": "chat"}))
        snapshot = orjson.loads(await asyncio.wait_for(socket.recv(), 5))
        assert (snapshot["type"], snapshot["docs"]) == ("snapshot", [])
        for instance in cluster.instances:  # whichever instance the write goes to
            text = f"hello from {instance.port}"
            written = await http.post(
                f"{instance.url}/api/collections/chat/records",
                json={"text": text},
                headers=cluster.user,
            )
            assert written.status_code == 201, written.text
            change = orjson.loads(await asyncio.wait_for(socket.recv(), 5))
            assert (change["change"], change["doc"]["text"]) == ("add", text)


def test_jobs_queued_through_the_balancer_run_once_between_two_workers(cluster: Cluster) -> None:
    make_collection(cluster, "marks", via=cluster.url)
    queued = httpx.post(
        f"{cluster.url}/api/functions/enqueue_marks",
        json={"count": 40, "batch": "a"},
        headers=cluster.admin,
    )
    assert queued.status_code == 200, queued.text
    deadline = time.monotonic() + 20
    marks: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        page = httpx.get(
            f"{cluster.url}/api/collections/marks/records",
            params={"limit": 100},
            headers=cluster.admin,
        ).json()
        marks = page["items"]
        if len(marks) >= 40:
            break
        time.sleep(0.2)
    time.sleep(0.5)  # a job run twice would show as a 41st mark by now
    final = httpx.get(
        f"{cluster.url}/api/collections/marks/records",
        params={"limit": 100},
        headers=cluster.admin,
    ).json()["items"]
    assert sorted(mark["n"] for mark in final) == list(range(40))


class Writers:
    """Writers creating records through the balancer without pause, keeping what was
    acknowledged and what failed."""

    def __init__(self, cluster: Cluster, collection: str, count: int = 4) -> None:
        self.cluster, self.path = cluster, f"/api/collections/{collection}/records"
        self.acknowledged: list[str] = []
        self.failed: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.threads = [threading.Thread(target=self._write, args=(w,)) for w in range(count)]
        for thread in self.threads:
            thread.start()

    def _write(self, writer: int) -> None:
        cluster = self.cluster
        # each request on a connection of its own: a reload of nginx closes the connections it
        # keeps alive, and a request sent as one closes fails whatever the instances behind do
        fresh = httpx.Limits(max_keepalive_connections=0)
        with httpx.Client(
            base_url=cluster.url, headers=cluster.user, timeout=10, limits=fresh
        ) as http:
            n = 0
            while not self._stop.is_set():
                n += 1
                try:
                    answer = http.post(self.path, json={"text": f"{writer}-{n}"})
                except httpx.TransportError as error:
                    with self._lock:
                        self.failed.append(repr(error))
                    continue
                with self._lock:
                    if answer.status_code == 201:
                        self.acknowledged.append(answer.json()["_id"])
                    else:
                        self.failed.append(f"{answer.status_code} {answer.text[:100]}")

    def stop(self) -> None:
        self._stop.set()
        for thread in self.threads:
            thread.join()

    def kept(self) -> set[str]:
        """The ids the collection holds now."""
        kept: set[str] = set()
        cursor = None
        with httpx.Client(base_url=self.cluster.url, headers=self.cluster.user) as http:
            while True:
                params: dict[str, Any] = {"limit": 100, "fields": "_id"}
                if cursor:
                    params["cursor"] = cursor
                page = http.get(self.path, params=params).json()
                kept.update(item["_id"] for item in page["items"])
                cursor = page.get("next_cursor")
                if not cursor:
                    return kept


def test_a_rolling_restart_under_write_load_fails_no_request_and_loses_nothing(
    cluster: Cluster,
) -> None:
    """As docs/deploy.md says to restart behind nginx: out of the upstream, stopped (SIGTERM to
    the server's main process: what it has in flight, it finishes), started, back in."""
    make_collection(cluster, "rolling", via=cluster.url)
    writers = Writers(cluster, "rolling")
    time.sleep(0.5)
    for at, instance in enumerate(cluster.instances):  # one after another, as a deploy does
        cluster.balancer.reload(down=instance.port)
        instance.process.send_signal(signal.SIGTERM)
        assert instance.process.wait(timeout=30) == 0
        restarted = start_server(instance.cwd, port=instance.port, env=INSTANCE_ENV)
        cluster.instances[at] = restarted
        cluster.balancer.reload(down=None)
        time.sleep(0.3)
    writers.stop()
    assert len(writers.acknowledged) > 50
    # the balancer sent no request to an instance that was stopping
    assert writers.failed == [], cluster.balancer.said()
    assert set(writers.acknowledged) <= writers.kept()


def test_a_users_rate_limit_is_one_count_across_every_instance(cluster: Cluster) -> None:
    calls = [
        httpx.post(f"{cluster.url}/api/functions/where", json={}, headers=cluster.user)
        for _ in range(12)
    ]
    served = [call for call in calls if call.status_code == 200]
    assert len(served) == 5, [call.text for call in calls]
    assert len({call.json()["result"]["process"] for call in served}) >= 2  # round robin
    for refused in calls[5:]:
        assert refused.status_code == 429, refused.text
        body = refused.json()
        assert (body["code"], body["details"]["per"]) == ("request.rate_limited", "user")
        assert 1 <= int(refused.headers["retry-after"]) <= 60


def test_an_instance_killed_under_load_loses_no_acknowledged_write(cluster: Cluster) -> None:
    make_collection(cluster, "writes", via=cluster.url)
    writers = Writers(cluster, "writes")
    time.sleep(1.0)
    victim = cluster.instances[2]
    os.killpg(victim.process.pid, signal.SIGKILL)  # no goodbye: as a crashed machine
    victim.process.wait()
    time.sleep(1.5)
    writers.stop()
    assert len(writers.acknowledged) > 50
    # only the requests in flight on the killed instance failed: at most one per writer
    assert len(writers.failed) <= len(writers.threads), writers.failed
    assert set(writers.acknowledged) <= writers.kept()
