"""The platforms' sandbox for tests: a real server on loopback and a client for its control API.

The app under test talks to it over real HTTP, exactly as it would talk to WeChat or Alipay.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from typing import Any

import httpx

from minibase.platforms.transport import tls_context


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class SandboxProcess:
    """`python -m minibase.sandbox` on a free port (or the one given), for a whole test
    session."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://{host}" if self.port == 80 else f"http://{host}:{self.port}"
        self._process = subprocess.Popen(
            [sys.executable, "-m", "minibase.sandbox", "--host", host, "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{self.url}/control/apps", timeout=0.5)
                return
            except httpx.TransportError:
                if self._process.poll() is not None:
                    errors = self._process.stderr.read().decode() if self._process.stderr else ""
                    raise RuntimeError(f"the sandbox exited: {errors[-2000:]}") from None
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("the sandbox did not answer within 30 s") from None
                time.sleep(0.1)

    def stop(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()


class SandboxClient:
    """Plays the mini program's side: mints codes and encrypted payloads, injects faults."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._http = httpx.AsyncClient(base_url=url, timeout=10, verify=tls_context())

    async def _post(self, path: str, **body: Any) -> Any:
        response = await self._http.post(path, json=body)
        if response.status_code >= 300:
            raise AssertionError(f"sandbox {path}: {response.status_code} {response.text}")
        return response.json()

    async def register_app(self, platform: str, appid: str, **keys: Any) -> dict[str, Any]:
        answer: dict[str, Any] = await self._post(
            "/control/apps", platform=platform, appid=appid, **keys
        )
        return answer

    async def login_code(
        self, platform: str, appid: str, person: str, *, guest: bool = False
    ) -> dict[str, Any]:
        """What wx.login() and its twins give; `guest` (Douyin): only an anonymous_code."""
        answer: dict[str, Any] = await self._post(
            "/control/login-code", platform=platform, appid=appid, person=person, guest=guest
        )
        return answer

    async def phone_code(self, appid: str, person: str, phone: str) -> str:
        answer = await self._post("/control/phone-code", appid=appid, person=person, phone=phone)
        return str(answer["code"])

    async def encrypted_data(
        self, platform: str, appid: str, person: str, data: dict[str, Any]
    ) -> dict[str, str]:
        answer: dict[str, str] = await self._post(
            "/control/encrypted-data", platform=platform, appid=appid, person=person, data=data
        )
        return answer

    async def raw_data_signature(
        self, platform: str, appid: str, person: str, raw_data: str
    ) -> str:
        answer = await self._post(
            "/control/raw-data-signature",
            platform=platform,
            appid=appid,
            person=person,
            raw_data=raw_data,
        )
        return str(answer["signature"])

    async def alipay_phone(self, appid: str, person: str, phone: str) -> dict[str, str]:
        answer: dict[str, str] = await self._post(
            "/control/alipay-phone", appid=appid, person=person, phone=phone
        )
        return answer

    # WeChat Pay. `notify`/`delivery` options: times, concurrent, tamper, forge, stale,
    # unknown_serial; each answer lists the deliveries' {"status", "body"}.

    async def wechatpay_merchant(
        self, mchid: str, merchant_public_key: str, merchant_serial: str, api_v3_key: str
    ) -> dict[str, str]:
        """Register a merchant; the platform serial, public key and certificate to trust."""
        answer: dict[str, str] = await self._post(
            "/control/wechatpay/merchants",
            mchid=mchid,
            merchant_public_key=merchant_public_key,
            merchant_serial=merchant_serial,
            api_v3_key=api_v3_key,
        )
        return answer

    async def wechatpay_pay(
        self,
        mchid: str,
        out_trade_no: str,
        payment: dict[str, str] | None = None,
        **notify: Any,
    ) -> dict[str, Any]:
        """The person pays the order (with wx.requestPayment's parameters, when given)."""
        answer: dict[str, Any] = await self._post(
            "/control/wechatpay/pay",
            mchid=mchid,
            out_trade_no=out_trade_no,
            payment=payment,
            notify=notify or None,
        )
        return answer

    async def wechatpay_notify(
        self, mchid: str, out_trade_no: str, out_refund_no: str | None = None, **delivery: Any
    ) -> dict[str, Any]:
        """Deliver the order's (or its refund's) latest notification again."""
        answer: dict[str, Any] = await self._post(
            "/control/wechatpay/notify",
            mchid=mchid,
            out_trade_no=out_trade_no,
            out_refund_no=out_refund_no,
            **delivery,
        )
        return answer

    async def wechatpay_refund_result(
        self, mchid: str, out_refund_no: str, status: str, **notify: Any
    ) -> dict[str, Any]:
        """The bank's answer to a refund: SUCCESS, CLOSED or ABNORMAL."""
        answer: dict[str, Any] = await self._post(
            "/control/wechatpay/refund-result",
            mchid=mchid,
            out_refund_no=out_refund_no,
            status=status,
            notify=notify or None,
        )
        return answer

    # Alipay payments. `notify`/`delivery` options: times, concurrent, tamper, forge,
    # unknown_app; each answer lists the deliveries' {"status", "body", "acknowledged"}.

    async def alipay_pay(self, appid: str, out_trade_no: str, **notify: Any) -> dict[str, Any]:
        """The person pays the trade in my.tradePay; TRADE_SUCCESS goes to its notify_url."""
        answer: dict[str, Any] = await self._post(
            "/control/alipay/pay", appid=appid, out_trade_no=out_trade_no, notify=notify or None
        )
        return answer

    async def alipay_notify(self, appid: str, out_trade_no: str, **delivery: Any) -> dict[str, Any]:
        """Deliver the trade's latest notification again."""
        answer: dict[str, Any] = await self._post(
            "/control/alipay/notify", appid=appid, out_trade_no=out_trade_no, **delivery
        )
        return answer

    # WeChat codes and links

    async def publish_pages(self, appid: str, pages: list[str]) -> None:
        """The app's published pages (the first its home page), for check_path and links."""
        await self._post("/control/wechat/pages", appid=appid, pages=pages)

    async def wechat_codes(self) -> list[dict[str, Any]]:
        """The mini program codes drawn so far: what each carries (scene, page, colour ...)."""
        items: list[dict[str, Any]] = (await self._http.get("/control/wechat/codes")).json()[
            "items"
        ]
        return items

    async def wechat_links(self) -> list[dict[str, Any]]:
        """The URL schemes and links issued so far, with path, query and expire_time."""
        items: list[dict[str, Any]] = (await self._http.get("/control/wechat/links")).json()[
            "items"
        ]
        return items

    # WeChat message push. `delivery` options: times, concurrent, forge, stale, replay; each
    # answer lists the deliveries' {"status", "body", "reply"} (the reply opened).

    async def wechat_push_config(
        self, appid: str, url: str, token: str, **setting: Any
    ) -> dict[str, Any]:
        """Set the app's message server (encoding_aes_key, mode, format, verify); the
        server's GET verification is done first."""
        answer: dict[str, Any] = await self._post(
            "/control/wechat/push/config", appid=appid, url=url, token=token, **setting
        )
        return answer

    async def wechat_push(
        self, appid: str, message: dict[str, Any], person: str | None = None, **delivery: Any
    ) -> dict[str, Any]:
        """Push a message or event (WeChat's fields; ToUserName, FromUserName of `person`,
        CreateTime and MsgId are filled in) to the app's server."""
        answer: dict[str, Any] = await self._post(
            "/control/wechat/push", appid=appid, message=message, person=person, **delivery
        )
        return answer

    async def wechat_push_deliveries(self) -> list[dict[str, Any]]:
        found = (await self._http.get("/control/wechat/push/deliveries")).json()
        items: list[dict[str, Any]] = found["items"]
        return items

    # Content security: text with "sandbox-risky" is risky (WeChat and Douyin), "sandbox-review"
    # to review (WeChat).

    async def content_word(
        self, appid: str, word: str, suggest: str, label: int = 21000, platform: str = "wechat"
    ) -> None:
        """The app's own keyword: text (or a media URL) holding it is `suggest` with `label`
        (Douyin: risky, no label)."""
        await self._post(
            "/control/content/words",
            platform=platform,
            appid=appid,
            word=word,
            suggest=suggest,
            label=label,
        )

    async def media_checks(self) -> list[dict[str, Any]]:
        """The media checks asked for: pending, or finished with their push event."""
        items: list[dict[str, Any]] = (
            await self._http.get("/control/content/media-checks")
        ).json()["items"]
        return items

    async def finish_media_check(self, trace_id: str, **verdict: Any) -> dict[str, Any]:
        """Finish a pending media check (`suggest`, `label` to override what its URL earns);
        the wxa_media_check event WeChat pushes."""
        answer = await self._post(f"/control/content/media-checks/{trace_id}/result", **verdict)
        event: dict[str, Any] = answer["event"]
        return event

    async def outage(self, platform: str, mode: str, count: int = 1, **extra: Any) -> None:
        await self._post("/control/outage", platform=platform, mode=mode, count=count, **extra)

    async def rate_limit(self, platform: str, appid: str, per_minute: int) -> None:
        await self._post(
            "/control/rate-limit", platform=platform, appid=appid, per_minute=per_minute
        )

    async def subscribe(
        self, platform: str, appid: str, person: str, template_id: str, count: int = 1
    ) -> str:
        """The person accepts `count` messages of the template; their openid."""
        answer = await self._post(
            "/control/subscribe",
            platform=platform,
            appid=appid,
            person=person,
            template_id=template_id,
            count=count,
        )
        return str(answer["openid"])

    async def subscribe_messages(self) -> list[dict[str, Any]]:
        """What the platforms delivered, oldest first."""
        items: list[dict[str, Any]] = (await self._http.get("/control/subscribe-messages")).json()[
            "items"
        ]
        return items

    async def calls(self) -> dict[str, dict[str, int]]:
        answer: dict[str, dict[str, int]] = (await self._http.get("/control/calls")).json()
        return answer

    async def reset(self) -> None:
        await self._post("/control/reset")

    async def aclose(self) -> None:
        await self._http.aclose()
