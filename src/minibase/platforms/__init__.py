"""minibase.platforms: a standalone SDK for the mini program platforms' server APIs.

It imports nothing else from minibase, so Django, Flask, FastAPI or a script can use it. Each
platform package (wechat, alipay, douyin, baidu, qq) has a sync and an async client built on the
same sans-IO calls, plus the platform's crypto helpers.

    from minibase.platforms import AppCredentials, sync_client

    client = sync_client(AppCredentials("wechat", "wx123", secret="..."))
    session = client.code2session(code)  # LoginSession(openid=..., unionid=...)
"""

from minibase.platforms.errors import KINDS, ErrorKind, PlatformError
from minibase.platforms.login import AsyncLoginClient, SyncLoginClient, async_client, sync_client
from minibase.platforms.models import (
    CONTENT_LABELS,
    CONTENT_SCENES,
    PLATFORMS,
    AccessToken,
    AppCredentials,
    ContentVerdict,
    LoginSession,
    PhoneNumber,
)

__all__ = [
    "CONTENT_LABELS",
    "CONTENT_SCENES",
    "KINDS",
    "PLATFORMS",
    "AccessToken",
    "AppCredentials",
    "AsyncLoginClient",
    "ContentVerdict",
    "ErrorKind",
    "LoginSession",
    "PhoneNumber",
    "PlatformError",
    "SyncLoginClient",
    "async_client",
    "sync_client",
]
