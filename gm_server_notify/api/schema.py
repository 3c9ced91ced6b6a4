"""OpenAPI pieces shared by both API families: auth schemes, envelopes, the answers operations
share (one copy of each failure's meaning and example body), examples, and the tags and tables
the postprocessing hook ``describe_api`` adds to the schema.

An operation's description is what its ``extend_schema`` says: the views' docstrings are for
developers and never reach the schema (``AutoSchema.get_description``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from typing import Any

from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, inline_serializer
from rest_framework import serializers

from gm_server_notify.api.envelope import UNAVAILABLE_MSG, StationCode, station_body, station_http_status
from gm_server_notify.api.errors import UNAVAILABLE_DETAIL, PlatformError, platform_body


class ServiceTokenScheme(OpenApiAuthenticationExtension):
    target_class = "gm_server_notify.api.auth.ServiceTokenAuthentication"
    name = "ServiceToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer"}


class TenantBasicScheme(OpenApiAuthenticationExtension):
    target_class = "gm_server_notify.api.auth.TenantBasicAuthentication"
    name = "TenantBasic"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "basic"}


# --- Tags: one per group of operations, described by describe_api ------------------------------

STATION_TAG = "sms (station)"
CALLBACKS_TAG = "providers (callbacks)"
SIGNATURES_TAG = "v1 signatures"
TEMPLATES_TAG = "v1 templates"
MESSAGES_TAG = "v1 messages"
WEBHOOKS_TAG = "v1 webhooks"
MARKETING_TAG = "v1 marketing"
REVIEW_TAG = "v2 review"
CHARGE_TAG = "v2 charge"

TAG_DESCRIPTIONS = {
    STATION_TAG: (
        "Seed 000's API for the platform's own services (orders, registration): add a message and "
        "start it, recharge a station, read balances, send and recharge records, statistics and "
        "replies. Bearer service token with a scope per call; every answer is `{code, msg, data}` "
        "(the conventions and the code table are in the API's description)."
    ),
    CALLBACKS_TAG: (
        "Where providers push delivery reports and replies (uplinks); not for clients. Each push "
        "carries its provider's secret (`?token=` or `X-Callback-Token`) and is answered in the "
        "provider's own terms once it is stored; `503` asks the provider to push again."
    ),
    SIGNATURES_TAG: (
        "Seed 001's signatures (签名管理): a tenant registers the names its messages are signed with; "
        "root reviews them (`v2/signreview`) before they can send."
    ),
    TEMPLATES_TAG: (
        "Seed 001's templates (模版管理): the texts a tenant sends, with numbered placeholders "
        "`{1}`, `{2}` …, of type 1 verify code, 2 notice or 3 marketing; root reviews them "
        "(`v2/tempreview`) before they can send, and a passed template is never changed."
    ),
    MESSAGES_TAG: (
        "Seed 001's sending (短信发送): one text to up to 10,000 mobiles with a passed signature and "
        "template, its progress and cancellation, the tenant's balance and the replies to its "
        "messages."
    ),
    WEBHOOKS_TAG: (
        "Added beyond seed 001: every final state of the tenant's messages pushed to its URL as "
        "HMAC-signed JSON batches (`X-GM-Signature`), with the POSTs made listed for inspection."
    ),
    MARKETING_TAG: (
        "Added beyond seed 001: the numbers that opted out of the tenant's marketing (type-3 "
        "templates), by an opt-out reply or through this API."
    ),
    REVIEW_TAG: "Seed 001's review (审核), root only: pass or reject a signature or a template.",
    CHARGE_TAG: "Seed 001's charging (账户充值), root only: add messages to a tenant's balance.",
}

# --- Failures: meanings and example bodies ------------------------------------------------------

# What each station code means (docs/api-station.md, "Error codes").
STATION_CODE_MEANINGS = {
    StationCode.OK: "ok",
    StationCode.INVALID_JSON: "the body is not JSON (or not `application/json`)",
    StationCode.INVALID_PARAMETER: "a parameter is missing or wrong; `msg` names it",
    StationCode.UNAUTHENTICATED: "no, or a wrong, service token (callbacks: callback token)",
    StationCode.NOT_FOUND: "an id names nothing, or the path does not exist",
    StationCode.METHOD_NOT_ALLOWED: "the method is not allowed on this path",
    StationCode.INSUFFICIENT_BALANCE: "the station's balance cannot cover the message",
    StationCode.CONFLICT: (
        "the request contradicts the current state (a receipt booked with other values; a request "
        "whose `Idempotency-Key` is still being processed)"
    ),
    StationCode.THROTTLED: (
        "too many requests: a verify-code limit of the mobile (`SMS_VERIFY_LIMITS`), or the "
        "station's daily cap (`SMS_STATION_DAILY_CAP`)"
    ),
    StationCode.IDEMPOTENCY_KEY_REUSED: "an `Idempotency-Key` presented again with a different request body",
    StationCode.SUSPENDED: (
        "the station's sending is suspended by an operator (`sending suspended: <reason>`)"
    ),
    StationCode.PAYLOAD_TOO_LARGE: "the body is larger than `REQUEST_BODY_MAX_BYTES` (default 1 MiB)",
    StationCode.FORBIDDEN: (
        "the service client lacks the scope the call needs, or is bound to stations and the call "
        "names another station or reads every station"
    ),
    StationCode.SERVICE_UNAVAILABLE: (
        "the service cannot reach its database: the API's calls answer it with a `Retry-After` "
        "header, retry after its seconds; `/sms/callback`: neither the database nor the broker "
        "could store the push, push again"
    ),
    StationCode.SERVER_ERROR: "an unexpected error (logged with its trace; the answer carries no detail)",
}

# When each tenant error is answered (docs/api-platform.md, "Errors").
PLATFORM_ERROR_WHEN = {
    PlatformError.AUTH_NOT_PASS: (
        "no or wrong Basic credentials; a tenant's test password on a call that changes signatures, "
        "templates, the blocklist or the callback (`auth not pass: test credentials only send messages "
        "and read: …`)"
    ),
    PlatformError.NOT_JSON: "a body that is not JSON, or not `application/json`",
    PlatformError.ROOT_ONLY: "a tenant calling `v2/*`, or any test password (test mode is never root)",
    PlatformError.PARAMS_FAIL: (
        "a missing or ill-typed field, or a value the call refuses (the message names it)"
    ),
    PlatformError.METHOD_NOT_ALLOWED: "the method is not allowed on this path",
    PlatformError.NOT_FOUND: "an unknown path under `/v1/` or `/v2/`",
    PlatformError.TOO_MANY_REQUESTS: (
        "the username is locked for your address after `AUTH_FAILURE_LIMIT` failed logins from it; "
        "even right credentials wait until `AUTH_FAILURE_WINDOW_SECONDS` have passed since the last "
        "failure (other tenants, and other addresses, are not affected)"
    ),
    PlatformError.REQUEST_TOO_LARGE: "a body over `REQUEST_BODY_MAX_BYTES` (default 1 MiB)",
    PlatformError.SERVICE_UNAVAILABLE: (
        "the service cannot reach its database: retry after the `Retry-After` header's seconds"
    ),
    PlatformError.SERVER_ERROR: "an unexpected error (logged; the answer carries no detail)",
    PlatformError.EDIT_SIGN_FAIL: "editing a signature that is not yours",
    PlatformError.DELETE_SIGN_FAIL: "deleting a signature that is not yours, or that templates still use",
    PlatformError.SIGN_AUDIT_STATUS_FAIL: "a review decision other than `passed`/`rejected`",
    PlatformError.TEMPLATE_PARAMS_FAIL: (
        "template text that is empty, over 500 characters, holds `【` or `】` or whose placeholders do "
        "not parse; `params` that do not fill the template or suit its type; a message over 500 "
        "characters once signed and filled; a marketing template without an opt-out instruction"
    ),
    PlatformError.TEMPLATE_TYPE_FAIL: "`type` not 1, 2 or 3",
    PlatformError.SIGN_NOT_OF_USER: "a `sign_id` that is not yours",
    PlatformError.TEMP_NOT_OF_SIGN: "a `temp_id` that is not a template of that (your) signature",
    PlatformError.TEMP_STATUS_FAIL: "editing a template that passed review",
    PlatformError.SIGN_NOT_PASSED: "sending with a signature not passed",
    PlatformError.TEMP_NOT_PASSED: "sending with a template not passed",
    PlatformError.INVALID_MOBILE: (
        "a mobile that is not a valid mobile number (the message names up to 20, each with why)"
    ),
    PlatformError.BALANCE_NOT_ENOUGH: "the balance cannot cover every recipient's segments",
    PlatformError.IDEMPOTENCY_KEY_REUSED: "an `Idempotency-Key` presented again with another body",
    PlatformError.REQUEST_IN_PROGRESS: (
        "the first request with that `Idempotency-Key` is still being processed"
    ),
    PlatformError.SUSPENDED: "an operator suspended the tenant's sending (`sending suspended: <reason>`)",
    PlatformError.INTERNATIONAL_NOT_ENABLED: (
        "a `v1/message` with a number outside +86 while an operator has not enabled international "
        "sending for the tenant (the message names up to 20 of them)"
    ),
    PlatformError.MARKETING_NOT_ENABLED: (
        "a `v1/message` with a marketing template (type 3) while marketing is not enabled for the tenant"
    ),
    PlatformError.SCHEDULING_NOT_ENABLED: (
        "a `v1/message` with `send_at` while scheduling is not enabled for the tenant"
    ),
    PlatformError.UPLINKS_NOT_ENABLED: "`GET v1/uplink` while uplinks are not enabled for the tenant",
    PlatformError.TEST_CREDENTIALS_ONLY: (
        "a test-mode call (`POST v1/test/uplink`) made with the live password: it takes the tenant's test "
        "password"
    ),
    PlatformError.DAILY_CAP_REACHED: (
        "the send would take the tenant's parts of the China-time day beyond its daily cap "
        "(`v1/limits`); nothing is written or reserved"
    ),
    PlatformError.MONTHLY_CAP_REACHED: (
        "the send would take the tenant's parts of the China-time month beyond its monthly cap "
        "(`v1/limits`); nothing is written or reserved"
    ),
    PlatformError.TEST_CEILING_REACHED: (
        "test mode only: the message (or test reply) would take the tenant's test-mode messages of the "
        "China-time day beyond `SMS_TEST_MODE_DAILY_MESSAGES`; nothing is written"
    ),
}


class PaginationSerializer(serializers.Serializer):
    page_obj = serializers.CharField(
        allow_null=True,
        help_text="分页对象: pass it back (with the same `reverse`) for the next page; null on the last",
    )
    more = serializers.BooleanField(help_text="false on the last page")


def station_envelope(
    name: str,
    data: serializers.Field | None = None,
    *,
    paged: bool = False,
    extra: dict[str, serializers.Field] | None = None,
) -> serializers.Serializer:
    """The ``{code, msg, data}`` envelope around ``data`` (a field with its help_text) for the
    schema, with ``extra`` keys beside them (``/sms/callback``'s acknowledgement)."""
    fields: dict[str, serializers.Field] = {
        "code": serializers.IntegerField(help_text="状态码: 0 = ok; any other code names the failure"),
        "msg": serializers.CharField(help_text="状态消息: `ok`, or what was wrong"),
        "data": (
            data
            if data is not None
            else serializers.JSONField(allow_null=True, default=None, help_text="响应内容: null")
        ),
    }
    if paged:
        fields["pagination"] = PaginationSerializer(help_text="where the next page starts")
    fields.update(extra or {})
    return inline_serializer(name=name, fields=fields)


STATION_ERROR = station_envelope("StationError")
STATION_OK = station_envelope("StationOk")

PLATFORM_ERROR = inline_serializer(
    name="PlatformError",
    fields={
        "error": serializers.CharField(help_text="错误码: `ER:00xx`"),
        "message": serializers.CharField(
            help_text="错误描述: the seed's message, then `: <detail>` where that helps"
        ),
    },
)


@dataclass(frozen=True)
class Refusal:
    """One way an operation fails, as its schema shows it: the code (``1012``, ``ER:0004``), its
    HTTP status, an example body, and when it happens."""

    label: str
    status: int
    body: dict[str, Any]
    when: str  # this operation's case; empty: the code's meaning says it
    meaning: str
    schema: Any
    name: str = ""


def station_refusal(code: StationCode, msg: str, *, when: str = "", name: str = "") -> Refusal:
    """A station failure answering ``msg``; ``when`` says this operation's case (default: the
    code's meaning)."""
    return Refusal(
        label=str(int(code)),
        status=station_http_status(code),
        body=station_body(code, msg),
        when=when,
        meaning=STATION_CODE_MEANINGS[code],
        schema=STATION_ERROR,
        name=name,
    )


def platform_refusal(error: PlatformError, detail: str = "", *, when: str = "", name: str = "") -> Refusal:
    """A tenant failure with ``detail`` after the seed's message."""
    return Refusal(
        label=error.code,
        status=error.http_status,
        body=platform_body(error, detail),
        when=when,
        meaning=PLATFORM_ERROR_WHEN[error],
        schema=PLATFORM_ERROR,
        name=name,
    )


def answers(ok: OpenApiResponse, *refusals: Refusal) -> dict[int, OpenApiResponse]:
    """An operation's responses: ``ok`` at 200 and the refusals grouped by HTTP status, each status
    described by the codes it carries (each code's cases in this operation, else its meaning) and
    shown by an example of each refusal."""
    by_status: dict[int, list[Refusal]] = defaultdict(list)
    for refusal in refusals:
        by_status[refusal.status].append(refusal)
    responses = {200: ok}
    for status in sorted(by_status):
        group = by_status[status]
        cases: dict[str, list[str]] = {}
        for refusal in group:
            cases.setdefault(refusal.label, [])
            if refusal.when and refusal.when not in cases[refusal.label]:
                cases[refusal.label].append(refusal.when)
        meanings = {refusal.label: refusal.meaning for refusal in group}
        lines = [f"- `{label}`: {'; '.join(whens) or meanings[label]}" for label, whens in cases.items()]
        examples = [OpenApiExample(f"{r.label} {r.name}".strip(), value=r.body) for r in group]
        names = [example.name for example in examples]
        if len(set(names)) != len(names):
            # drf-spectacular would keep only the last of examples named alike.
            raise ValueError(f"name the refusals apart: {names}")
        responses[status] = OpenApiResponse(group[0].schema, description="\n".join(lines), examples=examples)
    return responses


def ok_answer(schema: Any, example: Any, description: str = "ok") -> OpenApiResponse:
    """A 200 answer of ``schema`` with one example."""
    return OpenApiResponse(schema, description=description, examples=[OpenApiExample("ok", value=example)])


def list_answer(schema: Any, *items: Any, description: str = "ok") -> OpenApiResponse:
    """A 200 v1 list (``offset_list``'s ``{items, total, page, page_size}``) of the example
    ``items``: its first page of 20."""
    body = {"items": list(items), "total": len(items), "page": 1, "page_size": 20}
    return ok_answer(schema, body, description)


def station_ok_answer(
    name: str,
    data: serializers.Field,
    example: Any,
    *,
    paged: bool = False,
    description: str = "`code` 0: ok",
) -> OpenApiResponse:
    """A station 200: code 0 around ``data`` (the component ``name``); ``example`` is the data (of
    a paged list's first and last page)."""
    body = station_body(StationCode.OK, "ok", example)
    if paged:
        body["pagination"] = {"page_obj": None, "more": False}
    return ok_answer(station_envelope(name, data, paged=paged), body, description)


def station_null_ok(description: str) -> OpenApiResponse:
    """A station 200 that only confirms: code 0, ``data: null``."""
    return ok_answer(STATION_OK, station_body(StationCode.OK, "ok"), description)


def body_example(name: str, value: Any, description: str = "") -> OpenApiExample:
    """An example request body."""
    return OpenApiExample(name, value=value, request_only=True, description=description)


def query_example(name: str, **values: Any) -> list[OpenApiExample]:
    """An example request of a call without a body: each value shown on its query parameter."""
    return [
        OpenApiExample(name, value=value, parameter_only=(key, OpenApiParameter.QUERY))
        for key, value in values.items()
    ]


# --- Failures every operation of a family shares -------------------------------------------------

BODY_MAX_EXAMPLE = "the body may be at most 1048576 bytes"

STATION_NOT_JSON = station_refusal(
    StationCode.INVALID_JSON,
    "request body is not valid JSON: JSON parse error - Expecting value: line 1 column 1 (char 0)",
)
STATION_NO_TOKEN = station_refusal(
    StationCode.UNAUTHENTICATED,
    "invalid service token",
    when="no `Authorization: Bearer <token>`, or a token of no configured service client",
)
STATION_TOO_LARGE = station_refusal(StationCode.PAYLOAD_TOO_LARGE, BODY_MAX_EXAMPLE)
# nginx answers these (deploy/nginx/gm_errors.conf) before gunicorn sees the request.
LINE_TOO_LONG = "request line too long: the method, path and query may be at most 3998 bytes"
LINE_TOO_LONG_WHEN = "the request line (method, path and query) is over 3998 bytes: nginx refuses it"
STATION_LINE_TOO_LONG = replace(
    station_refusal(StationCode.INVALID_PARAMETER, LINE_TOO_LONG, when=LINE_TOO_LONG_WHEN), status=414
)
STATION_BAD_KEY = station_refusal(
    StationCode.INVALID_PARAMETER,
    "Idempotency-Key: Idempotency-Key must be 1 to 255 printable ASCII characters",
    when="a malformed `Idempotency-Key`",
    name="Idempotency-Key",
)
STATION_KEY_IN_PROGRESS = station_refusal(
    StationCode.CONFLICT,
    "a request with this Idempotency-Key is still being processed",
    when="the first request with this `Idempotency-Key` is still being processed",
    name="Idempotency-Key in progress",
)
STATION_KEY_REUSED = station_refusal(
    StationCode.IDEMPOTENCY_KEY_REUSED, "Idempotency-Key reused with a different request"
)
# Every call, while the database cannot be reached: 503 with Retry-After (describe_api adds the
# header to the responses showing these bodies).
STATION_UNAVAILABLE = station_refusal(StationCode.SERVICE_UNAVAILABLE, UNAVAILABLE_MSG)
STATION_SUSPENDED = station_refusal(StationCode.SUSPENDED, "sending suspended: complaints of spam")


def station_scope_refusal(scope: str) -> Refusal:
    return station_refusal(
        StationCode.FORBIDDEN,
        f"service client 'orders' lacks the {scope!r} scope this call needs",
        when=f"the service client lacks the `{scope}` scope",
    )


# A client bound to stations (``stations`` of SMS_SERVICE_CLIENTS; sms.station_api.binding).
BOUND_WHEN = "the client is bound to stations (`stations` in `SMS_SERVICE_CLIENTS`)"
STATION_OTHER_STATION = station_refusal(
    StationCode.FORBIDDEN,
    "service client 'front-T7442' may not reach station T7443",
    when=BOUND_WHEN + "; the request names another",
    name="other station",
)
STATION_EVERY_STATION = station_refusal(
    StationCode.FORBIDDEN,
    "service client 'front-T7442' is bound to stations; this call reads every station",
    when=BOUND_WHEN + ": this call reads every station and needs an unbound one",
    name="bound client",
)


# A GET: the token and the read scope; the database down.
STATION_READ = (STATION_NO_TOKEN, station_scope_refusal("read"), STATION_LINE_TOO_LONG, STATION_UNAVAILABLE)


def station_post(scope: str) -> tuple[Refusal, ...]:
    """A POST: its JSON body, the token, the scope, the body's size; the database down."""
    return (
        STATION_NOT_JSON,
        STATION_NO_TOKEN,
        station_scope_refusal(scope),
        STATION_TOO_LARGE,
        STATION_LINE_TOO_LONG,
        STATION_UNAVAILABLE,
    )


# A POST taking an Idempotency-Key (sms.core.idempotency).
STATION_KEYED = (STATION_BAD_KEY, STATION_KEY_IN_PROGRESS, STATION_KEY_REUSED)

TENANT_AUTH = platform_refusal(PlatformError.AUTH_NOT_PASS)
TENANT_LOCKED = platform_refusal(
    PlatformError.TOO_MANY_REQUESTS, "too many failed logins for this account from this address"
)
TENANT_NOT_JSON = platform_refusal(PlatformError.NOT_JSON)
TENANT_TOO_LARGE = platform_refusal(PlatformError.REQUEST_TOO_LARGE, BODY_MAX_EXAMPLE)
TENANT_LINE_TOO_LONG = replace(
    platform_refusal(PlatformError.PARAMS_FAIL, LINE_TOO_LONG, when=LINE_TOO_LONG_WHEN), status=414
)
ROOT_ONLY = platform_refusal(PlatformError.ROOT_ONLY)
TENANT_BAD_KEY = platform_refusal(
    PlatformError.PARAMS_FAIL,
    "Idempotency-Key must be 1 to 255 printable ASCII characters",
    when="a malformed `Idempotency-Key`",
    name="Idempotency-Key",
)
TENANT_KEYED = (
    TENANT_BAD_KEY,
    platform_refusal(
        PlatformError.REQUEST_IN_PROGRESS, "a request with this Idempotency-Key is still being processed"
    ),
    platform_refusal(PlatformError.IDEMPOTENCY_KEY_REUSED, "Idempotency-Key reused with a different request"),
)

TENANT_UNAVAILABLE = platform_refusal(PlatformError.SERVICE_UNAVAILABLE, UNAVAILABLE_DETAIL)

# A tenant call without a body, and one with a JSON body; root's calls add ER:0003.
TENANT_READ = (TENANT_AUTH, TENANT_LOCKED, TENANT_LINE_TOO_LONG, TENANT_UNAVAILABLE)
TENANT_WRITE = (
    TENANT_AUTH,
    TENANT_NOT_JSON,
    TENANT_LOCKED,
    TENANT_TOO_LARGE,
    TENANT_LINE_TOO_LONG,
    TENANT_UNAVAILABLE,
)
ROOT_WRITE = (*TENANT_WRITE, ROOT_ONLY)


def tenant_params_fail(detail: str, *, when: str = "", name: str = "") -> Refusal:
    """``ER:0004`` with the detail the call writes."""
    return platform_refusal(PlatformError.PARAMS_FAIL, detail, when=when, name=name)


# v2/signreview and v2/tempreview answer alike.
REVIEW_DESCRIPTION = """\
Root's decision: `audit_status` is `passed` or `rejected` only (`ER:0013` otherwise);
`reject_reason` is kept for `rejected` and cleared for `passed`. Only a passed signature and a
passed template can send. An unknown id is `ER:0004`; a tenant calling it is `ER:0003`."""
BAD_DECISION = platform_refusal(
    PlatformError.SIGN_AUDIT_STATUS_FAIL, "audit_status must be passed or rejected"
)


class OkOut(serializers.Serializer):
    """The answer of a call that only confirms (the seed's 200/ok)."""

    message = serializers.CharField(default="ok", help_text="always `ok` (the seed's 200/ok)")


PLATFORM_OK = ok_answer(OkOut, {"message": "ok"}, "200/ok: done")


# --- The schema's own tweaks ----------------------------------------------------------------------


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's, plus a request body on DELETE for views that take one (``DELETE
    v1/blocklist``: ``delete_takes_body = True``), which drf-spectacular leaves out by default. The
    body is in the schema, so the fuzzer sends it too. An operation's description is its
    ``extend_schema(description=…)`` only: never a docstring (drf-spectacular falls back to the
    view's, or a base class's, which are written for developers)."""

    def get_description(self) -> str:
        return ""

    def _get_request_body(self, direction: str = "request") -> Any:
        if self.method == "DELETE" and getattr(self.view, "delete_takes_body", False):
            self.method = "POST"
            try:
                return super()._get_request_body(direction)
            finally:
                self.method = "DELETE"
        return super()._get_request_body(direction)


STATION_CONVENTIONS = """\
## The station API (`/sms/*`, seed 000)

