"""The one interface every SMS provider adapter implements, and its normalised results.

Adapters are thin. ``ProviderAdapter.send`` is a template method: the base checks the batch and
runs the provider's steps: ``build_send_request`` → ``post`` (the shared HTTP session: timeouts,
no retries; retrying is the pipeline's job) → ``parse_send_answer``. A provider whose transport
is not one form POST (Tencent's SDK, sjroom's one submit per channel) overrides ``send_batch``.
A transport fault, timeout or 5xx raises ``ProviderUnavailable``; the provider's own refusal of a
number is a failed ``SendOutcome``, never an exception. Every provider exception is a
``ProviderError``.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

import requests
from django.conf import settings

from providers.numbers import WrittenNumber, phone_key, written_number


class ProviderError(Exception):
    """Root of the provider exceptions."""


class ProviderUnavailable(ProviderError):
    """The provider could not be reached or answered with a server error: retry later."""


class ProviderOutcomeUncertain(ProviderUnavailable):
    """The request left but no answer came in time (a read timeout): the provider may have taken
    it. A provider that does not drop a repeated request id must not be sent it again (the
    pipeline marks the records ``unknown`` for a late report or a pull to decide)."""


class ProviderRequestRejected(ProviderError):
    """The provider refused the whole request (bad credentials, malformed call): do not retry blindly."""

    def __init__(self, message: str, *, code: str = "") -> None:
        super().__init__(message)
        self.code = code


class CallbackParseError(ProviderError, ValueError):
    """A callback body that is not what the provider sends."""


class OutcomeStatus(enum.StrEnum):
    ACCEPTED = "accepted"
    FAILED = "failed"


class ReportStatus(enum.StrEnum):
    DELIVERED = "delivered"
    FAILED = "failed"


class Region(enum.StrEnum):
    """Where a number is, as routing sees it: each region has its own providers and failover chain."""

    MAINLAND = "mainland"  # +86
    INTERNATIONAL = "international"  # every other country code


@dataclass(frozen=True)
class OutgoingMessage:
    """One recipient of a batch, as the pipeline hands it to an adapter."""

    record_id: int
    phone_e164: str
    content: str
    # For template providers (Tencent, fw199): the template id and its parameters.
    template_id: str = ""
    template_params: Sequence[str] = ()
    sign_name: str = ""
    # For a Douyin shop's order messages (fw199, seed 003): the Douyin order id the message is
    # addressed by (``biz_type`` 1), or else the Douyin phone ciphertext (``biz_type`` 0), and the
    # template's named variables (``{"name": "顺丰", "number": "sf3813741222"}``).
    order_id: str = ""
    phone_ciphertext: str = ""
    template_vars: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DouyinTemplate:
    """The provider-side template a Douyin order message of one station business type is sent
    with: its id, and where each of its named variables is filled from (variable name → the
    ``sms_content`` field of the station request)."""

    template_id: str
    params: Mapping[str, str]


@dataclass(frozen=True)
class RegisteredTemplate:
    """A template registered (and approved) with a provider: the text it sends, and bills, under
    the template's id whatever text we hand it."""

    template_id: str
    text: str  # as registered, its parameters in the provider's own syntax (Tencent's ``{1}``)
    comparable: str  # the same text with each parameter written ``{}``, whatever the provider's syntax


@dataclass(frozen=True)
class SendOutcome:
    """What the provider said about one message of a send request."""

    record_id: int
    status: OutcomeStatus
    provider_message_id: str = ""
    code: str = ""
    description: str = ""
    # The parts the provider says it billed for this message (Tencent's Fee), None when it does
    # not say.
    billed_parts: int | None = None

    @property
    def accepted(self) -> bool:
        return self.status is OutcomeStatus.ACCEPTED


@dataclass(frozen=True)
class DeliveryReport:
    """A provider's final word on one message: delivered or failed, with its own code kept."""

    provider: str
    status: ReportStatus
    provider_message_id: str = ""
    record_id: int | None = None
    # Our request id the report names, where it names no message id of ours: the gateway's pulled
    # reports carry the taskId (our dispatch id) and a masked number (``135****9831``).
    dispatch_id: str = ""
    phone: str = ""
    code: str = ""
    description: str = ""
    occurred_at: datetime | None = None

    @property
    def number(self) -> WrittenNumber:
        """The number the report names, as the provider wrote it (``providers.numbers``)."""
        return written_number(self.phone)

    @property
    def names_dispatch(self) -> bool:
        """Names our request and a (masked) number instead of a message id: it is about the one
        record of that request whose number it ``fits``."""
        return bool(self.dispatch_id) and not self.provider_message_id

    def fits(self, phone_e164: str) -> bool:
        """Whether the number the report names can be a record's ``phone_e164`` (the same digits,
        or a mask whose visible digits agree; a report naming no number fits any)."""
        return self.number.fits(phone_e164)


