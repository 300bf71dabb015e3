"""QQ mini program server calls: WeChat's protocol on api.q.qq.com.

code2Session is GET sns/jscode2session with WeChat's parameters and errcodes; the access token
is GET api/getToken (grant_type=client_credential).
"""

from __future__ import annotations

from minibase.platforms.models import AccessToken, LoginSession
from minibase.platforms.transport import Call
from minibase.platforms.wechat import calls as wechat_calls


def code2session(base_url: str, appid: str, secret: str, code: str) -> Call[LoginSession]:
    return wechat_calls.code2session(base_url, appid, secret, code, platform="qq")


def get_access_token(base_url: str, appid: str, secret: str) -> Call[AccessToken]:
    return Call(
        platform="qq",
        method="GET",
        url=f"{base_url.rstrip('/')}/api/getToken",
        params={"grant_type": "client_credential", "appid": appid, "secret": secret},
        parse=lambda response: wechat_calls.parse_access_token(response, "qq"),
    )
