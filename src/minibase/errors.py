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


CATALOGUE: dict[str, tuple[int, str]] = {
    # request
    "request.malformed_json": (400, "The body is not valid JSON."),
    "request.integer_out_of_range": (
        400,
        "An integer in the JSON (body or filter) is outside -2^63..2^63-1; details.path says"
        " where. Send larger numbers as strings.",
    ),
    "request.invalid_body": (400, "The body is JSON but not of the expected shape."),
    "request.body_too_large": (413, "The body is larger than max_body_bytes."),
    "request.invalid_query": (
        400,
        "A query parameter is not one the route declares, or has a value that cannot be used"
        " (a `fields` path no record holds: details.field and details.did_you_mean).",
    ),
    "request.not_found": (404, "No route at this path."),
    "request.invalid_method_override": (
        400,
        "X-HTTP-Method-Override names a method other than PATCH, PUT or DELETE.",
    ),
    "request.nul_character": (
        400,
        "A string holds the NUL character (\\u0000), which no engine stores; details.path names"
        " it in a JSON body or filter.",
    ),
    "request.method_not_allowed": (
        405,
        "The route exists but not with this method; the Allow header lists its methods.",
    ),
    "request.rate_limited": (
        429,
        "Too many requests of this route group from this address or user; retry after"
        " Retry-After (see rate-limits.md).",
    ),
    "request.unsupported_media_type": (
        415,
        "A JSON body must be sent with content-type: application/json (or */*+json);"
        " text/plain, form types and a missing content-type are refused (an empty body needs"
        " no type).",
    ),
    # server
    "server.internal": (500, "An unexpected error; the log has the trace under the request id."),
    "server.unavailable": (
        503,
        "A dependency (the database, or Redis with cache_url) cannot be reached; retry later.",
    ),
    "server.shutting_down": (
        503,
        "`/api/ready`: the instance is shutting down; a load balancer sends traffic elsewhere.",
    ),
    "server.migrations_pending": (
        503,
        "`/api/ready`: the database is behind the code (details.schema_version,"
        " details.latest_known); run `minibase migrate`.",
    ),
    # metrics
    "metrics.forbidden": (
        403,
        "`/metrics` without a metrics_token setting answers only clients on this machine"
        " (loopback, not relayed by an unlisted proxy).",
    ),
    "metrics.invalid_token": (
        401,
        "metrics_token is set: send `Authorization: Bearer <metrics_token>`.",
    ),
    # auth
    "auth.required": (401, "The route needs an access token (Authorization: Bearer ...)."),
    "auth.invalid_token": (401, "The token is malformed, forged, or signed with another key."),
    "auth.token_expired": (401, "The access token has expired; refresh it."),
    "auth.forbidden": (403, "The caller may not do this."),
    "auth.user_revoked": (401, "The user was disabled or deleted; their tokens no longer work."),
    "auth.token_revoked": (
        401,
        "The access token was revoked (roles changed, session ended); refresh it. An admin"
        " token after its admin signed out: sign in again.",
    ),
    "auth.token_not_revocable": (
        400,
        "This admin token was issued before admin sign-out existed: it has no session to end"
        " and stays valid until it expires.",
    ),
    "auth.admin_required": (403, "The route needs an admin token."),
    "auth.invalid_credentials": (401, "Email or password is wrong."),
    "auth.invalid_refresh_token": (401, "The refresh token is unknown, expired or revoked."),
    "auth.refresh_token_reused": (
        401,
        "A rotated refresh token was used again; its family is revoked.",
    ),
    "auth.too_many_attempts": (
        429,
        "Too many failed sign-in attempts for this account or address; retry after Retry-After.",
    ),
    "auth.invalid_code": (400, "The platform login code is invalid, used or expired."),
    "auth.invalid_encrypted_data": (400, "Encrypted data or its signature does not check out."),
    "auth.no_session": (400, "No platform session for this user on this app; log in first."),
    # users
    "users.not_found": (
        404,
        "No user with this id. For an account merged into another, details.merged_into names the"
        " account it lives on in (admin routes).",
    ),
    "users.phone_taken": (
        409,
        "The phone number belongs to another account; details offer a merge.",
    ),
    "users.invalid_merge": (400, "The merge token is invalid, expired, or not for this user."),
    "users.disabled": (403, "The user is disabled."),
    # admins
    "admins.exists": (409, "An admin with this email exists."),
    # apps
    "apps.invalid": (400, "The app definition is invalid (platform, appid or credentials)."),
    "apps.not_found": (404, "No app with this platform and appid is registered."),
    "apps.exists": (409, "An app with this platform and appid is registered already."),
    "apps.no_access_token": (409, "This app's platform is called without an access token."),
    # platform
    "platform.rejected_credentials": (502, "The platform refused this app's appid or secret."),
    "platform.rate_limited": (503, "The platform's rate limit was reached; retry later."),
    "platform.unavailable": (503, "The platform timed out or failed; retry later."),
    "platform.bad_response": (502, "The platform answered something unexpected or unsigned."),
    "platform.error": (502, "The platform refused the call; details keep its errcode."),
    # functions and jobs
    "functions.not_found": (404, "No cloud function with this name."),
    "functions.invalid_input": (400, "The input does not match the function's schema."),
    "functions.failed": (500, "The function raised; the log has the trace under the request id."),
    "functions.timeout": (504, "The function ran past its timeout and was stopped."),
    "jobs.not_found": (404, "No job with this id."),
    # payments
    "pay.order_not_found": (404, "No payment order with this id or out_trade_no."),
    "pay.idempotency_conflict": (409, "The idempotency key was used for another purchase."),
    "pay.not_refundable": (409, "The order is not paid (or is fully refunded)."),
    "pay.invalid_refund": (400, "A refund is a whole number of fen above zero."),
    "pay.refund_too_large": (
        400,
        "The refund would pass what was paid; details say how much is left.",
    ),
    "pay.refund_not_found": (404, "No refund with this out_refund_no."),
    "pay.invalid_order": (400, "The order request is invalid; the message says which field."),
    "pay.unsupported_platform": (400, "Paying needs a user signed in through WeChat or Alipay."),
    "pay.no_merchant": (409, "No WeChat Pay merchant takes payments for the caller's app."),
    "pay.no_openid": (409, "The user has no openid for the app they pay in."),
    "pay.price_changed": (409, "The price hook says another amount; details have it."),
    "pay.order_expired": (409, "The order expired unpaid; a new idempotency key makes a new one."),
    "pay.not_configured": (503, "public_url is not set, so providers cannot reach this server."),
    "pay.unknown_provider": (404, "No payment provider with this name (wechatpay, alipay)."),
    "pay.invalid_merchant": (400, "The merchant definition is invalid; the message says why."),
    "pay.merchant_not_found": (404, "No WeChat Pay merchant with this mchid."),
    "pay.merchant_exists": (409, "A merchant with this mchid is registered already."),
    "messages.invalid": (400, "The message or grants are invalid; the message says why."),
    "messages.not_found": (404, "No subscribe message with this id."),
    "messages.no_openid": (409, "The user has not signed in through this app."),
    "qrcodes.invalid": (400, "The code's parameters are invalid; the message says which."),
    "qrcodes.invalid_page": (
        400,
        "The page is not in the published app (41030); publish it or set check_path false.",
    ),
    "qrcodes.not_found": (404, "No QR code with this id."),
    "links.invalid": (400, "The link's target or expiry is invalid; the message says which."),
    "links.invalid_path": (400, "The path is not a page of the published app (40165)."),
    # message push
    "push.not_configured": (404, "The WeChat app has no push_token: message push is off."),
    "push.invalid_signature": (401, "The signature or msg_signature is not the app's token's."),
    "push.wrong_app": (403, "The push was encrypted for another app."),
    "push.invalid_message": (400, "The push's body or encryption cannot be read."),
    "push.not_encrypted": (400, "A plaintext push to an app that takes encrypted ones only."),
    "push.stale": (401, "The push's timestamp is outside push_window: stale or replayed."),
    "push.replayed": (401, "The push's nonce was seen inside push_window: a replay."),
    "content.invalid": (400, "The content check request is invalid; the message says why."),
    "content.risky": (
        422,
        "A content-checked field holds risky text; details name the field and the label.",
    ),
    "content.unchecked": (
        422,
        "The text or media cannot be checked: the user is not signed in through WeChat or Douyin"
        " (or Douyin has no check for it), or WeChat refuses the openid.",
    ),
    "content.unavailable": (503, "The platform could not check the content now; retry later."),
    "content.not_found": (404, "No media check with this trace_id."),
    "content.invalid_event": (400, "A media check result event is malformed or of another app."),
    "jobs.invalid_state": (409, "The job cannot be retried or cancelled in its state."),
    # collections
    "collections.not_found": (404, "No collection with this name."),
    "collections.exists": (409, "A collection with this name exists."),
    "collections.invalid_definition": (
        400,
        "The collection definition is invalid; details say where.",
    ),
    "collections.invalid_rule": (
        400,
        "A rule expression does not parse, or reads a record field the collection's schema rules"
        " out; details.rule give the action and position (and the field, and the closest"
        " declared one).",
    ),
    "collections.incompatible_records": (409, "Existing records do not satisfy the new schema."),
    "collections.referenced": (409, "Another collection references this one."),
    "collections.unique_violation": (409, "Existing records violate a new unique index."),
    # records
    "records.not_found": (404, "No record with this id (or the read rule hides it)."),
    "records.invalid": (
        400,
        "The record does not satisfy the collection schema; details list fields.",
    ),
    "records.invalid_update": (400, "The update document is malformed."),
    "records.invalid_filter": (
        400,
        "The filter does not parse (details say where), or its $regex work took longer than"
        " `regex_budget` on the data (details give `budget_ms`).",
    ),
    "records.invalid_sort": (400, "The sort parameter is malformed."),
    "records.invalid_cursor": (400, "The cursor is malformed or belongs to another query."),
    "records.invalid_expand": (
        400,
        "An expand path cannot be followed: more than 10 paths or 6 steps, or a step that is"
        " neither a reference field nor a back-relation (<collection>_via_<field>); details"
        " name the path, the step and the closest valid name (did_you_mean).",
    ),
    "records.expand_too_large": (
        400,
        "The expand would bring more records than an answer may hold (setting"
        " expand_max_records): list fewer records a page, or expand less.",
    ),
    "records.version_conflict": (409, "The record changed since the version the caller sent."),
    "records.unique_violation": (409, "A unique index already holds this value."),
    "records.exists": (409, "A record with this _id exists."),
    "records.reference_not_found": (
        400,
        "A reference field points at a record that does not exist.",
    ),
    "records.file_not_found": (
        400,
        "A file field names a file id that is not an upload of this collection's field by the"
        " caller (or one the record holds already).",
    ),
    "records.bulk_too_large": (400, "A bulk operation would touch more records than allowed."),
    "records.limit_exceeded": (
        400,
        "The record passes a shape limit: a field name too long, too many fields in one object"
        " or in all; details name the limit (a setting), its max and the path.",
    ),
    # aggregations
    "aggregate.invalid_pipeline": (
        400,
        "The aggregation pipeline cannot run: an unknown stage or operator, a path no record"
        " holds, a value out of bounds; details.at names the place (pipeline.2.$group.total).",
    ),
    "aggregate.too_slow": (
        400,
        "The aggregation ran past its time budget (setting aggregate_budget) and was stopped.",
    ),
    "aggregate.too_large": (
        400,
        "The aggregation makes more documents or bytes than an answer may hold (settings"
        " aggregate_max_results, aggregate_max_bytes): end it with $limit or $project less.",
    ),
    "aggregate.out_of_range": (400, "A $sum went past the 64-bit integer range."),
    # files
    "realtime.bad_frame": (
        400,
        "A realtime frame is not JSON, not an object, of an unknown type, or has fields its"
        " type does not take (sent as an error frame; the socket stays open).",
    ),
    "realtime.duplicate_id": (409, "A subscription of that id is already on this socket."),
    "realtime.unknown_id": (404, "No subscription of that id is on this socket."),
    "realtime.too_many": (429, "A socket carries at most 50 subscriptions."),
    "realtime.other_user": (
        409,
        "An auth frame named another account than the socket's: open another socket for it.",
    ),
    "realtime.upgrade_required": (
        426,
        "/api/realtime is a WebSocket: connect with wx.connectSocket (or new WebSocket).",
    ),
    "files.invalid_upload": (
        400,
        "The upload is not multipart/form-data as mini programs send it (no boundary, cut off,"
        " no file part or two of them, a header or text field past its limit); the message"
        " says which.",
    ),
    "files.too_large": (
        413,
        "The file passes the field's max size; it was refused while streaming (details.max).",
    ),
    "files.type_not_allowed": (
        415,
        "The file's content (its magic bytes, not the name or the client's content type) is not"
        " a type the field allows; details give found and allowed.",
    ),
    "files.invalid_expiry": (400, "A temporary link must last 1 second to the configured max."),
    "files.invalid_link": (
        403,
        "The download link is not one this server signed for this file (changed or unsigned).",
    ),
    "files.link_expired": (403, "The temporary download link has expired; ask for a new one."),
    "files.invalid_thumb": (
        400,
        "The thumb size is not one the field lists (WxH), or fit is not cover or contain.",
    ),
    "files.invalid_image": (
        422,
        "The file cannot be made into a thumbnail: not a readable image, or too many pixels.",
    ),
    "files.not_found": (
        404,
        "No such file, or the caller may not see it (the read rule of the record holding it).",
    ),
    "files.not_configured": (
        503,
        "public_url is not set, so the platform cannot download the images it is to check.",
    ),
    "files.unknown_field": (404, "The collection has no file field of this name."),
    "files.reviewing": (
        403,
        "The platform's media check of this image has not answered yet: it is hidden until then.",
    ),
    "files.flagged": (403, "The platform's media check flagged this image: it is hidden."),
    "files.direct_unavailable": (
        404,
        "Direct uploads need S3 storage (s3_bucket); upload through the server instead.",
    ),
    "files.not_uploaded": (
        409,
        "A direct upload was completed before its object arrived in the bucket, or it does not"
        " match what was announced.",
    ),
    "files.invalid_key": (
        400,
        "A file key is not one the server makes: segments of letters, digits, '-', '_' and '.'"
        " (not starting with a dot) joined by '/', at most 1024 bytes.",
    ),
    "files.range_not_satisfiable": (
        416,
        "The requested range starts past the end of the file; details.size gives its size.",
    ),
    "files.unavailable": (
        503,
        "The file storage (the data directory's disk or the S3 service) failed or cannot be"
        " reached; retry later.",
    ),
}