@dataclass(frozen=True)
class DispatchMessageIds:
    """The form of a provider's message ids that are made of our request id and the number, not
    issued by the provider: ``<dispatch id><separator><the number as sent>`` (the gateway's
    ``"<taskId>:<mobile>"``, the mobile as ``providers.numbers.mainland_digits`` writes it). The
    pipeline derives such ids from a record's columns in SQL instead of writing them row by row."""

    separator: str

    def message_id(self, dispatch_id: str, number: str) -> str:
        return f"{dispatch_id}{self.separator}{number}"


@dataclass(frozen=True)
class InboundMessage:
    """An uplink (reply) SMS from a recipient."""

    provider: str
    phone: str
    text: str
    received_at: datetime | None = None
    sign: str = ""
    extend: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)
    # The provider's own id of the uplink, where it gives one (neither Tencent nor the gateway does).
    provider_uplink_id: str = ""

    @property
    def number(self) -> WrittenNumber:
        """The number the uplink came from, as the provider wrote it (``providers.numbers``)."""
        return written_number(self.phone)

    @property
    def natural_key(self) -> str:
        """What makes this uplink the same one when it comes again (a repeated push, a pull of
        what was pushed): the provider's id where it has one, else the number (masked or not,
        ``phone_key``), the time it was received (whole seconds) and the text. SHA-256, hex."""
        if self.provider_uplink_id:
            parts = [self.provider, "id", self.provider_uplink_id]
        else:
            when = "" if self.received_at is None else str(int(self.received_at.timestamp()))
            parts = [self.provider, phone_key(self.phone), when, self.text]
        return hashlib.sha256("\n".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class ProviderBalance:
    """The provider account's remaining messages (or money, where it counts that)."""

    provider: str
    remaining: int
    unit: str = "messages"
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)


_session: requests.Session | None = None


def http_session() -> requests.Session:
    """The one HTTP session adapters share (connection reuse; no automatic retries)."""
    global _session
    if _session is None:
        session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=8, pool_maxsize=32, max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        _session = session
    return _session


