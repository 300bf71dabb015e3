"""`minibase sandbox` serves the fake platforms on its own, for a server pointed at it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.e2e.conftest import free_port


def test_minibase_sandbox_serves_the_platforms_and_the_control_api(tmp_path: Path) -> None:
    port = free_port()
    log = (tmp_path / "sandbox.log").open("wb")
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("minibase")), "sandbox", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                registered = httpx.post(
                    f"{url}/control/apps",
                    json={"platform": "wechat", "appid": "wx1", "secret": "s"},
                )
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the sandbox did not start"
                time.sleep(0.1)
        assert registered.status_code == 201
        code = httpx.post(
            f"{url}/control/login-code",
            json={"platform": "wechat", "appid": "wx1", "person": "ann"},
        ).json()
        session = httpx.get(
            f"{url}/wechat/sns/jscode2session",
            params={
                "appid": "wx1",
                "secret": "s",
                "js_code": code["code"],
                "grant_type": "authorization_code",
            },
        ).json()
        assert session["openid"] == code["openid"]
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
        log.close()
    said = (tmp_path / "sandbox.log").read_text()
    assert f"a platform SDK's base URL at {url}/<platform> (wechat, wechatpay, alipay" in said
    assert f"its control API at {url}/control" in said