def catalogued(code: str) -> bool:
    return code in CATALOGUE


def render_markdown() -> str:
    """docs/errors.md, made from the catalogue (a test keeps the file equal to this)."""
    lines = [
        "# Error codes",
        "",
        "Every error is a JSON body with a stable `code`, a human `message`, optional `details`",
        "and the `request_id` (also in the `X-Request-Id` header). Codes never change meaning;",
        "new ones are added. A client branches on `code`, never on `message`. A platform's own",
        "error code is kept in `details.errcode`.",
        "",
        "```json",
        '{"code": "records.version_conflict", "message": "the record is at version 4, not 3",',
        ' "details": {"current_version": 4}, "request_id": "5da824405e32b1ea"}',
        "```",
    ]
    group = None
    for code, (status, meaning) in CATALOGUE.items():
        if code.split(".")[0] != group:
            group = code.split(".")[0]
            lines += ["", f"## {group}", "", "| code | status | meaning |", "|---|---|---|"]
        lines.append(f"| `{code}` | {status} | {meaning} |")
    lines += [
        "",
        "Validation problems (`records.invalid`) list each field in `details.problems` as",
        '`{"field": "meta.size", "code": "min", "message": "..."}`, with a field `code` of',
        "`required`, `type`, `min`, `max`, `pattern`, `enum`, `format`, `unknown_field`,",
        "`reserved`, `unique` or `depth`.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(render_markdown(), end="")
