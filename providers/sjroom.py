"""The sjroom international SMS gateway of seed 004.

Every call is a JSON POST carrying ``account`` and ``password`` in the body:

- ``/api/open/int/sms/list``: the channels opened for the account, a JSON array of
  ``{goodsSupplySmsConfigId, countryCode, countryOperator, customerPrice, nameEn, nameZh, status}``
  (``status`` 1 enabled, 0 disabled). Cached per process for ``CHANNEL_CACHE_SECONDS``.
- ``/api/open/int/sms/submit``: ``{goodsSupplySmsConfigId, phone, sendContent}`` for at most
  10,000 numbers of one channel; answers ``{stateCode, stateMsg, data = batch number}``
  (``stateCode "200"`` is success). The answer has no per-number result, so every number is
  accepted and its fate comes from the query.
- ``/api/open/int/sms/query``: ``{batchNo}`` → ``{failPhones, failedNum, successNum,
  successPhones, totalNum}``. There are no pushed reports (no callbacks at all): reports are
  pulled per batch, and a number in neither list is still pending.
- ``/api/open/int/sms/balance``: ``{stateCode, stateMsg, data = the balance as a string}``
  (money, not messages).

A channel serves one country, so a batch is split by channel: one submit per channel. The query
names the batch and the numbers, so a record's provider message id is ``"<batchNo>:<digits>"``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from providers.base import (
    DeliveryReport,
    OutcomeStatus,
    OutgoingMessage,
    ProviderAdapter,
    ProviderBalance,
    ProviderError,
    ProviderRequestRejected,
    ProviderUnavailable,
    Region,
    ReportStatus,
    SendOutcome,
)

NAME = "sjroom"
SUCCESS = "200"
# Bad account or password. Assumption: the seed lists no error codes; these are the HTTP-like
# codes its ``stateCode`` strings suggest (the simulator answers "401").
AUTH_FAILED = {"401", "403"}
NO_CHANNEL = "NoChannel"
CHANNEL_CACHE_SECONDS = 600.0

_channel_cache: dict[tuple[str, str], tuple[float, list[Channel]]] = {}
_channel_cache_lock = threading.Lock()


def clear_channel_cache() -> None:
    """Forget every cached channel list (tests; or after the provider changed the channels)."""
    with _channel_cache_lock:
        _channel_cache.clear()


def digits_of(phone: str) -> str:
    """A number in international form without ``+`` (what sjroom takes and answers with)."""
    return "".join(char for char in str(phone) if char.isdigit())


def message_id(batch_no: str, digits: str) -> str:
    return f"{batch_no}:{digits}"


@dataclass(frozen=True)
class Channel:
    """One ``goodsSupplySmsConfigId``: a country (and operator) at a price."""

    config_id: Any  # int64 in the seed; sent back exactly as listed
    country_code: str  # digits, no "+"
    operator: str = ""
    price: float = float("inf")
    name_en: str = ""
    name_zh: str = ""
    enabled: bool = False


@dataclass(frozen=True)
class SubmitAnswer:
    code: str
    message: str
    batch_no: str


@dataclass(frozen=True)
class QueryAnswer:
    """A batch's numbers as digits: delivered, failed; the others (of ``total``) are pending."""

    delivered: frozenset[str]
    failed: frozenset[str]
    total: int


def _state(answer: Any) -> tuple[str, str]:
    if not isinstance(answer, dict):
        return "", ""
    return str(answer.get("stateCode") or ""), str(answer.get("stateMsg") or "")


