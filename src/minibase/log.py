"""Logging for the server and the CLI: one format, and secrets kept out.

httpx logs every request line at INFO, and platform URLs carry secrets in their query strings
(WeChat's jscode2session takes `secret=` and `js_code=`): its loggers are held at WARNING, and
a filter masks query values if someone turns them up anyway.
"""

from __future__ import annotations

import logging
import re

_QUERY_VALUE = re.compile(r"([?&][A-Za-z_]+=)[^&\s\"']+")
_QUIET = ("httpx", "httpcore", "hpack")
FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class RedactQueries(logging.Filter):
    """Every value of a URL query in the message becomes `***`."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _QUERY_VALUE.sub(r"\1***", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def configure_logging(level: str = "info") -> None:
    logging.basicConfig(level=level.upper(), format=FORMAT)
    for name in _QUIET:
        logger = logging.getLogger(name)
        logger.setLevel(logging.WARNING)
        if not any(isinstance(f, RedactQueries) for f in logger.filters):
            logger.addFilter(RedactQueries())
