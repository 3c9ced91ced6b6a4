"""The tenant side of sending (seed 001): v1/message, v1/balance and root's v2/charge, and
v1/message/estimate, v1/limits, v1/uplink, v1/blocklist and the delivery webhooks' v1/callback
(added beyond the seed). Each
operation's schema (summary, description, examples, every answer) is written for the API's users,
from docs/api-platform.md."""

from __future__ import annotations

import datetime as dt

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from audit.services import Actor
from gm_server_notify.api.auth import is_test_mode
from gm_server_notify.api.errors import PlatformAPIError, PlatformError, platform_body, platform_error_for
from gm_server_notify.api.paging import offset_list
from gm_server_notify.api.schema import (
    CHARGE_TAG,
    MARKETING_TAG,
    MESSAGES_TAG,
    PLATFORM_OK,
    ROOT_WRITE,
    TENANT_KEYED,
    TENANT_READ,
    TENANT_WRITE,
    WEBHOOKS_TAG,
    answers,
    body_example,
    list_answer,
    ok_answer,
    platform_refusal,
    query_example,
    tenant_params_fail,
)
from gm_server_notify.api.views import PlatformAPIView, RootAPIView, TestModeAPIView, parse
from sms.core.idempotency import IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED, idempotent
from sms.tenant_api import selectors
from sms.tenant_api import services as tenant_services
from sms.tenant_api.serializers import (
    BlocklistChange,
    BlocklistChanged,
    BlocklistItem,
    BlocklistList,
    BlocklistQuery,
    CallbackOut,
    CallbackRequest,
    CallbackSetOut,
    ChargeOut,
    ChargeRequest,
    DeliveriesQuery,
    DeliveryItem,
    DeliveryList,
    EstimateOut,
    LimitsOut,
    LimitsRequest,
    MessageAccepted,
    MessageCancelled,
    MessageCancelQuery,
    MessageProgress,
    MessageQuery,
    MessageRequest,
    TenantBalanceOut,
    TenantUplinkItem,
    TenantUplinkList,
    TestUplinkRequest,
    UplinkQuery,
)
from sms.webhooks import services as webhooks

BATCH = "6d8a0520-2e62-4766-aa8a-f99943c221be"
LIST_PAGING = "Paged: `page` (from 1) and `page_size` (1-100, default 20)."
NOT_YOURS = tenant_params_fail(
    f"uuid {BATCH} is not one of your messages", when="a `uuid` that is not one of yours; a bad parameter"
)
SIGN_NOT_YOURS = platform_refusal(PlatformError.SIGN_NOT_OF_USER, "sign_id 7")
INVALID_MOBILE = platform_refusal(
    PlatformError.INVALID_MOBILE, "12345 (wrong length), +449012345678 (premium-rate number)"
)
MESSAGE_BODY_FAIL = tenant_params_fail(
    "mobiles: This field is required.",
    when="a missing or ill-typed field; 0 or over 10,000 mobiles; a `send_at` in the past "
    "or more than `SMS_SEND_AT_MAX_DAYS` ahead; a `validity_seconds` that is not an integer "
    "from 10 to 172800; a `callback_url` refused, or without `v1/callback` set",
    name="mobiles",
)
SEND_AT_FAIL = tenant_params_fail("send_at must be between now and 30 days ahead", name="send_at")
VALIDITY_FAIL = tenant_params_fail(
    "validity_seconds: Ensure this value is greater than or equal to 10.", name="validity_seconds"
)
TEMP_NOT_OF_SIGN = platform_refusal(PlatformError.TEMP_NOT_OF_SIGN, "temp_id 9 is not of sign_id 1")
SIGN_NOT_PASSED = platform_refusal(PlatformError.SIGN_NOT_PASSED, "sign_id 1 is pending")
TEMP_NOT_PASSED = platform_refusal(PlatformError.TEMP_NOT_PASSED, "temp_id 1 is rejected")
PARAMS_NOT_FITTING = platform_refusal(
    PlatformError.TEMPLATE_PARAMS_FAIL,
    "param 1 contains a link",
    when="`params` that do not fill the template or suit its type; a message over 500 characters",
)
SUSPENDED = platform_refusal(PlatformError.SUSPENDED, "unpaid invoices")
NOT_ENABLED = [
    platform_refusal(
        PlatformError.INTERNATIONAL_NOT_ENABLED,
        "+447911123456: numbers outside +86 need international sending; "
        "an operator enables it for your account",
    ),
    platform_refusal(
        PlatformError.MARKETING_NOT_ENABLED,
        "a marketing template (type 3) needs marketing; an operator enables it for your account",
    ),
    platform_refusal(
        PlatformError.SCHEDULING_NOT_ENABLED,
        "send_at needs scheduling; send without it, or an operator enables it for your account",
    ),
]
DAILY_CAP = platform_refusal(
    PlatformError.DAILY_CAP_REACHED, "990 of 1000 parts used today (China time), this send needs 20"
)
MONTHLY_CAP = platform_refusal(
    PlatformError.MONTHLY_CAP_REACHED, "29990 of 30000 parts used this month (China time), this send needs 20"
)
TEST_CEILING = platform_refusal(
    PlatformError.TEST_CEILING_REACHED,
    "9999 of 10000 test-mode messages used today (China time), this request makes 2",
)
ESTIMATE = {
    "numbers": [
        {"mobile": "13112341234", "valid": True, "reason": "", "encoding": "UCS-2", "parts": 1},
        {"mobile": "+447911123456", "valid": True, "reason": "", "encoding": "UCS-2", "parts": 1},
        {
            "mobile": "131-1234-1234",
            "valid": False,
            "reason": "duplicate of an earlier entry (13112341234)",
            "encoding": None,
            "parts": 0,
        },
        {
            "mobile": "12345",
            "valid": False,
            "reason": "'12345' is not a valid mobile number: wrong length",
            "encoding": None,
            "parts": 0,
        },
    ],
    "parts": 2,
    "blocked": 0,
    "cost": "0.1000",
    "refusal": {"error": "ER:0033", "message": "invalidate mobile exist: 12345 (wrong length)"},
}
LIMITS = {
    "daily": {
        "start": "2026-12-05",
        "operator_cap": 1000,
        "own_cap": 500,
        "cap": 500,
        "used": 120,
        "remaining": 380,
        "warning_at": 400,
        "warned": False,
    },
    "monthly": {
        "start": "2026-12-01",
        "operator_cap": None,
        "own_cap": None,
        "cap": None,
        "used": 120,
        "remaining": None,
        "warning_at": None,
        "warned": False,
    },
    "warning_percent": 80,
}