def _price(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("inf")


def parse_channels(payload: Any) -> list[Channel]:
    """The channel list. The seed answers a bare array; an array wrapped as ``data`` in a
    ``stateCode`` answer is taken too. (The seed's table swaps the meanings of nameEn/nameZh;
    we keep each field under its own name.)"""
    items = payload.get("data") if isinstance(payload, dict) else payload
    if not isinstance(items, list):
        raise ProviderUnavailable("sjroom list: the answer is not a channel array")
    channels = []
    for item in items:
        if not isinstance(item, dict) or item.get("goodsSupplySmsConfigId") is None:
            continue
        channels.append(
            Channel(
                config_id=item["goodsSupplySmsConfigId"],
                # The provider may write the code as "+44": keep the digits only.
                country_code=digits_of(item.get("countryCode") or ""),
                operator=str(item.get("countryOperator") or ""),
                price=_price(item.get("customerPrice")),
                name_en=str(item.get("nameEn") or ""),
                name_zh=str(item.get("nameZh") or ""),
                enabled=str(item.get("status")) == "1",
            )
        )
    return channels


def choose_channel(channels: Iterable[Channel], digits: str) -> Channel | None:
    """The enabled channel whose country code is the longest prefix of ``digits`` ("1" serves
    US/Canada, "852" Hong Kong); among channels of the same code, the cheapest."""
    candidates = [
        channel
        for channel in channels
        if channel.enabled and channel.country_code and digits.startswith(channel.country_code)
    ]
    if not candidates:
        return None
    return min(candidates, key=lambda c: (-len(c.country_code), c.price, str(c.config_id)))


def parse_submit(payload: Any) -> SubmitAnswer:
    code, message = _state(payload)
    data = payload.get("data") if isinstance(payload, dict) else None
    return SubmitAnswer(code=code, message=message, batch_no="" if data is None else str(data))


def parse_query(payload: Any) -> QueryAnswer:
    """The query answer, bare as in the seed (or wrapped as ``data`` of a ``stateCode``
    answer). Phones may come with or without ``+``: both are normalised to digits."""
    if isinstance(payload, dict) and "stateCode" in payload and "successPhones" not in payload:
        payload = payload.get("data")
    if not isinstance(payload, dict):
        raise ProviderUnavailable("sjroom query: the answer is not a query result")
    delivered = frozenset(digits_of(p) for p in payload.get("successPhones") or [] if digits_of(p))
    failed = frozenset(digits_of(p) for p in payload.get("failPhones") or [] if digits_of(p))
    try:
        total = int(payload.get("totalNum") or 0)
    except (TypeError, ValueError):
        total = len(delivered | failed)
    return QueryAnswer(delivered=delivered, failed=failed - delivered, total=total)


def parse_balance(payload: Any) -> ProviderBalance:
    """``data`` is the balance as a string (money); fractions are dropped."""
    try:
        remaining = int(float(payload["data"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ProviderUnavailable("sjroom balance: no balance in the answer") from exc
    return ProviderBalance(provider=NAME, remaining=remaining, unit="money", raw=payload)


class SjroomAdapter(ProviderAdapter):
    name = NAME
    pulls_reports = True
    regions = frozenset({Region.INTERNATIONAL})

    def _call(self, path: str, payload: dict[str, Any] | None = None) -> Any:
        """POST JSON with the credentials; a non-JSON answer is ProviderUnavailable and a
        bad-credentials ``stateCode`` is ProviderRequestRejected."""
        body = {"account": self.config["account"], "password": self.config["password"], **(payload or {})}
        answer = self.answer_json(self.post(self.url(path), json=body), path)
        code, message = _state(answer)
        if code in AUTH_FAILED:
            raise ProviderRequestRejected(f"sjroom {path}: {message or 'bad credentials'}", code=code)
        return answer

    def channels(self) -> list[Channel]:
        """The account's channels, cached per process (and per base URL and account) for ten minutes."""
        key = (self.config["base_url"], self.config["account"])
        now = time.monotonic()
        with _channel_cache_lock:
            cached = _channel_cache.get(key)
        if cached is not None and now - cached[0] < CHANNEL_CACHE_SECONDS:
            return cached[1]
        answer = self._call("/api/open/int/sms/list")
        code, message = _state(answer)
        if code and code != SUCCESS:
            raise ProviderRequestRejected(f"sjroom list: {code} {message}", code=code)
        channels = parse_channels(answer)
        with _channel_cache_lock:
            _channel_cache[key] = (now, channels)
        return channels

    def _forget_channels(self) -> None:
        with _channel_cache_lock:
            _channel_cache.pop((self.config["base_url"], self.config["account"]), None)

    def send_batch(self, batch: Sequence[OutgoingMessage], *, dispatch_id: str) -> list[SendOutcome]:
        """One submit per channel; every message shares ``batch[0].content`` (the pipeline only
        batches identical texts). Numbers go comma-joined in international form without "+"
        (assumption: the seed only says "up to ten thousand numbers").

        Once one submit of the batch has been accepted, a later submit's transport fault or
        refusal fails only its own messages instead of raising: raising would have the pipeline
        resend (or fail) the numbers the provider already took.
        """
        channels = self.channels()
        outcomes: dict[int, SendOutcome] = {}
        groups: dict[Any, tuple[Channel, list[tuple[int, OutgoingMessage, str]]]] = {}
        for index, message in enumerate(batch):
            digits = digits_of(message.phone_e164)
            channel = choose_channel(channels, digits)
            if channel is None:
                outcomes[index] = SendOutcome(
                    message.record_id,
                    OutcomeStatus.FAILED,
                    code=NO_CHANNEL,
                    description=f"no enabled sjroom channel for +{digits}",
                )
                continue
            groups.setdefault(channel.config_id, (channel, []))[1].append((index, message, digits))
        content = batch[0].content
        any_accepted = False
        for channel, members in groups.values():
            try:
                answer = self._call(
                    "/api/open/int/sms/submit",
                    {
                        "goodsSupplySmsConfigId": channel.config_id,
                        "phone": ",".join(digits for _, _, digits in members),
                        "sendContent": content,
                    },
                )
            except ProviderError as exc:
                if not any_accepted:
                    raise
                code = getattr(exc, "code", "") or "Unavailable"
                for index, message, _ in members:
                    outcomes[index] = SendOutcome(
                        message.record_id, OutcomeStatus.FAILED, code=code, description=str(exc)
                    )
                continue
            submitted = parse_submit(answer)
            accepted = submitted.code == SUCCESS and bool(submitted.batch_no)
            code, description = submitted.code or "NoAnswerCode", submitted.message
            if submitted.code == SUCCESS and not submitted.batch_no:
                code, description = "NoBatchNo", "sjroom answered success without a batch number"
            if not accepted:
                # The channel may have been closed since we listed it: list again next time.
                self._forget_channels()
            any_accepted = any_accepted or accepted
            for index, message, digits in members:
                outcomes[index] = SendOutcome(
                    message.record_id,
                    OutcomeStatus.ACCEPTED if accepted else OutcomeStatus.FAILED,
                    provider_message_id=message_id(submitted.batch_no, digits) if accepted else "",
                    code=code,
                    description=description,
                )
        return [outcomes[index] for index in range(len(batch))]

    def pull_reports(self, pending_message_ids: Sequence[str] = ()) -> list[DeliveryReport]:
        """Query each distinct batch of ``pending_message_ids`` (``"<batchNo>:<digits>"``) and
        report the numbers it has settled: successPhones → delivered, failPhones → failed
        (code "FAIL"). A number in neither list is still pending and gets no report; polling
        until every number is settled is the caller's loop."""
        by_batch: dict[str, list[tuple[str, str]]] = {}
        for pending in dict.fromkeys(pending_message_ids):
            batch_no, sep, digits = str(pending).rpartition(":")
            if sep and batch_no and digits:
                by_batch.setdefault(batch_no, []).append((pending, digits))
        reports = []
        for batch_no, members in by_batch.items():
            answer = self._call("/api/open/int/sms/query", {"batchNo": batch_no})
            code, message = _state(answer)
            if code and code != SUCCESS:
                raise ProviderRequestRejected(f"sjroom query {batch_no}: {code} {message}", code=code)
            result = parse_query(answer)
            for pending, digits in members:
                if digits in result.delivered:
                    status, report_code = ReportStatus.DELIVERED, "SUCCESS"
                elif digits in result.failed:
                    status, report_code = ReportStatus.FAILED, "FAIL"
                else:
                    continue
                reports.append(
                    DeliveryReport(
                        provider=NAME,
                        status=status,
                        provider_message_id=pending,
                        phone=f"+{digits}",
                        code=report_code,
                        description="" if status is ReportStatus.DELIVERED else "sjroom failPhones",
                    )
                )
        return reports

    def balance(self) -> ProviderBalance:
        answer = self._call("/api/open/int/sms/balance")
        code, message = _state(answer)
        if code and code != SUCCESS:
            raise ProviderRequestRejected(f"sjroom balance: {code} {message}", code=code)
        return parse_balance(answer)
