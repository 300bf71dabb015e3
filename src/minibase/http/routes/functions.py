"""Cloud functions, as a mini program calls them."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from minibase.http.auth import caller_of, services_of
from minibase.http.json import json_response, read_json
from minibase.http.routing import Routes

routes = Routes("functions")


@routes.add(
    "POST",
    "/api/functions/{name}",
    "Call a cloud function with a JSON body; its return value comes back as `result`",
    access="optional",
    body={"description": "the function's input (validated when it declares a schema)"},
    responses={
        200: (
            "The function's result",
            {
                "type": "object",
                "properties": {"result": {"description": "whatever the function returned"}},
            },
        ),
        400: ("Invalid input", None),
        404: ("No such function", None),
        500: ("The function raised (the log has the trace)", None),
        504: ("The function timed out", None),
    },
)
async def call_function(request: Request) -> Response:
    services = services_of(request)
    caller = await caller_of(request)
    body = await read_json(request, services.settings.max_body_bytes, required=False)
    request_id = request.scope.get("state", {}).get("request_id")
    result = await services.functions.call(request.path_params["name"], caller, body, request_id)
    return json_response({"result": result})
