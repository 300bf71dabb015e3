"""Platform logins per second: minibase exchanging WeChat codes with the sandbox on loopback.

    .venv/bin/python bench/login.py [--duration 10] [--connections 64] [--workers 1]

Codes are minted in the sandbox beforehand (one per request, single-use), so the measured path
is the real one: parse, call jscode2session over HTTP, find or create the user, seal the session
key, issue an access and a refresh token. Two runs: returning users (1,000 people who signed in
before) and first logins (a new person each time). The sandbox is itself a Python server on the
same two cores, so the figure is minibase and the fake platform together.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
from loadgen import Load, run_wrk
from processes import ServerProcess, clean_environment, free_port

APPID = "wxbench0001"
SECRET = "bench-secret-0123456789"
ADMIN = ("bench@example.com", "bench-admin-password")
RETURNING = 1000


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def _start(workdir: Path, workers: int) -> tuple[ServerProcess, ServerProcess, str, str]:
    sandbox_port, server_port = free_port(), free_port()
    sandbox = ServerProcess(
        "sandbox",
        [sys.executable, "-m", "minibase.sandbox", "--port", str(sandbox_port)],
        workdir,
        clean_environment(),
    )
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    sandbox.wait_until_healthy(sandbox_url + "/control/apps")
    env = clean_environment(
        {"MINIBASE_SANDBOX_URL": sandbox_url, "MINIBASE_ADMIN_PASSWORD": ADMIN[1]}
    )
    data_dir = str(workdir / "data")
    subprocess.run(
        [_bin("minibase"), "admin", "create", ADMIN[0], "--create", "--data-dir", data_dir],
        env=env,
        check=True,
        capture_output=True,
    )
    server = ServerProcess(
        "minibase",
        [
            _bin("minibase"),
            "serve",
            "--port",
            str(server_port),
            "--data-dir",
            data_dir,
            "--workers",
            str(workers),
        ],
        workdir,
        env,
    )
    base_url = f"http://127.0.0.1:{server_port}"
    server.wait_until_healthy(base_url + "/api/health")
    return sandbox, server, sandbox_url, base_url


def _register(sandbox_url: str, base_url: str) -> None:
    with httpx.Client(timeout=30) as http:
        http.post(
            f"{sandbox_url}/control/apps",
            json={"platform": "wechat", "appid": APPID, "secret": SECRET},
        ).raise_for_status()
        token = http.post(
            f"{base_url}/api/admin/login", json={"email": ADMIN[0], "password": ADMIN[1]}
        ).json()["token"]
        http.post(
            f"{base_url}/api/admin/apps",
            headers={"Authorization": f"Bearer {token}"},
            json={"platform": "wechat", "appid": APPID, "secret": SECRET},
        ).raise_for_status()


def _codes(sandbox_url: str, persons: list[str], path: Path) -> Path:
    with httpx.Client(timeout=120) as http:
        answer = http.post(
            f"{sandbox_url}/control/login-codes",
            json={"platform": "wechat", "appid": APPID, "persons": persons},
        )
        answer.raise_for_status()
    path.write_text("\n".join(answer.json()["codes"]) + "\n")
    return path


def _check(base_url: str, sandbox_url: str) -> None:
    """A benchmark of a broken endpoint is worthless: one login must work first."""
    with httpx.Client(timeout=30) as http:
        code = http.post(
            f"{sandbox_url}/control/login-code",
            json={"platform": "wechat", "appid": APPID, "person": "check"},
        ).json()
        answer = http.post(
            f"{base_url}/api/auth/wechat/login", json={"appid": APPID, "code": code["code"]}
        )
        body = answer.json()
        if answer.status_code != 200 or body["identity"]["openid"] != code["openid"]:
            raise SystemExit(f"the login endpoint is broken: {body}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--codes", type=int, default=60_000, help="codes minted per run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="minibase-login-bench-") as tmp:
        workdir = Path(tmp)
        sandbox, server, sandbox_url, base_url = _start(workdir, args.workers)
        try:
            _register(sandbox_url, base_url)
            _check(base_url, sandbox_url)
            returning = [f"person-{i}" for i in range(RETURNING)]
            warm = _codes(sandbox_url, returning, workdir / "warm.txt")
            run_wrk(
                Load(
                    url=f"{base_url}/api/auth/wechat/login",
                    script="login.lua",
                    ids_file=warm,
                    extra={"BENCH_APPID": APPID},
                ),
                duration=max(2, args.duration // 3),
                connections=args.connections,
            )
            results = {}
            for label, persons in (
                ("returning users", [returning[i % RETURNING] for i in range(args.codes)]),
                ("first logins", [f"new-{i}" for i in range(args.codes)]),
            ):
                codes = _codes(sandbox_url, persons, workdir / "codes.txt")
                measured = run_wrk(
                    Load(
                        url=f"{base_url}/api/auth/wechat/login",
                        script="login.lua",
                        ids_file=codes,
                        extra={"BENCH_APPID": APPID},
                    ),
                    duration=args.duration,
                    connections=args.connections,
                )
                results[label] = measured
                print(
                    f"{label}: {measured.rps:,.0f} logins/s, p50 {measured.p50:.1f} ms, "
                    f"p99 {measured.p99:.1f} ms, errors {measured.errors}"
                )
                if measured.error_count:
                    print("  (!) errors above: the figure is not valid", file=sys.stderr)
            out = Path(__file__).parent / "results"
            out.mkdir(exist_ok=True)
            name = out / f"login-{os.getpid()}.json"
            name.write_text(json.dumps({k: v.to_json() for k, v in results.items()}, indent=1))
            print(f"results: {name}")
        finally:
            server.stop()
            sandbox.stop()


if __name__ == "__main__":
    main()
