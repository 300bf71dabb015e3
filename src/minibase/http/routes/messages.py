"""Subscribe messages: admins queue them, list them and read their status; users report what
they accepted in requestSubscribeMessage (wx., tt. or my.)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from minibase.errors import ApiError
from minibase.http.auth import require_admin, require_user, services_of
from minibase.http.json import json_response, read_object
from minibase.http.paging import PAGE, declared_only, next_page, page_answer, page_limit
from minibase.http.routing import Routes
from minibase.messaging.subscribe import PLATFORMS, STATES

routes = Routes("messages")

MESSAGE = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "user": {"type": "string"},
        "platform": {"enum": ["wechat", "douyin", "alipay"]},
        "appid": {"type": "string"},
        "template_id": {"type": "string"},
        "state": {"enum": ["queued", "sent", "failed"]},
        "errcode": {"type": ["string", "null"], "description": "the platform's, e.g. 43101"},
        "last_error": {"type": ["string", "null"]},
    },
}
GRANTS = {
    "type": "object",
    "description": "messages the user can still receive, by template id",
    "additionalProperties": {"type": "integer"},
}


@routes.add(
    "POST",
    "/api/messages/subscribe",
    "Queue a subscribe message for a user; a durable job sends it",
    access="admin",
    body={
        "type": "object",
        "required": ["user", "template_id", "data"],
        "properties": {
            "user": {"type": "string", "minLength": 1},
            "platform": {"enum": list(PLATFORMS)},
            "appid": {"type": "string", "description": "needed if the user has several apps"},
            "template_id": {"type": "string", "minLength": 1},
            "page": {"type": "string"},
            "data": {
                "type": "object",
                "description": '{"thing1": "...", "time2": "..."}',
                "minProperties": 1,
                "additionalProperties": {
                    "anyOf": [{"type": "string", "minLength": 1}, {"type": "number"}]
                },
            },
            "miniprogram_state": {"enum": ["developer", "trial", "formal"]},
        },
        "additionalProperties": False,
    },
    responses={202: ("Queued", MESSAGE)},
)
async def queue_message(request: Request) -> Response:
    await require_admin(request)
    services = services_of(request)
    body = await read_object(request, services.settings.max_body_bytes)
    message = await services.messages.queue(body)
    return json_response(message.to_json(), 202)


FILTERS = (
    ("user", "the recipient's user id", {"type": "string"}),
    ("platform", "wechat, douyin or alipay", {"type": "string"}),
    ("appid", "the app sent through", {"type": "string"}),
    ("template_id", "the template", {"type": "string"}),
    ("state", "the messages in this state", {"enum": list(STATES)}),
)
LIST_QUERY = (*FILTERS, *PAGE)


@routes.add(
    "GET",
    "/api/admin/messages",
    "Subscribe messages, newest first, filtered by user, platform, app, template or state",
    access="admin",
    query=LIST_QUERY,
    responses={200: ("Messages", page_answer(MESSAGE, "before"))},
)
async def list_messages(request: Request) -> Response:
    await require_admin(request)
    declared_only(request, LIST_QUERY)
    params = request.query_params
    limit = page_limit(request)
    fetched = await services_of(request).messages.list(
        before=params.get("before"),
        limit=limit + 1,
        **{name: params.get(name) for name, _, _ in FILTERS},
    )
    messages, next_before = next_page(fetched, limit, lambda message: message.id)
    items = [message.to_json() for message in messages]
    return json_response({"items": items, "next_before": next_before})


@routes.add(
    "GET",
    "/api/admin/messages/{id}",
    "A subscribe message and where it is: queued, sent or failed (with the platform's errcode)",
    access="admin",
    responses={200: ("The message", MESSAGE)},
)
async def get_message(request: Request) -> Response:
    await require_admin(request)
    message = await services_of(request).messages.get(request.path_params["id"])
    return json_response(message.to_json())


@routes.add(
    "POST",
    "/api/messages/grants",
    "Report wx.requestSubscribeMessage's answer; the messages the user can still receive",
    access="user",
    body={
        "type": "object",
        "description": '{"TEMPLATE_ID": "accept" | "reject" | "ban" | "filter"}',
        "minProperties": 1,
        "additionalProperties": {"enum": ["accept", "reject", "ban", "filter"]},
    },
    responses={200: ("Grants", GRANTS)},
)
async def report_grants(request: Request) -> Response:
    caller = await require_user(request)
    services = services_of(request)
    if caller.platform not in PLATFORMS or caller.appid is None or caller.id is None:
        raise ApiError(
            "messages.invalid", 400, "subscribe messages need a WeChat, Douyin or Alipay login"
        )
    answers = await read_object(request, services.settings.max_body_bytes)
    return json_response(await services.messages.record_grants(caller.id, caller.appid, answers))


@routes.add(
    "GET",
    "/api/messages/grants",
    "The messages the signed-in user can still receive, by template",
    access="user",
    responses={200: ("Grants", GRANTS)},
)
async def my_grants(request: Request) -> Response:
    caller = await require_user(request)
    if caller.appid is None or caller.id is None:
        return json_response({})
    return json_response(await services_of(request).messages.grants(caller.id, caller.appid))