class ProviderAdapter:
    """Base of every adapter. Subclasses set ``name`` and implement what their provider offers."""

    name: ClassVar[str]
    # The regions whose numbers the provider may be handed. Routing never gives a provider a
    # number outside them, whatever the settings say, and `manage.py check` refuses settings that
    # would. Empty (the base's default) serves nothing: every adapter declares its own.
    regions: ClassVar[frozenset[Region]] = frozenset()
    # A provider with no delivery receipts (fw199): acceptance is the last word we will get,
    # so an accepted record is final (shown as success) at once.
    final_on_accept: ClassVar[bool] = False
    # Sends only templates registered with the provider (no free text): tenant messages never
    # fail over to it.
    requires_template: ClassVar[bool] = False
    # Can address a Douyin shop's order messages by Douyin order id or Douyin phone ciphertext
    # (fw199): only such a provider is handed them, and they never fail over to another kind.
    addresses_douyin: ClassVar[bool] = False
    # Has an API to pull delivery reports (``pull_reports``): records left ``unknown`` are
    # reconciled through it on a schedule.
    pulls_reports: ClassVar[bool] = False
    # Makes its message ids of our dispatch id and the number (the gateway): their form, so the
    # pipeline can derive them; None where the provider issues its own (Tencent's serial numbers).
    message_ids: ClassVar[DispatchMessageIds | None] = None
    # The test-mode sandbox (``providers.sandbox``): routing hands it test records only, and test
    # records to no other provider.
    sandbox: ClassVar[bool] = False
    # Decides every message as it takes it (the sandbox): ``reports_on_send`` gives the reports with
    # the answer, and the pipeline applies them right after the outcomes, as any provider's reports.
    reports_at_once: ClassVar[bool] = False

    # Where ``send_batch``'s default steps post a send request (a path under ``base_url``).
    send_path: ClassVar[str] = ""

    def __init__(self, config: Mapping[str, Any] | None = None, *, timeout: float | None = None) -> None:
        self.config = dict(config if config is not None else settings.SMS_PROVIDERS[self.name])
        if timeout is not None:
            self.config["timeout"] = timeout

    @property
    def idempotent_resend(self) -> bool:
        """Whether the provider refuses a repeated request id, so that a dispatch cut short by a
        crash may be sent again under the same id without reaching anyone twice. None of our
        providers promises it; the gateway's operator may declare it (``providers.gateway``)."""
        return False

    @property
    def batch_limit(self) -> int:
        return int(self.config["batch_limit"])

    @property
    def timeout(self) -> float:
        return float(self.config.get("timeout", settings.PROVIDER_HTTP_TIMEOUT))

    def template_id_for(self, business_type: int) -> str:
        """The provider-side template registered for a station business type ("" if none)."""
        return str(self.config.get("template_ids", {}).get(str(business_type), ""))

    @property
    def default_sign_name(self) -> str:
        """The signature a message that names none is sent under ("" where the provider has none)."""
        return ""

    def douyin_template_for(self, business_type: int) -> DouyinTemplate | None:
        """The template for Douyin order messages of a station business type (None if none)."""
        return None

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        """POST through the shared session; transport faults and 5xx become ProviderUnavailable, a
        read timeout (the request left, no answer came) ProviderOutcomeUncertain."""
        try:
            response = http_session().post(url, timeout=self.timeout, **kwargs)
        except requests.ReadTimeout as exc:
            raise ProviderOutcomeUncertain(f"{self.name}: no answer within {self.timeout:g}s") from exc
        except requests.RequestException as exc:
            raise ProviderUnavailable(f"{self.name}: {type(exc).__name__}") from exc
        if response.status_code >= 500:
            raise ProviderUnavailable(f"{self.name}: HTTP {response.status_code}")
        return response

    def answer_json(self, response: requests.Response, what: str) -> Any:
        """A provider's answer as JSON; ``ProviderUnavailable`` when it is not (a proxy's error
        page, a truncated body)."""
        try:
            return response.json()
        except ValueError as exc:
            raise ProviderUnavailable(
                f"{self.name} {what}: answer is not JSON (HTTP {response.status_code})"
            ) from exc

    def url(self, path: str) -> str:
        return f"{str(self.config['base_url']).rstrip('/')}{path}"

    def send(self, batch: Sequence[OutgoingMessage], *, dispatch_id: str) -> list[SendOutcome]:
        """One outcome per message of ``batch`` (at most ``batch_limit``; the pipeline batches
        messages sharing one text or template), sent under our ``dispatch_id``."""
        if not batch:
            return []
        if len(batch) > self.batch_limit:
            raise ValueError(f"{self.name} takes at most {self.batch_limit} messages per request")
        return self.send_batch(batch, dispatch_id=dispatch_id)

    def send_batch(self, batch: Sequence[OutgoingMessage], *, dispatch_id: str) -> list[SendOutcome]:
        """The provider's steps for a checked batch: build the request → post it → parse the
        answer. Overridden where the transport is not one form POST."""
        request = self.build_send_request(batch, dispatch_id=dispatch_id)
        response = self.post(self.url(self.send_path), data=request)
        return self.parse_send_answer(self.answer_json(response, "send"), batch, dispatch_id=dispatch_id)

    def build_send_request(self, batch: Sequence[OutgoingMessage], *, dispatch_id: str) -> dict[str, str]:
        """The form fields of one send request."""
        raise NotImplementedError

    def parse_send_answer(
        self, answer: Any, batch: Sequence[OutgoingMessage], *, dispatch_id: str
    ) -> list[SendOutcome]:
        """One outcome per message of ``batch`` from the provider's (JSON-decoded) answer."""
        raise NotImplementedError

    def reports_on_send(
        self, batch: Sequence[OutgoingMessage], outcomes: Sequence[SendOutcome]
    ) -> list[DeliveryReport]:
        """The reports a provider that ``reports_at_once`` gives with its answer to ``batch``; an
        accepted message it gives none for is left without a report. Real providers report later,
        by push or pull: none."""
        return []

    def parse_status_callback(self, body: bytes, content_type: str = "") -> list[DeliveryReport]:
        raise NotImplementedError

    def parse_uplink_callback(self, body: bytes, content_type: str = "") -> list[InboundMessage]:
        raise NotImplementedError

    def pull_reports(self, pending_message_ids: Sequence[str] = ()) -> list[DeliveryReport]:
        """Reports the provider holds for pulling. Providers that answer per batch (sjroom)
        are asked about the batches of ``pending_message_ids``; the others ignore it."""
        return []

    def pull_uplinks(self) -> list[InboundMessage]:
        return []

    def approved_templates(self, template_ids: Sequence[str]) -> dict[str, RegisteredTemplate]:
        """The templates among ``template_ids`` registered and approved with the provider, by id,
        for providers that send their own registered templates and have an API to list them (the
        others raise ``ProviderRequestRejected``)."""
        raise ProviderRequestRejected(f"{self.name} has no API to list its registered templates")

    # What the provider expects in the body of our answer to its callbacks.
    callback_ack: ClassVar[dict[str, Any]] = {"status": "ok"}

    def balance(self) -> ProviderBalance:
        raise NotImplementedError
