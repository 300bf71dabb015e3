"""Logging for the server and the CLI: one format (text or JSON), request ids, secrets kept out.

Every line logged while a request is handled carries its id (`REQUEST_ID`, set by the HTTP
middleware for the request's task and what it starts), the same id the client gets in the
`X-Request-Id` header and in error bodies.

httpx logs every request line at INFO, and platform URLs carry secrets in their query strings
(WeChat's jscode2session takes `secret=` and `js_code=`): its loggers are held at WARNING, and
a filter masks query values if someone turns them up anyway.
"""

from __future__ import annotations

import json
import logging
import re
from contextvars import ContextVar
from datetime import UTC, datetime

_QUERY_VALUE = re.compile(r"([?&][A-Za-z_]+=)[^&\s\"']+")
_QUIET = ("httpx", "httpcore", "hpack")
FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
NO_REQUEST = "-"  # the request id of a line logged outside any request

REQUEST_ID: ContextVar[str | None] = ContextVar("minibase_request_id", default=None)


class RedactQueries(logging.Filter):
    """Every value of a URL query in the message becomes `***`."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _QUERY_VALUE.sub(r"\1***", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


class WithRequestId(logging.Filter):
    """Stamps the record with the id of the request being handled (`-` outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get() or NO_REQUEST
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC), level, logger, message, request_id, and the
    exception's trace when there is one. Nothing else of the record (no `extra` fields): a
    field is logged only when this class names it."""

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None) or REQUEST_ID.get()
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": None if request_id == NO_REQUEST else request_id,
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class MinibaseHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler `configure_logging` puts on the root logger (stderr)."""

    def __init__(self, log_format: str = "text") -> None:
        super().__init__()
        self.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(FORMAT))
        self.addFilter(WithRequestId())


def configure_logging(level: str = "info", log_format: str = "text") -> None:
    """Log to stderr in this format. A root logger with handlers of someone else (a test
    runner, an application embedding minibase) is left as it is; ours is replaced, so the
    server's settings win over the CLI's defaults."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, MinibaseHandler)]:
        root.removeHandler(handler)
    if not root.handlers:
        root.addHandler(MinibaseHandler(log_format))
        root.setLevel(level.upper())
    for name in _QUIET:
        logger = logging.getLogger(name)
        logger.setLevel(logging.WARNING)
        if not any(isinstance(f, RedactQueries) for f in logger.filters):
            logger.addFilter(RedactQueries())
