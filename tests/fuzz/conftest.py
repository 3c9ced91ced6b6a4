from tests.sms.conftest import recharge  # noqa: F401 - shared fixture
