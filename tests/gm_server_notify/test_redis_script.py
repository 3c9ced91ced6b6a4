"""gm_server_notify/redis_script.py: one client per configured Redis."""

from gm_server_notify.redis_script import RedisScript


def test_a_script_follows_a_changed_redis_url(settings):
    """A test that points the process at a Redis of its own (tests/support/infra.py) is followed,
    and so is the way back."""
    if not settings.REDIS_URL:
        settings.REDIS_URL = "redis://127.0.0.1:6379/15"
    script = RedisScript("return 1")
    first = script.client()
    assert script.client() is first
    original = settings.REDIS_URL
    settings.REDIS_URL = "redis://127.0.0.1:1/3"
    moved = script.client()
    assert moved is not first
    kwargs = moved.connection_pool.connection_kwargs
    assert (kwargs["port"], kwargs["db"]) == (1, 3)
    settings.REDIS_URL = original
    assert script.client().connection_pool.connection_kwargs["port"] != 1


def test_no_redis_url_no_client(settings):
    settings.REDIS_URL = ""
    assert RedisScript("return 1").client() is None
