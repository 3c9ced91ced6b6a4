"""factory_boy factories shared by the suites."""

from __future__ import annotations

import base64

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import PBKDF2PasswordHasher

TEST_PASSWORD = "correct-horse-battery"
# settings.PASSWORD_HASHERS = [SLOW_HASHER]: a real password hash for the concurrency tests.
SLOW_HASHER = "tests.support.factories.FewIterationsPBKDF2"


class FewIterationsPBKDF2(PBKDF2PasswordHasher):
    """A real, slow-ish password hash (tens of milliseconds), so that parallel guesses overlap
    while their passwords are checked, as they do in production."""

    algorithm = "pbkdf2_sha256_test"
    iterations = 40_000


class UserFactory(factory.django.DjangoModelFactory):
    """A tenant of the v1 API; pass ``is_superuser=True`` for root."""

    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"tenant{n}")
    password = factory.PostGenerationMethodCall("set_password", TEST_PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()

    @staticmethod
    def basic_header(username: str, password: str) -> str:
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        return f"Basic {token}"


def send_record(**fields: object):
    """A station send record as the pipeline leaves it once a provider took it (``submitted``):
    pass ``provider``, ``provider_message_id`` and whatever else the test needs."""
    from sms.models import RecordState, SendRecord

    phone = str(fields.pop("receive_phone", "13112341234"))
    values = {
        "station_id": "T7442",
        "receive_phone": phone,
        "phone_e164": f"+86{phone}",
        "business_type": 0,
        "content": "【去采购】x",
        "segments": 1,
        "state": RecordState.SUBMITTED,
        **fields,
    }
    return SendRecord.objects.create(**values)


def many_records(count: int, **fields: object) -> None:
    """``count`` station send records of one shape in one bulk insert (``T7442``, one part,
    ``sending`` unless ``state`` says otherwise); pass what the test's state needs (``provider``,
    ``dispatch_id``; a ``provider_message_id`` containing ``{n}`` is numbered from 0)."""
    from sms.models import RecordState, SendRecord

    message_id = fields.pop("provider_message_id", None)
    values = {
        "station_id": "T7442",
        "receive_phone": "13112341234",
        "phone_e164": "+8613112341234",
        "content": "x",
        "segments": 1,
        "state": RecordState.SENDING,
        **fields,
    }
    SendRecord.objects.bulk_create(
        [
            SendRecord(**values, provider_message_id=message_id and str(message_id).format(n=n))
            for n in range(count)
        ]
    )
