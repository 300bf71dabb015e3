"""Errors are data: one exception type, a stable code, a status, a human message.

Every code the server can answer with is in CATALOGUE (docs/errors.md is generated from it, and
a test checks that every code raised in the source is listed here).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class ApiError(Exception):
    def __init__(
        self,
        code: str,
        status: int,
        message: str,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message
        self.details = dict(details or {})

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body

    def __repr__(self) -> str:
        return f"ApiError({self.code!r}, {self.status}, {self.message!r})"


CATALOGUE: dict[str, str] = {
    # request
    "request.malformed_json": "The body is not valid JSON.",
    "request.invalid_body": "The body is JSON but not of the expected shape.",
    "request.body_too_large": "The body is larger than max_body_bytes.",
    "request.invalid_query": "A query parameter has a value that cannot be used.",
    "request.not_found": "No route at this path.",
    "request.method_not_allowed": "The route exists but not with this method.",
    "request.unsupported_media_type": "The body must be application/json.",
    "server.internal": "An unexpected error; the log has the trace under the request id.",
    "server.unavailable": "A dependency (the database) cannot be reached; retry later.",
    # auth
    "auth.required": "The route needs an access token (Authorization: Bearer ...).",
    "auth.invalid_token": "The token is malformed, forged, or signed with another key.",
    "auth.token_expired": "The access token has expired; refresh it.",
    "auth.forbidden": "The caller may not do this.",
    "auth.admin_required": "The route needs an admin token.",
    "auth.invalid_credentials": "Email or password is wrong.",
    "auth.invalid_refresh_token": "The refresh token is unknown, expired or revoked.",
    "auth.refresh_token_reused": "A rotated refresh token was used again; its family is revoked.",
    "users.not_found": "No user with this id.",
    "users.disabled": "The user is disabled.",
    "admins.exists": "An admin with this email exists.",
    # collections
    "collections.not_found": "No collection with this name.",
    "collections.exists": "A collection with this name exists.",
    "collections.invalid_definition": "The collection definition is invalid; details say where.",
    "collections.invalid_rule": "A rule expression does not parse; details give the position.",
    "collections.incompatible_records": "Existing records do not satisfy the new schema.",
    "collections.referenced": "Another collection references this one.",
    "collections.unique_violation": "Existing records violate a new unique index.",
    # records
    "records.not_found": "No record with this id (or the read rule hides it).",
    "records.invalid": "The record does not satisfy the collection schema; details list fields.",
    "records.invalid_update": "The update document is malformed.",
    "records.invalid_filter": "The filter does not parse; details say where.",
    "records.invalid_sort": "The sort parameter is malformed.",
    "records.invalid_cursor": "The cursor is malformed or belongs to another query.",
    "records.version_conflict": "The record changed since the version the caller sent.",
    "records.unique_violation": "A unique index already holds this value.",
    "records.exists": "A record with this _id exists.",
    "records.reference_not_found": "A reference field points at a record that does not exist.",
    "records.bulk_too_large": "A bulk operation would touch more records than allowed.",
}


def catalogued(code: str) -> bool:
    return code in CATALOGUE
