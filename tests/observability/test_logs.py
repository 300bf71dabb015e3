"""Logs with request ids: every request gets an id (a sane incoming X-Request-Id is kept),
echoed in the X-Request-Id header and in error bodies, and carried by each line logged while
the request is handled — as text, or as one JSON object a line (`log_format = "json"`)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import httpx
import pytest

from minibase.config import ConfigError, load_settings
from minibase.log import MinibaseHandler
from minibase.services import Services
from minibase.testing.plugin import Actor

NOTES = {
    "name": "notes",
    "fields": {"title": {"type": "string"}},
    "rules": {"preset": "public_read_owner_write"},
}


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """What the root logger writes with log_format = "json"."""
    stream = io.StringIO()
    handler = MinibaseHandler("json")
    handler.setStream(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)


def _lines(stream: io.StringIO) -> list[dict[str, str]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


async def test_a_sane_incoming_request_id_is_kept_and_echoed(client: httpx.AsyncClient) -> None:
    answer = await client.get("/api/health", headers={"X-Request-Id": "lb-trace-0042abcd"})
    assert answer.headers["x-request-id"] == "lb-trace-0042abcd"


async def test_every_answer_carries_its_request_id_once(client: httpx.AsyncClient) -> None:
    """A route's answer, an error raised in a route, the router's own 404 and a mounted app's
    page (the console) each carry the request's id, once."""
    answers = [
        await client.get("/api/health"),
        await client.get("/api/collections/notes/records", headers={"Authorization": "Bearer x"}),
        await client.get("/api/no/such/route"),
        await client.get("/_/"),
    ]
    assert [answer.status_code for answer in answers] == [200, 401, 404, 200]
    for answer in answers:
        assert len(answer.headers.get_list("x-request-id")) == 1, answer.headers
    ids = {answer.headers["x-request-id"] for answer in answers}
    assert len(ids) == len(answers)  # one per request


@pytest.mark.parametrize("sent", ["short", "has spaces in it ok", "x" * 65, "new\\nline-header"])
async def test_an_insane_incoming_request_id_is_replaced_by_a_new_one(
    client: httpx.AsyncClient, sent: str
) -> None:
    answer = await client.get("/api/health", headers={"X-Request-Id": sent})
    given = answer.headers["x-request-id"]
    assert given != sent
    assert len(given) == 16
    assert int(given, 16) >= 0
    other = (await client.get("/api/health")).headers["x-request-id"]
    assert other != given  # one per request


async def _notes_then_database_down(
    client: httpx.AsyncClient, admin: Actor, services: Services
) -> None:
    """A collection to read, and a database that no longer answers: reading it logs an error
    and answers 503."""
    created = await client.post("/api/admin/collections", json=NOTES, headers=admin.headers)
    assert created.status_code == 201, created.text
    await services.db.close()


async def test_json_lines_logged_while_handling_a_request_carry_its_id(
    client: httpx.AsyncClient, admin: Actor, services: Services, json_lines: io.StringIO
) -> None:
    await _notes_then_database_down(client, admin, services)
    answer = await client.get(
        "/api/collections/notes/records", headers={"X-Request-Id": "trace-json-0001"}
    )
    assert answer.status_code == 503
    assert answer.json()["request_id"] == "trace-json-0001"
    logged = [line for line in _lines(json_lines) if line["request_id"] == "trace-json-0001"]
    assert logged, json_lines.getvalue()
    error = logged[0]
    assert (error["level"], error["logger"]) == ("error", "minibase.http")
    assert "database unavailable" in error["message"]
    assert set(error) == {"time", "level", "logger", "message", "request_id"}
    assert error["time"].endswith("+00:00")


def test_a_json_line_outside_any_request_has_a_null_request_id(
    json_lines: io.StringIO,
) -> None:
    logging.getLogger("minibase.test").warning("started %s", "ok")
    (line,) = [line for line in _lines(json_lines) if line["logger"] == "minibase.test"]
    assert (line["message"], line["request_id"]) == ("started ok", None)


def test_a_json_line_holds_the_trace_of_an_exception(json_lines: io.StringIO) -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("minibase.test").exception("failed")
    (line,) = [line for line in _lines(json_lines) if line["logger"] == "minibase.test"]
    assert "ValueError: boom" in line["exception"]


async def test_text_lines_carry_the_request_id_too(
    client: httpx.AsyncClient, admin: Actor, services: Services
) -> None:
    stream = io.StringIO()
    handler = MinibaseHandler("text")
    handler.setStream(stream)
    logging.getLogger().addHandler(handler)
    try:
        await _notes_then_database_down(client, admin, services)
        answer = await client.get(
            "/api/collections/notes/records", headers={"X-Request-Id": "trace-text-01"}
        )
        assert answer.status_code == 503
    finally:
        logging.getLogger().removeHandler(handler)
    assert "ERROR minibase.http [trace-text-01] database unavailable" in stream.getvalue()


def test_log_format_is_text_or_json() -> None:
    assert load_settings({"log_format": "json"}, environ={}).log_format == "json"
    with pytest.raises(ConfigError, match="log_format"):
        load_settings({"log_format": "yaml"}, environ={})
