"""What the suite runs on, and the markers of the tests that need more than the embedded default.

``make test`` runs on MySQL and Redis; ``make test-fast`` on the embedded default (SQLite, the
file cache, the filesystem broker). A test that proves something only MySQL or Redis does is
marked ``@needs_mysql("why")`` or ``@needs_redis("why")``: under ``make test-fast`` it is skipped
and ``-ra`` prints the reason, so what the fast run leaves out is said, never silently passed.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection

ON_MYSQL = connection.vendor == "mysql"
ON_REDIS = bool(settings.REDIS_URL)


def needs_mysql(why: str) -> pytest.MarkDecorator:
    """Skip unless the test database is MySQL/MariaDB (``make test``)."""
    return pytest.mark.skipif(not ON_MYSQL, reason=f"needs MySQL (make test): {why}")


def needs_redis(why: str) -> pytest.MarkDecorator:
    """Skip unless ``REDIS_URL`` names a Redis (``make test``)."""
    return pytest.mark.skipif(not ON_REDIS, reason=f"needs Redis (make test): {why}")