- **Authentication**: `Authorization: Bearer <token>` of a configured service client \
(`SMS_SERVICE_CLIENTS`: a name, a token and scopes); with none configured the API is closed.
- **Scopes**: `send/add` and `send/start` need `send`; `recharge_record/create` needs `recharge`; \
every `GET` needs `read`. A client without the scope gets `1012` (HTTP 403).
- **Stations**: a client bound to stations (`"stations"` in `SMS_SERVICE_CLIENTS`) reaches only \
those: another `station_id` (query or body), another station's `task_id`, or \
`statistics_overview`/`statistics_detail` (every station) is `1012` (HTTP 403) and nothing is \
done. `combo/get` is the same for every client.
- **Envelope**: every answer is `{"code", "msg", "data"}`; `code` 0 is success, any other code \
names the failure and comes with the HTTP status below. Paged lists add \
`"pagination": {"page_obj", "more"}` beside `data`.
- **Requests**: `POST` bodies are JSON (`Content-Type: application/json`); `GET` parameters are \
query parameters.
- **Paging** (`recharge_record/get`, `send_record/get`, `statistics_detail/get`, `uplink/get`): \
`limit` (default 10, at most 100), `reverse` (`false`: newest first or, for stations, by station \
id; `true`: the opposite order) and `page_obj`: leave it out for the first page, then pass back \
`pagination.page_obj` of the previous answer with the same `reverse`. `more: false` marks the last \
page, whose `page_obj` is `null`.
- **Formats**: money is a string with two decimals (`"20.31"`); unit prices are integer fen; \
dates are `YYYY-MM-DD`, times `YYYY-MM-DD HH:MM:SS`, in Asia/Shanghai.
- **Status** of a message: 0 sending, 1 success, 2 failed.
- **Safe retries**: `send/add` and `recharge_record/create` take an optional `Idempotency-Key`: \
the same key and body answer the first answer again (`Idempotent-Replayed: true`) and change \
nothing.
- **Database unreachable**: every call answers `1098` (HTTP 503) with a `Retry-After` header \
(seconds); retry then. Never a 500 for it.
"""

PLATFORM_CONVENTIONS = """\
## The tenant API (`v1/*`, and root's `v2/*`, seed 001)