# What POST v1/message's description says of test mode (docs/api-platform.md "Test mode").
TEST_MODE_NOTE = """\
**Test mode**: with the tenant's test password (`manage.py create_api_user NAME --test`) the call \
runs in test mode: checked and answered exactly as live, never sent to a provider (the sandbox \
decides by the magic numbers: 13800000000 delivered, 13800000001 failed `SANDBOX:FAILED`, \
13800000002 left `unknown`, any other delivered), never charged nor counted, and it sees only test \
mode's messages and replies (an id of the other mode is `ER:0004`)."""


class MessageView(PlatformAPIView):
    test_mode_writes = True

    @extend_schema(
        tags=[MESSAGES_TAG],
        summary="短信发送: send one text to up to 10,000 mobiles",
        description="""\
Sends the template `temp_id` of the signature `sign_id`, filled with `params`, to every mobile. The
answer (the batch's `uuid`) comes at once; workers send in provider-sized batches (3000 numbers per
gateway request). The request is checked in this order and refused with nothing written and
nothing reserved: the fields parse, with 1 to 10,000 mobiles (`ER:0004`); the signature is yours
(`ER:0023`) and the template is of it (`ER:0024`); both passed review (`ER:0031`, `ER:0032`); every
mobile is valid (`ER:0033`: mainland mobiles bare or `+86`, other countries with `+CC`); `params`
fill the template exactly and suit its type (`ER:0021`: no line break, link or `【】` in any
parameter; a verify-code template takes only ASCII letters and digits, one of them a 4-to-8
character code); the message, signed and filled, is at most 500 characters (`ER:0021`); the tenant
is not suspended (`ER:0037`); the tenant has the capabilities the request needs, which operators
grant (`ER:0040` a number outside +86 without international sending, `ER:0041` a marketing
template without marketing, `ER:0042` a `send_at` without scheduling); the balance covers every
recipient's segments (`ER:0034`).

- The text is `【signature】` + the filled template (`signature: ` + it outside the mainland).
  Segments: 70 UCS-2 units for one message, 67 per part; outside the mainland GSM-7 septets (160,
  then 153) when the text fits that alphabet. A number listed twice (in any spelling) is sent and
  billed once.
- Billing: the whole send is reserved when accepted; a number that fails before a provider
  accepted it is refunded once; a number the provider accepted is billed whatever its report says.
- A verify-code template (type 1) goes only to mobiles within `SMS_VERIFY_LIMITS`: a mobile over a
  limit is `failed` (`LIMITED: …`), not charged, and the rest is sent.
- Marketing (type 3) skips the numbers on the tenant's blocklist (`failed`, `OPTED_OUT: …`, not
  charged) and is held outside `SMS_MARKETING_HOURS` (default 08:00-21:00 China time).
- A number outside +86 whose calling code an operator has not allowed for the tenant is `failed`
  (`BLOCKED:COUNTRY: …`), not sent and not charged; so is a number in a prefix paused by the
  pumping guard (`PAUSED:PREFIX: …`): more than `SMS_PUMPING_MAX_PER_PREFIX_HOUR` (20) verify codes
  within an hour into one range of 10,000 numbers (a mainland number's first 7 digits) pause that
  prefix for the tenant for `SMS_PUMPING_PAUSE_HOURS` (24) or until an operator lifts it. The rest
  is sent.
- The tenant's daily and monthly caps of parts (`v1/limits`): a send that would pass one is
  refused as a whole (`ER:0038` daily, `ER:0039` monthly), with nothing written or reserved.
  `POST v1/message/estimate` answers what this body would do, without sending.
- `send_at` (optional, Unix seconds, now to `SMS_SEND_AT_MAX_DAYS` days ahead) holds the batch until
  then; `callback_url` (optional) sends this batch's webhook events there instead of the
  `v1/callback` URL, which must be set.
- `validity_seconds` (optional, 10 to 172800): a mobile not handed to a provider within that long
  after the batch may first be sent (now, or its `send_at` or the marketing hours' opening) is
  `failed` with reason `EXPIRED: not handed to a provider within its validity`, refunded, and gets
  its webhook event, instead of arriving late (a provider down, retries backing off). A mobile
  already handed to a provider is never expired: its report decides.
- Safe to retry with an `Idempotency-Key` header (live and test keys never meet).

"""
        + TEST_MODE_NOTE
        + """ No balance is checked nor reserved (no `ER:0034`) and \
verify codes book no limit; test mode has its own ceiling instead: `SMS_TEST_MODE_DAILY_MESSAGES` \
(10,000) numbers and test replies a China-time day, beyond which the whole send is `ER:0045`.""",
        request=MessageRequest,
        parameters=[IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED],
        examples=[
            body_example(
                "verify code to two mobiles",
                {
                    "sign_id": 1,
                    "temp_id": 1,
                    "mobiles": ["13112341234", "13112340004"],
                    "params": ["112095", "5"],
                },
            ),
            body_example(
                "scheduled",
                {
                    "sign_id": 1,
                    "temp_id": 1,
                    "mobiles": ["13112341234"],
                    "params": ["112095", "5"],
                    "send_at": 1796211924,
                },
                description="held until send_at (at most 30 days ahead: a past one is ER:0004)",
            ),
            body_example(
                "verify code valid 5 minutes",
                {
                    "sign_id": 1,
                    "temp_id": 1,
                    "mobiles": ["13112341234"],
                    "params": ["112095", "5"],
                    "validity_seconds": 300,
                },
                description="not handed to a provider within 300 s: failed, EXPIRED, refunded",
            ),
        ],
        responses=answers(
            ok_answer(MessageAccepted, {"uuid": BATCH}, "accepted: follow it with GET v1/message?uuid="),
            *TENANT_WRITE,
            MESSAGE_BODY_FAIL,
            SEND_AT_FAIL,
            VALIDITY_FAIL,
            *TENANT_KEYED,
            SIGN_NOT_YOURS,
            TEMP_NOT_OF_SIGN,
            SIGN_NOT_PASSED,
            TEMP_NOT_PASSED,
            INVALID_MOBILE,
            PARAMS_NOT_FITTING,
            platform_refusal(PlatformError.BALANCE_NOT_ENOUGH, "balance is 1, the send needs 2"),
            SUSPENDED,
            *NOT_ENABLED,
            DAILY_CAP,
            MONTHLY_CAP,
            TEST_CEILING,
        ),
    )
    @idempotent
    def post(self, request: Request) -> Response:
        batch = tenant_services.send_tenant_message(
            owner=request.user, test=is_test_mode(request), **parse(MessageRequest, request.data)
        )
        return Response({"uuid": str(batch.uuid)})

    @extend_schema(
        tags=[MESSAGES_TAG],
        summary="A batch's progress: counts per state and each mobile's state",
        description="""\
Added beyond seed 001 (a client holding a uuid needs it). Answers the batch's counts per state and
a page of its mobiles (`page`, `page_size` up to 10,000, default 1000), each with its `state`:
`queued` (waiting for a worker, or held until its `send_at` or the marketing hours), `sending`
(handed to the provider, waiting for its report), `delivered`, `failed` with the provider's (or
our) `reason` (`EXPIRED: …`: not handed to a provider within its `validity_seconds`), or
`unknown` (no report by the deadline, or the provider's answer to the submit was lost: not
refunded; a late report or a pull still decides it, and after `SMS_UNKNOWN_SETTLE_SECONDS` it
fails). A uuid that is not one of yours is `ER:0004`; in test mode only test batches are yours,
and with the live password only live ones.""",
        parameters=[MessageQuery],
        examples=query_example("a batch", uuid=BATCH),
        responses=answers(
            ok_answer(
                MessageProgress,
                {
                    "uuid": BATCH,
                    "total": 2,
                    "counts": {"queued": 0, "sending": 0, "delivered": 1, "failed": 1, "unknown": 0},
                    "items": [
                        {"mobile": "13112341234", "state": "delivered", "reason": ""},
                        {
                            "mobile": "13112340004",
                            "state": "failed",
                            "reason": "UNDELIV: gateway status UNDELIV",
                        },
                    ],
                    "page": 1,
                    "page_size": 1000,
                },
            ),
            *TENANT_READ,
            NOT_YOURS,
        ),
    )
    def get(self, request: Request) -> Response:
        query = parse(MessageQuery, request.query_params)
        progress = selectors.message_batch_progress(
            owner=request.user,
            batch_uuid=query["uuid"],
            page=query["page"],
            page_size=query["page_size"],
            test=is_test_mode(request),
        )
        if progress is None:
            raise PlatformAPIError(
                PlatformError.PARAMS_FAIL, f"uuid {query['uuid']} is not one of your messages"
            )
        return Response(progress)

    @extend_schema(
        tags=[MESSAGES_TAG],
        summary="Cancel what of a batch has not been handed to a provider (added beyond seed 001)",
        description="""\
Cancels the numbers of the batch not yet handed to a provider (held, or waiting for a worker):
they end `failed` with `CANCELLED: cancelled by the tenant`, are refunded exactly once and get
their webhook events. A number a worker has already claimed is gone: it is sent and billed as
usual. The answer counts the numbers this call cancelled, those an earlier call cancelled, and
those already gone (handed to a provider, or final before). A repeat cancels nothing more; a uuid
that is not one of yours (of this mode: test or live) is `ER:0004`.""",
        parameters=[MessageCancelQuery],
        examples=query_example("a scheduled batch", uuid="e66ec67a-7a48-4d46-ae5c-9736e23e9163"),
        responses=answers(
            ok_answer(
                MessageCancelled,
                {
                    "uuid": "e66ec67a-7a48-4d46-ae5c-9736e23e9163",
                    "cancelled": 2,
                    "already_cancelled": 0,
                    "already_gone": 0,
                },
            ),
            *TENANT_READ,
            NOT_YOURS,
        ),
    )
    def delete(self, request: Request) -> Response:
        query = parse(MessageCancelQuery, request.query_params)
        result = tenant_services.cancel_message(
            owner=request.user, batch_uuid=query["uuid"], test=is_test_mode(request)
        )
        return Response(
            {
                "uuid": str(query["uuid"]),
                "cancelled": result.cancelled,
                "already_cancelled": result.already_cancelled,
                "already_gone": result.already_gone,
            }
        )


