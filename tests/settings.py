"""The test suite's settings: the project's own, on a developer's embedded defaults.

``GM_EMBEDDED_DEFAULTS=1`` lets the settings generate a secret key into ``GM_VAR_DIR`` and keeps
the HTTPS-only production settings off, as ``make run`` does. It is set in the environment before
the settings load, so the worker processes the tests start inherit it too.
"""

import os

os.environ.setdefault("GM_EMBEDDED_DEFAULTS", "1")
# The business clock of sending hours and scheduled sends is settable (an offset in the shared
# cache), for the test process and the workers it starts: gm_server_notify/clock.py.
os.environ.setdefault("GM_SETTABLE_CLOCK", "1")

from gm_server_notify.settings import *  # noqa: F403

# Most suites send many verify codes to the same few numbers; the verify-code limits are tested on
# their own (tests/sms/test_verify_limits.py sets them per test).
SMS_VERIFY_LIMITS = os.environ.get("TEST_SMS_VERIFY_LIMITS", "")

# On SQLite (make test-fast) the test database is a file under GM_VAR_DIR, as make run's is, never
# Django's default in-memory database: that one is a shared cache, whose table locks ("database
# table is locked") fail a concurrent write at once instead of waiting out the busy timeout, so a
# concurrency test there would test something no deployment runs.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test_gm_server_notify.sqlite3")}  # noqa: F405
