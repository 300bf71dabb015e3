"""WeChat Pay's refusals and request-field checks, as the sandbox's gateway answers them:
`{"code", "message"}` with the real HTTP status; a bad field is a PARAM_ERROR naming it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Reply:
    status: int
    payload: dict[str, Any] | None = None  # None: an empty body (204)


class WeChatPayError(Exception):
    """A refusal, answered as WeChat Pay does: `{"code", "message"}` with its HTTP status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.reply = Reply(status, {"code": code, "message": message})


def param_error(where: str, issue: str) -> WeChatPayError:
    return WeChatPayError(400, "PARAM_ERROR", f"输入源“{where}”校验失败: {issue}")


class Fields:
    """A JSON object's fields, each checked; a bad one is a PARAM_ERROR that names it."""

    def __init__(self, values: Mapping[str, Any], where: str) -> None:
        self._values = values
        self._where = where

    def _bad(self, name: str, issue: str) -> WeChatPayError:
        return param_error(f"{self._where}/{name}", issue)

    def optional_text(self, name: str, max_length: int) -> str | None:
        value = self._values.get(name)
        if value is None:
            return None
        if not isinstance(value, str) or not value:
            raise self._bad(name, "应为非空字符串")
        if len(value) > max_length:
            raise self._bad(name, f"长度不能超过{max_length}")
        return value

    def text(self, name: str, max_length: int) -> str:
        value = self.optional_text(name, max_length)
        if value is None:
            raise self._bad(name, "此字段为必填项")
        return value

    def matching(self, name: str, pattern: re.Pattern[str]) -> str:
        value = self.text(name, 64)
        if not pattern.fullmatch(value):
            raise self._bad(name, "格式不正确")
        return value

    def optional_url(self, name: str) -> str | None:
        value = self.optional_text(name, 256)
        if value is not None and not value.startswith(("https://", "http://")):
            raise self._bad(name, "应为http(s)地址")
        return value

    def url(self, name: str) -> str:
        value = self.optional_url(name)
        if value is None:
            raise self._bad(name, "此字段为必填项")
        return value

    def time(self, name: str) -> datetime | None:
        value = self.optional_text(name, 64)
        if value is None:
            return None
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise self._bad(name, "应为RFC 3339时间, 如2026-01-01T10:00:00+08:00") from None
        if moment.tzinfo is None:
            raise self._bad(name, "时间应带时区")
        return moment

    def positive_integer(self, name: str) -> int:
        value = self._values.get(name)
        if value is None:
            raise self._bad(name, "此字段为必填项")
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise self._bad(name, "应为正整数, 单位为分")
        return value

    def currency(self, *, required: bool) -> None:
        value = self.text("currency", 16) if required else self.optional_text("currency", 16)
        if value not in (None, "CNY"):
            raise self._bad("currency", "境内商户仅支持CNY")

    def object(self, name: str) -> Fields:
        value = self._values.get(name)
        if not isinstance(value, dict):
            raise self._bad(name, "此字段为必填对象")
        return Fields(value, f"{self._where}/{name}")
