"""The Django cache: Redis when REDIS_URL is set, else files under var/cache."""

from __future__ import annotations

from gm_server_notify.settings.environment import VAR_DIR, env

# --- Redis: the Django cache, and the rate limits' scripts (gm_server_notify/redis_script.py) --
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="gmsn"),
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# --- Statistics reads: statistics_overview, statistics_detail, data_center --------------------------
# Served from the cache for this long (at most this stale; 0: read the database every time).
SMS_STATISTICS_CACHE_SECONDS = env.int("SMS_STATISTICS_CACHE_SECONDS", default=5)
