"""Which platform host the sandbox stands in for, and where: each platform's API is served at
its real paths below `/<platform>` (https://api.weixin.qq.com/cgi-bin/token is
`<sandbox>/wechat/cgi-bin/token`), so a client needs only its base URL changed.

A request whose Host header names a platform host (a hosts-file entry, a proxy that keeps the
Host) is served as that platform at the sandbox's root."""

from __future__ import annotations

from urllib.parse import urlsplit

# the production hosts of each platform's server API, and the sandbox folder that serves them
PLATFORM_HOSTS: dict[str, str] = {
    "api.weixin.qq.com": "wechat",
    "api.mch.weixin.qq.com": "wechatpay",
    "api.q.qq.com": "qq",
    "developer.toutiao.com": "douyin",
    "open.douyin.com": "douyin",
    "spapi.baidu.com": "baidu",
    "openapi.baidu.com": "baidu",
    "openapi.alipay.com": "alipay",
    "openapi-sandbox.dl.alipaydev.com": "alipay",
}


def platform_of_host(host_header: str) -> str | None:
    """The platform whose production host a Host header names (any port), else None."""
    host = host_header.rsplit(":", 1)[0] if not host_header.endswith("]") else host_header
    return PLATFORM_HOSTS.get(host.lower())


def in_sandbox(url: str, sandbox_url: str) -> str:
    """A platform URL moved into the sandbox: `https://api.weixin.qq.com/sns/jscode2session?x`
    becomes `<sandbox_url>/wechat/sns/jscode2session?x`. Other URLs come back unchanged."""
    parts = urlsplit(url)
    platform = PLATFORM_HOSTS.get((parts.hostname or "").lower())
    if platform is None:
        return url
    query = f"?{parts.query}" if parts.query else ""
    return f"{sandbox_url.rstrip('/')}/{platform}{parts.path}{query}"
