"""The standalone sandbox (`python -m minibase.sandbox`) over a real socket, as a server
configured with its base URLs reaches it."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from minibase.platforms.wechat import crypto as wechat_crypto


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "minibase.sandbox", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"{url}/control/apps", timeout=0.5)
                break
            except httpx.TransportError:
                if process.poll() is not None:
                    errors = process.stderr.read().decode() if process.stderr else ""
                    raise RuntimeError(f"the sandbox exited: {errors}") from None
                if time.monotonic() > deadline:
                    raise RuntimeError("the sandbox did not answer within 20 s") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def http(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=5) as client:
        client.post("/control/reset").raise_for_status()
        yield client


def test_a_wechat_login_and_its_encrypted_data_work_over_a_socket(http: httpx.Client) -> None:
    http.post("/control/apps", json={"platform": "wechat", "appid": "wx-1", "secret": "s"})
    issued = http.post(
        "/control/login-code", json={"platform": "wechat", "appid": "wx-1", "person": "alice"}
    ).json()

    params = {"appid": "wx-1", "secret": "s", "js_code": issued["code"]}
    params["grant_type"] = "authorization_code"
    session = http.get("/wechat/sns/jscode2session", params=params).json()
    sealed = http.post(
        "/control/encrypted-data",
        json={
            "platform": "wechat",
            "appid": "wx-1",
            "person": "alice",
            "data": {"nickName": "A"},
        },
    ).json()

    assert session["openid"] == issued["openid"]
    data = wechat_crypto.decrypt_user_data(
        session["session_key"], sealed["encrypted_data"], sealed["iv"], "wx-1"
    )
    assert data["nickName"] == "A"
    assert http.get("/control/calls").json() == {"wechat": {"/sns/jscode2session": 1}}


def test_a_timeout_outage_makes_a_real_client_time_out_once(http: httpx.Client) -> None:
    http.post("/control/apps", json={"platform": "wechat", "appid": "wx-1", "secret": "s"})
    http.post(
        "/control/outage",
        json={
            "platform": "wechat",
            "mode": "timeout",
            "count": 1,
            "seconds": 3,
        },
    )
    token = {"grant_type": "client_credential", "appid": "wx-1", "secret": "s"}

    with pytest.raises(httpx.ReadTimeout):
        http.get("/wechat/cgi-bin/token", params=token, timeout=0.3)
    assert "access_token" in http.get("/wechat/cgi-bin/token", params=token).json()