class MessageEstimateView(PlatformAPIView):
    # It writes nothing: the test password estimates its test sends (their ceiling, no money).
    test_mode_writes = True

    @extend_schema(
        tags=[MESSAGES_TAG],
        summary="Estimate a send: each number's parts and encoding, the parts, the cost; writes nothing",
        description="""\
Takes the body of `POST v1/message` and answers what that send would do now, without sending,
writing, reserving or booking anything (safe to repeat; an `Idempotency-Key` is not needed and is
ignored). The request is checked as `POST v1/message` checks it, with the same codes (`ER:0004`,
`ER:0023`, `ER:0024`, `ER:0031`, `ER:0032`, `ER:0021`, `ER:0037`, `ER:0040` to `ER:0042`), except
that invalid mobiles do not refuse it:

- `numbers`: one item per entry of `mobiles`, in order. `valid` false: not a mobile number (its
  parse error in `reason`) or a repeat of an earlier entry (`duplicate of an earlier entry (…)`:
  sent once). A valid number that would fail at once, uncharged, has its reason (`OPTED_OUT: …`
  for marketing to an opted-out number, `BLOCKED:COUNTRY: …` outside the country allowlist,
  `PAUSED:PREFIX: …` in a prefix the pumping guard paused, `LIMITED: …` naming the verify-code
  window it is over) and counts in `blocked`. `encoding` (`GSM-7` or `UCS-2`) and `parts` are
  those of the text that number would get (`【signature】` for mainland numbers, `signature: ` for
  the others); null and 0 when it would not be sent.
- `parts`: the parts the send would reserve; `cost`: those parts at your price per part, in yuan
  with 4 decimals (a string).
- `refusal`: null when `POST v1/message` with this body would be accepted now; else the refusal it
  would answer: an invalid mobile (`ER:0033`), the balance (`ER:0034`), the daily or monthly cap
  (`ER:0038`, `ER:0039`). In test mode (the test password) the balance and the caps are not asked
  (test mode is never charged); test mode's daily ceiling is (`ER:0045`).""",
        request=MessageRequest,
        examples=[
            body_example(
                "a verify code to four entries",
                {
                    "sign_id": 1,
                    "temp_id": 1,
                    "mobiles": ["13112341234", "+447911123456", "131-1234-1234", "12345"],
                    "params": ["112095", "5"],
                },
            ),
        ],
        responses=answers(
            ok_answer(EstimateOut, ESTIMATE, "what the send would do; nothing was written"),
            *TENANT_WRITE,
            MESSAGE_BODY_FAIL,
            SEND_AT_FAIL,
            VALIDITY_FAIL,
            SIGN_NOT_YOURS,
            TEMP_NOT_OF_SIGN,
            SIGN_NOT_PASSED,
            TEMP_NOT_PASSED,
            PARAMS_NOT_FITTING,
            SUSPENDED,
            *NOT_ENABLED,
        ),
    )
    def post(self, request: Request) -> Response:
        estimate = tenant_services.estimate_tenant_message(
            owner=request.user, test=is_test_mode(request), **parse(MessageRequest, request.data)
        )
        refusal = estimate.refusal
        return Response(
            {
                "numbers": estimate.numbers,
                "parts": estimate.parts,
                "blocked": estimate.blocked,
                "cost": str(estimate.cost),
                "refusal": None
                if refusal is None
                else platform_body(platform_error_for(refusal), refusal.message),
            }
        )


