"""The console's ASGI apps: the files of `static/` at /_/, and the API's documentation page at
/api/docs, with headers that keep them to themselves."""

from __future__ import annotations

from pathlib import Path

from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATIC = Path(__file__).with_name("static")
CONSOLE_PATH = "/_"
DOCS_PATH = "/api/docs"
# Only its own scripts and styles, only its own API; never framed; no inline script at all,
# so a record value that holds HTML cannot run even if it were ever put into the page as HTML.
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:;"
    " connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none';"
    " frame-ancestors 'none'"
)
HEADERS = (
    (b"content-security-policy", POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-cache"),
)


def _guarded(send: Send) -> Send:
    async def with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", []), *HEADERS]
        await send(message)

    return with_headers


def console_app() -> ASGIApp:
    files = StaticFiles(directory=STATIC, html=True)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await files(scope, receive, _guarded(send))

    return app


def docs_app() -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        response: Response = (
            FileResponse(STATIC / "docs.html", media_type="text/html")
            if scope["path"] == "/"
            else PlainTextResponse("not found", 404)
        )
        await response(scope, receive, _guarded(send))

    return app
