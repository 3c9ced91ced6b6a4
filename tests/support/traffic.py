"""Station and tenant traffic at known China-time hours, for the traffic rollup and the console's
JSON (tests/sms/test_traffic_rollup.py, tests/sms/test_console_api.py)."""

from __future__ import annotations

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

from sms.models import MessageBatch, RecordState, SendRecord, TenantAccount
from tests.support.factories import UserFactory

CHINA = ZoneInfo("Asia/Shanghai")
DOUYIN = "$Dcwm9hW9vNZx/rMDdlxkQ0+aD2kJ+xzm6HnRR1a45lA=$1$$"


def at(day: int, hour: int, minute: int = 10) -> dt.datetime:
    """A China-time instant of December 2026."""
    return dt.datetime(2026, 12, day, hour, minute, tzinfo=CHINA)


def tenant_batch(username: str, *, template_type: int) -> MessageBatch:
    user = UserFactory(username=username)
    account, _ = TenantAccount.objects.get_or_create(user=user)
    return MessageBatch.objects.create(
        uuid=uuid.uuid4(),
        tenant=account,
        sign_id=1,
        temp_id=1,
        content="x",
        total=1,
        template_type=template_type,
    )


def record(
    created: dt.datetime, *, station_id: str | None = None, batch: MessageBatch | None = None, **fields
) -> SendRecord:
    """One send record created at ``created``; delivered/failed ones submitted 1.5 s after creation
    and finished ``latency`` (seconds, default 1.5) after that."""
    state = fields.pop("state", RecordState.DELIVERED)
    latency = fields.pop("latency", 1.5)
    phone = fields.pop("phone", "+8613112341234")
    accepted = fields.pop(
        "accepted",
        state in (RecordState.DELIVERED, RecordState.FAILED, RecordState.SUBMITTED, RecordState.UNKNOWN),
    )
    submitted = created + dt.timedelta(seconds=1.5) if accepted else None
    finished = (
        submitted + dt.timedelta(seconds=latency) if submitted and state in ("delivered", "failed") else None
    )
    values = {
        "station_id": station_id,
        "batch": batch,
        "receive_phone": phone,
        "phone_e164": phone,
        "business_type": 0 if station_id else None,
        "content": "x",
        "segments": 1,
        "state": state,
        "provider": "tencent" if accepted else "",
        "submitted_at": submitted,
        "finished_at": finished,
        **fields,
    }
    made = SendRecord.objects.create(**values)
    SendRecord.objects.filter(pk=made.pk).update(created_at=created)
    return made


def seed() -> dict[str, MessageBatch]:
    """The traffic the tests read (see each test for what it expects of it):

    2026-12-01 10h (China): station S1: 3 delivered order via tencent (+86, one 2.5 s late), 1 failed
    verify via tencent (code E1, refunded), 1 queued; station S2: 1 delivered +1 via tencent, 2 parts
    billed 3. Tenant dcs (marketing) via gateway: 2 delivered, 1 failed (UNDELIV, 2 parts, refunded),
    1 unknown. Tenant ops (verify) via sjroom: 1 delivered to a Douyin ciphertext.
    2026-12-01 23h: S1 1 delivered; 2026-12-02 00h: S1 1 failed (E1) and dcs 1 delivered.
    """
    dcs = tenant_batch("dcs", template_type=3)
    ops = tenant_batch("ops", template_type=1)
    ten = at(1, 10)
    for index in range(3):
        record(ten, station_id="S1", latency=2.5 if index == 0 else 1.5)
    record(ten, station_id="S1", business_type=2, state="failed", provider_code="E1", refunded=True)
    record(ten, station_id="S1", state="queued")
    record(ten, station_id="S2", phone="+12025550123", segments=2, billed_parts=3)
    for _ in range(2):
        record(ten, batch=dcs, provider="gateway")
    record(
        ten, batch=dcs, provider="gateway", state="failed", provider_code="UNDELIV", segments=2, refunded=True
    )
    record(ten, batch=dcs, provider="gateway", state="unknown")
    record(ten, batch=ops, provider="sjroom", phone=DOUYIN)
    record(at(1, 23, 59), station_id="S1")
    record(at(2, 0, 0), station_id="S1", state="failed", provider_code="E1")
    record(at(2, 0, 30), batch=dcs, provider="gateway")
    return {"dcs": dcs, "ops": ops}