class LimitsView(PlatformAPIView):
    """Added beyond seed 001: the tenant's daily and monthly caps of parts (docs/api-platform.md)."""

    @extend_schema(
        tags=[MESSAGES_TAG],
        summary="Your daily and monthly caps of parts, what is used and what is left",
        description="""\
Per period (`daily`: the current China-time day; `monthly`: the current China-time month) the
operator's cap (`operator_cap`), your own (`own_cap`, set with `PUT`), the one that holds (`cap`,
the lower; null: no cap), the parts `used` (reserved, net of refunds: a send counts on the day it
is accepted, a scheduled one too), `remaining`, `warning_at` (`warning_percent` of the cap: the
`limit.warning` webhook event goes out once a period when `used` reaches it) and `warned`. A send
beyond a cap is refused whole: `ER:0038` (daily), `ER:0039` (monthly). No parameters.""",
        responses=answers(ok_answer(LimitsOut, LIMITS), *TENANT_READ),
    )
    def get(self, request: Request) -> Response:
        return Response(selectors.tenant_limits(owner=request.user))

    @extend_schema(
        tags=[MESSAGES_TAG],
        summary="Lower your daily and monthly caps (or give them back to the operator's)",
        description="""\
Sets your own caps in parts: `daily` and `monthly`, each a whole number from 0 up to the
operator's cap for that period (above it: `ER:0004` naming it), or `null` for the operator's. Both
keys are required. The lower of yours and the operator's holds; 0 stops every send. Safe to
repeat: the same values change nothing. Each change is written to the operators' audit log.
Answers as `GET v1/limits`.""",
        request=LimitsRequest,
        examples=[body_example("lower the daily cap", {"daily": 500, "monthly": None})],
        responses=answers(
            ok_answer(LimitsOut, LIMITS, "set: the caps as GET v1/limits answers them"),
            *TENANT_WRITE,
            tenant_params_fail(
                "daily: at most the operator's cap, 1000 parts: a tenant may only lower it",
                when="a value above the operator's cap; a missing key; a value that is not a whole number "
                "from 0, or null",
                name="daily",
            ),
        ),
    )
    def put(self, request: Request) -> Response:
        data = parse(LimitsRequest, request.data)
        tenant_services.set_own_caps(
            owner=request.user, daily=data["daily"], monthly=data["monthly"], actor=Actor.v1_api(request)
        )
        return Response(selectors.tenant_limits(owner=request.user))


