"""WeChat message push: the URL of an app's "message server" setting (its GET verification and
the POSTed messages), and the recorded messages for admins."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from minibase.http.auth import require_admin, services_of
from minibase.http.json import json_response, read_body
from minibase.http.paging import PAGE, declared_only, next_page, page_answer, page_limit
from minibase.http.routing import Media, Routes

routes = Routes("push")

SIGNED = (
    ("signature", "sha1 of the sorted token, timestamp and nonce", {"type": "string"}),
    ("timestamp", "unix seconds", {"type": "string"}),
    ("nonce", "a random number, once per push", {"type": "string"}),
)
MESSAGE = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "appid": {"type": "string"},
        "msg_type": {"type": "string", "description": "WeChat's MsgType"},
        "event": {"type": ["string", "null"], "description": "WeChat's Event, for events"},
        "from_user": {"type": ["string", "null"], "description": "the sender's openid"},
        "fields": {"type": "object", "description": "every field, decrypted (XML ones as text)"},
        "format": {"enum": ["xml", "json"]},
        "encrypted": {"type": "boolean"},
        "received": {"type": "string"},
    },
}
REFUSED = {
    400: ("Not a push (body, encryption)", None),
    401: ("Not signed with the app's token, stale, or replayed", None),
    403: ("Encrypted for another app", None),
    404: ("No such WeChat app, or its push_token is not set", None),
}


@routes.add(
    "GET",
    "/api/push/wechat/{appid}",
    "WeChat's verification of the message server URL: answers echostr when signed",
    query=(*SIGNED, ("echostr", "what to answer", {"type": "string"})),
    responses={200: ("echostr, as text", Media.text()), **REFUSED},
)
async def verify_push_url(request: Request) -> Response:
    services = services_of(request)
    query = dict(request.query_params)
    echostr = await services.push.verify_url(request.path_params["appid"], query)
    return Response(echostr.encode(), 200, media_type="text/plain")


@routes.add(
    "POST",
    "/api/push/wechat/{appid}",
    "A message or event WeChat pushes (plaintext, compatible or safe mode; XML or JSON)",
    query=(
        *SIGNED,
        ("encrypt_type", "aes when the body carries Encrypt", {"type": "string"}),
        ("msg_signature", "sha1 of the sorted token, timestamp, nonce and Encrypt", {}),
    ),
    responses={
        200: (
            "success, or the reply in the push's format (encrypted when the push was)",
            Media(
                {
                    "text/plain": {"type": "string", "const": "success"},
                    "application/xml": {"type": "string"},
                    "application/json": {"type": "object"},
                }
            ),
        ),
        **REFUSED,
    },
)
async def receive_push(request: Request) -> Response:
    services = services_of(request)
    body = await read_body(request, services.settings.max_body_bytes)
    answer = await services.push.receive(
        request.path_params["appid"], dict(request.query_params), body
    )
    return Response(answer.body, 200, media_type=answer.media_type)


@routes.add(
    "GET",
    "/api/admin/push/wechat/{appid}/messages",
    "The messages and events an app's push delivered, newest first",
    access="admin",
    query=PAGE,
    responses={200: ("Messages", page_answer(MESSAGE, "before"))},
)
async def list_push_messages(request: Request) -> Response:
    await require_admin(request)
    declared_only(request, PAGE)
    limit = page_limit(request)
    fetched = await services_of(request).push.messages(
        request.path_params["appid"],
        before=request.query_params.get("before"),
        limit=limit + 1,
    )
    messages, next_before = next_page(fetched, limit, lambda message: message.id)
    items = [message.to_json() for message in messages]
    return json_response({"items": items, "next_before": next_before})
