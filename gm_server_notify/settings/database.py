"""The database: SQLite under var/ by default, MySQL/MariaDB in production."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from gm_server_notify.settings.environment import VAR_DIR, env

# --- The default database, and MySQL's options ------------------------------------------------
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'gm_server_notify.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.mysql":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "charset": "utf8mb4",
            # Workers claim rows with SELECT … FOR UPDATE SKIP LOCKED; READ COMMITTED avoids
            # REPEATABLE READ's gap locks blocking concurrent inserts of send records.
            "isolation_level": "read committed",
            # A database that does not answer fails fast: requests answer and handlers fall back
            # (provider pushes are queued) instead of hanging on the connect.
            "connect_timeout": env.int("DATABASE_CONNECT_TIMEOUT", default=3),
        }
    )
    DATABASES["default"]["TEST"] = {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            # The embedded database, shared by every process of make run. A transaction takes the
            # write lock when it begins: two that read first and then write (two workers claiming
            # records) would otherwise deadlock, and SQLite answers one of them "database is
            # locked" at once. A transaction or statement waits this many seconds for the lock.
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            # Write-ahead log: readers never wait for the writer nor it for them, so only writes
            # queue for the lock (and wait for it, above). NORMAL syncs at checkpoints, not at
            # every commit: a power cut may lose the last commits, never corrupt the file.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
        }
    )

# --- Connections --------------------------------------------------------------------------------
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Database unreachable -------------------------------------------------------------------------
# The Retry-After of the 503 an API answers while the database cannot be reached: about a restart.
DATABASE_RETRY_AFTER_SECONDS = env.int("DATABASE_RETRY_AFTER_SECONDS", default=5)
if DATABASE_RETRY_AFTER_SECONDS < 0:
    raise ImproperlyConfigured("DATABASE_RETRY_AFTER_SECONDS must be 0 or more")