class TenantBalanceView(PlatformAPIView):
    @extend_schema(
        tags=[MESSAGES_TAG],
        summary="The tenant's SMS balance (added beyond seed 001)",
        description="The messages the tenant has left; root adds to it with `v2/charge`. No parameters.",
        responses=answers(ok_answer(TenantBalanceOut, {"balance": 98}), *TENANT_READ),
    )
    def get(self, request: Request) -> Response:
        return Response({"balance": selectors.tenant_balance(user=request.user)})


class ChargeView(RootAPIView):
    @extend_schema(
        tags=[CHARGE_TAG],
        summary="账户充值: add messages to a user's balance (root only)",
        description="""\
Adds `charge` messages to the balance of the user `user` and answers the new balance (a ledger row
records it). An unknown user or an amount that is not a positive integer is `ER:0004`; a tenant
calling it is `ER:0003`. Safe to retry with an `Idempotency-Key` header: the balance moves once.""",
        request=ChargeRequest,
        parameters=[IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED],
        examples=[body_example("charge dcs", {"user": "dcs", "charge": 100})],
        responses=answers(
            ok_answer(ChargeOut, {"message": "ok", "balance": 100}, "charged: the new balance"),
            *ROOT_WRITE,
            tenant_params_fail(
                "user dcs2 does not exist",
                when="an unknown user, or a charge that is not a positive integer",
                name="user",
            ),
            *TENANT_KEYED,
        ),
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = parse(ChargeRequest, request.data)
        balance = tenant_services.charge_tenant(
            username=data["user"], charge=data["charge"], actor=Actor.v2_api(request)
        )
        return Response({"message": "ok", "balance": balance})


class UplinkView(PlatformAPIView):
    """Added beyond seed 001: the replies to the tenant's messages (docs/api-platform.md)."""

    @extend_schema(
        tags=[MESSAGES_TAG],
        summary="上行短信: replies to the tenant's messages, newest first (added beyond seed 001)",
        description=f"""\
The replies (uplinks) to the tenant's messages, newest first. `since` (optional, Unix seconds) keeps
the replies received at or after it: poll with the last `received_at` you saw. `uuid` is the
`v1/message` batch the reply answers, `sign` the signature the provider says it was sent to (empty
when it does not say), `mobile` the number as the provider gave it. A tenant sees only the replies
matched to its own messages; in test mode only the test replies (`POST v1/test/uplink`), and with
the live password never those. {LIST_PAGING} Bad parameters are `ER:0004`; a tenant whose uplinks
an operator turned off gets `ER:0043` (its replies are still kept, and opt-out replies still
honoured).""",
        parameters=[UplinkQuery],
        examples=query_example("since a time", page=1, page_size=20, since=1795000000),
        responses=answers(
            list_answer(
                TenantUplinkList,
                {
                    "mobile": "13112341234",
                    "text": "1",
                    "sign": "",
                    "received_at": 1795003660,
                    "uuid": BATCH,
                },
            ),
            *TENANT_READ,
            tenant_params_fail(
                "since: Ensure this value is greater than or equal to 946684800.", name="since"
            ),
            platform_refusal(
                PlatformError.UPLINKS_NOT_ENABLED,
                "reading replies needs uplinks; an operator enables it for your account",
            ),
        ),
    )
    def get(self, request: Request) -> Response:
        query = parse(UplinkQuery, request.query_params)
        since = query.get("since")
        return Response(
            offset_list(
                selectors.tenant_uplinks(
                    owner=request.user,
                    since=None if since is None else dt.datetime.fromtimestamp(since, tz=dt.UTC),
                    test=is_test_mode(request),
                ),
                item=TenantUplinkItem,
                query=query,
            )
        )


TEST_UPLINK_EXAMPLE = {"mobile": "13800000000", "content": "TD"}


class TestUplinkView(TestModeAPIView):
    """Test mode's replies (docs/api-platform.md "Test mode")."""

    @extend_schema(
        tags=[MESSAGES_TAG],
        summary="Test mode only: record a reply from a mobile to your latest test message to it",
        description="""\
Only with the tenant's **test password** (the live one is `ER:0044`, 403). Records the reply
`content` from `mobile` as if that number had answered your latest test message to it (one the
sandbox took within `SMS_UPLINK_MATCH_DAYS`): `GET v1/uplink` in test mode lists it, and the answer
is the reply as that list shows it. No test message to that number is `ER:0004`, with nothing
written; an invalid number is `ER:0033`; `content` is 1 to 500 characters (`ER:0004`); a reply
counts toward test mode's daily ceiling (`ER:0045` beyond it, nothing written). An opt-out
reply (`T`, `TD`, `退订` …) is recorded like any reply and blocks nothing: the blocklist is live, and
test mode never changes it.""",
        request=TestUplinkRequest,
        examples=[body_example("an opt-out reply", TEST_UPLINK_EXAMPLE)],
        responses=answers(
            ok_answer(
                TenantUplinkItem,
                {"mobile": "13800000000", "text": "TD", "sign": "", "received_at": 1795003660, "uuid": BATCH},
                "recorded: the reply as GET v1/uplink (test mode) lists it",
            ),
            *TENANT_WRITE,
            platform_refusal(
                PlatformError.TEST_CREDENTIALS_ONLY, "this call takes the tenant's test password"
            ),
            tenant_params_fail(
                "mobile: no test message of yours went to 13800000000 in the last 30 days",
                when="no test message of yours went to `mobile` within `SMS_UPLINK_MATCH_DAYS`; an empty, "
                "blank or over-500-character `content`; a missing field",
                name="mobile",
            ),
            tenant_params_fail("content: This field is required.", name="content"),
            INVALID_MOBILE,
            TEST_CEILING,
        ),
    )
    def post(self, request: Request) -> Response:
        data = parse(TestUplinkRequest, request.data)
        uplink = tenant_services.record_test_uplink(
            owner=request.user, mobile=data["mobile"], content=data["content"]
        )
        return Response(TenantUplinkItem(uplink).data)


HOOK_URL = "https://hooks.example.com/sms"
BAD_URL = tenant_params_fail(
    "10.0.0.5 resolves to a private address (10.0.0.5): callbacks go to public addresses only",
    when="a URL that is not http/https, holds credentials, or whose host resolves to a loopback, private, "
    "link-local, multicast, reserved or unspecified address, or to none",
    name="url",
)


class CallbackView(PlatformAPIView):
    """Added beyond seed 001: where the tenant's delivery webhooks go (docs/api-platform.md)."""

    @extend_schema(
        tags=[WEBHOOKS_TAG],
        summary="The callback URL and the secret's last 4 characters",
        description="The URL the tenant's delivery events are pushed to, and `secret_hint`, the last 4 "
        "characters of its signing secret; both `null` when none is set. No parameters.",
        responses=answers(ok_answer(CallbackOut, {"url": HOOK_URL, "secret_hint": "0a08"}), *TENANT_READ),
    )
    def get(self, request: Request) -> Response:
        return Response(selectors.tenant_callback(owner=request.user))

    @extend_schema(
        tags=[WEBHOOKS_TAG],
        summary="Set the callback URL; the first call (and rotate_secret) answers the secret",
        description="""\
Sets the URL every final state (`delivered`, `failed`) of the tenant's messages is pushed to: a
POST of a JSON array of up to 100 events, signed `X-GM-Signature: t=<unix seconds>,v1=<hex
HMAC-SHA256(secret, "<t>.<raw body>")>`. Answer any 2xx within `WEBHOOK_TIMEOUT` (5 s); anything
else is retried after 10 s, 1 min, 5 min, 30 min and 2 h, then the events are dead. Dedupe on
`event_id` (at least once).

The **first** PUT generates the signing secret (64 hex characters) and answers it; later PUTs
answer `"secret": null` and only `secret_hint`, unless `rotate_secret` is true: then a new secret
replaces the old one and is answered. Keep the secret: it is shown only then. A new URL takes over
the events not yet delivered. URLs: `http` or `https`, at most 500 characters, no credentials, and
a host whose addresses are all public (checked now and before every POST); else `ER:0004`.""",
        request=CallbackRequest,
        examples=[body_example("set the URL", {"url": HOOK_URL})],
        responses=answers(
            ok_answer(
                CallbackSetOut,
                {
                    "url": HOOK_URL,
                    "secret": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                    "secret_hint": "0a08",
                },
                "set: the secret on the first PUT and when rotate_secret is true, else null",
            ),
            *TENANT_WRITE,
            BAD_URL,
        ),
    )
    def put(self, request: Request) -> Response:
        data = parse(CallbackRequest, request.data)
        result = webhooks.set_callback(
            owner=request.user, url=data["url"], rotate_secret=data["rotate_secret"]
        )
        return Response({"url": result.url, "secret": result.secret, "secret_hint": result.secret_hint})

    @extend_schema(
        tags=[WEBHOOKS_TAG],
        summary="Stop the pushes: forget the URL and secret, cancel pending events",
        description="The URL and secret are forgotten and the events not yet delivered are cancelled; "
        "deleting when none is set is ok too. A later PUT is a first PUT again, with a new secret.",
        responses=answers(PLATFORM_OK, *TENANT_READ),
    )
    def delete(self, request: Request) -> Response:
        webhooks.delete_callback(owner=request.user)
        return Response({"message": "ok"})


class CallbackDeliveriesView(PlatformAPIView):
    @extend_schema(
        tags=[WEBHOOKS_TAG],
        summary="The webhook POSTs made, newest first: when, the answer, the error, how many events",
        description=f"""\
The POSTs made to the tenant's callback URLs, newest first. `status` (optional) keeps `delivered`
(2xx), `failed` (its events will be retried) or `dead` (some of its events had no retry left);
`http_status` is `null` when there was no answer, `error` says what went wrong. {LIST_PAGING} A bad
`status`, `page` or `page_size` is `ER:0004`.""",
        parameters=[DeliveriesQuery],
        examples=query_example("failed ones", status="failed", page=1, page_size=20),
        responses=answers(
            list_answer(
                DeliveryList,
                {
                    "id": "93",
                    "attempted_at": 1795441210,
                    "url": HOOK_URL,
                    "status": "failed",
                    "http_status": 500,
                    "error": "HTTP 500",
                    "event_count": 2,
                },
            ),
            *TENANT_READ,
            tenant_params_fail('status: "lost" is not a valid choice.', name="status"),
        ),
    )
    def get(self, request: Request) -> Response:
        query = parse(DeliveriesQuery, request.query_params)
        return Response(
            offset_list(
                selectors.webhook_deliveries(owner=request.user, outcome=query.get("status")),
                item=DeliveryItem,
                query=query,
            )
        )


BLOCKLIST_CHANGE = {"mobiles": ["13112345678"], "sign_id": 1}


class BlocklistView(PlatformAPIView):
    """Added beyond seed 001: the numbers that opted out of the tenant's marketing
    (docs/api-platform.md, "Marketing")."""

    delete_takes_body = True  # DELETE v1/blocklist has a body, as POST: in the schema too

    @extend_schema(
        tags=[MARKETING_TAG],
        summary="The numbers blocked from your marketing, newest first",
        description=f"""\
The tenant's blocklist entries: a number with the signature it opted out of (`sign_id` null: every
signature of the tenant) and its source: `uplink` (an opt-out reply, with its text and time) or
`api` (this API, with the time of the call). `mobile` (optional, any spelling) keeps one number's
entries; a number that is not a mobile is `ER:0033`. {LIST_PAGING}""",
        parameters=[BlocklistQuery],
        examples=query_example("one number", mobile="13112345678"),
        responses=answers(
            list_answer(
                BlocklistList,
                {
                    "mobile": "+8613112345678",
                    "sign_id": "1",
                    "source": "api",
                    "source_text": "",
                    "source_at": 1796208321,
                },
            ),
            *TENANT_READ,
            tenant_params_fail("page: A valid integer is required.", name="page"),
            INVALID_MOBILE,
        ),
    )
    def get(self, request: Request) -> Response:
        query = parse(BlocklistQuery, request.query_params)
        mobile = query.get("mobile")
        return Response(
            offset_list(
                selectors.tenant_blocklist(
                    owner=request.user,
                    mobile_e164=None if mobile is None else tenant_services.blocklist_mobile(mobile),
                ),
                item=BlocklistItem,
                query=query,
            )
        )

    @extend_schema(
        tags=[MARKETING_TAG],
        summary="Block numbers from your marketing (one signature, or all); a repeat changes nothing",
        description="""\
Puts 1 to 10,000 `mobiles` on the tenant's blocklist for `sign_id` (one of your signatures:
`ER:0023` otherwise), or for every signature when it is omitted or `null`. Marketing (type-3
templates) to a blocked number is not sent (`failed`, `OPTED_OUT`, not charged); verify codes and
notices still reach it. Safe to repeat: a number already blocked under that signature is left as
it is, and `added` counts the new entries. An invalid number is `ER:0033` naming it.""",
        request=BlocklistChange,
        examples=[body_example("block one number", BLOCKLIST_CHANGE)],
        responses=answers(
            ok_answer(BlocklistChanged, {"added": 1}, "`added`: the entries that were new"),
            *TENANT_WRITE,
            tenant_params_fail("mobiles: Ensure this field has at least 1 elements.", name="mobiles"),
            SIGN_NOT_YOURS,
            INVALID_MOBILE,
        ),
    )
    def post(self, request: Request) -> Response:
        data = parse(BlocklistChange, request.data)
        added = tenant_services.block_mobiles(
            owner=request.user, mobiles=data["mobiles"], sign_id=data["sign_id"]
        )
        return Response({"added": added})

    @extend_schema(
        tags=[MARKETING_TAG],
        summary="Unblock numbers (the entries of that signature, or those for every signature)",
        description="""\
Removes the entries of `mobiles` under exactly that `sign_id` (omit it to remove the entries for
every signature), whatever their source; `removed` counts them. The body is JSON like `POST`'s.""",
        request=BlocklistChange,
        examples=[body_example("unblock one number", BLOCKLIST_CHANGE)],
        responses=answers(
            ok_answer(BlocklistChanged, {"removed": 1}, "`removed`: the entries removed"),
            *TENANT_WRITE,
            tenant_params_fail("mobiles: Ensure this field has at least 1 elements.", name="mobiles"),
            SIGN_NOT_YOURS,
            INVALID_MOBILE,
        ),
    )
    def delete(self, request: Request) -> Response:
        data = parse(BlocklistChange, request.data)
        removed = tenant_services.unblock_mobiles(
            owner=request.user, mobiles=data["mobiles"], sign_id=data["sign_id"]
        )
        return Response({"removed": removed})