- **Authentication**: HTTP Basic against the service's users. Superusers are the seed's `root` \
and alone may call `v2/*`; root may also use `v1/*` as a tenant of its own.
- **Test mode**: a tenant's test password (`manage.py create_api_user NAME --test`) signs the same \
tenant in for test mode: `POST/GET/DELETE v1/message` and `GET v1/uplink` are checked and answered \
as live, but sent only to a sandbox that decides by the number (13800000000 delivered, \
13800000001 failed `SANDBOX:FAILED`, 13800000002 left `unknown`, any other delivered), never \
charged nor counted, and each mode sees only its own messages and replies; webhook events carry \
`"test": true`. `POST v1/test/uplink` records a test reply (test password only: `ER:0044`); other \
writes need the live password (`ER:0001`), and `v2/*` never takes a test password (`ER:0003`).
- **Bodies** are JSON (`Content-Type: application/json`), also for `DELETE`; `GET` parameters \
are query parameters. Paths are exactly the seed's, without a trailing slash.
- **Isolation**: a tenant sees and changes only its own signatures, templates and messages; \
another tenant's ids answer as if they did not exist.
- **Lists** answer `{items, total, page, page_size}`: `page` (from 1) and `page_size` (1-100, \
default 20), newest first. Ids in list items are strings.
- **"200/ok"** answers of the seed are HTTP 200 with `{"message": "ok"}`.
- **Errors** are `{"error": "ER:00xx", "message": "..."}`: the seed's message, then `: <detail>` \
naming what was wrong where that helps.
- **Database unreachable**: every call answers `ER:0098` (HTTP 503) with a `Retry-After` header \
(seconds); retry then. Never a 500 for it.
"""


def _station_code_table() -> str:
    rows = [
        f"| {int(code)} | {200 if code is StationCode.OK else station_http_status(code)} | {meaning} |"
        for code, meaning in STATION_CODE_MEANINGS.items()
    ]
    return "\n".join(["| code | HTTP | meaning |", "| --- | --- | --- |", *rows])


def _platform_error_table() -> str:
    rows = [
        f"| {error.http_status} | {error.code} | {error.message} | {PLATFORM_ERROR_WHEN[error]} |"
        for error in PlatformError
    ]
    return "\n".join(["| HTTP | error | message | when |", "| --- | --- | --- | --- |", *rows])


RETRY_AFTER_HEADER = {
    "description": (
        "seconds to wait before trying again (`DATABASE_RETRY_AFTER_SECONDS`, default 5): about "
        "the time a database restart takes"
    ),
    "schema": {"type": "integer", "minimum": 0},
    "example": 5,
}


def _add_retry_after(result: dict[str, Any]) -> None:
    """``Retry-After`` on each 503 that shows the database-down answer (drf-spectacular's
    ``OpenApiResponse`` takes no headers)."""
    bodies = [STATION_UNAVAILABLE.body, TENANT_UNAVAILABLE.body]
    for path in result.get("paths", {}).values():
        for operation in path.values():
            response = operation.get("responses", {}).get("503") if isinstance(operation, dict) else None
            if not response:
                continue
            examples = [
                example.get("value")
                for content in (response.get("content") or {}).values()
                for example in (content.get("examples") or {}).values()
            ]
            if any(body in examples for body in bodies):
                response.setdefault("headers", {})["Retry-After"] = RETRY_AFTER_HEADER


def describe_api(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]): the
    tags' descriptions (in TAG_DESCRIPTIONS' order, those some operation uses), both families'
    conventions and code tables in the API's description, and ``Retry-After`` on the 503s."""
    _add_retry_after(result)
    used = {
        tag
        for path in result.get("paths", {}).values()
        for operation in path.values()
        if isinstance(operation, dict)
        for tag in operation.get("tags", [])
    }
    # A tag missing from TAG_DESCRIPTIONS is listed last, undescribed (tests refuse that).
    result["tags"] = [
        {"name": name, "description": description}
        for name, description in TAG_DESCRIPTIONS.items()
        if name in used
    ] + [{"name": name} for name in sorted(used - set(TAG_DESCRIPTIONS))]
    info = result.setdefault("info", {})
    info["description"] = "\n\n".join(
        part
        for part in (
            info.get("description", ""),
            STATION_CONVENTIONS + "\n" + _station_code_table(),
            PLATFORM_CONVENTIONS + "\n" + _platform_error_table(),
        )
        if part
    )
    return result
