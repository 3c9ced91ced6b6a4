"""Publishing by name (sms.core.broker): a broken pooled connection costs one retry, not the
message, and never the pool."""

import uuid

import pytest
from celery import current_app
from kombu.messaging import Producer

from sms.core import broker

DISPATCH_TASK = "sms.dispatch_records"


def test_a_publish_that_fails_on_a_broken_broker_channel_is_sent_again_and_the_pool_stays_usable(
    monkeypatch,
):
    """After a broker restart kombu can raise from a pooled channel left without its connection;
    the dispatch is published again on a fresh connection instead of waiting for the sweep, and
    the next publish goes through the pool again (the real broker: both messages arrive)."""
    queue = f"test-publish-{uuid.uuid4().hex}"
    real_publish = Producer.publish
    publishes = []
    failures = [AttributeError("'NoneType' object has no attribute 'client'")]

    def publish(self, *args, **kwargs):
        publishes.append(queue)
        if failures:
            raise failures.pop()
        return real_publish(self, *args, **kwargs)

    monkeypatch.setattr(Producer, "publish", publish)

    broker.send_task(DISPATCH_TASK, args=([7, 8], "tencent", [], None), queue=queue)
    assert len(publishes) == 2  # the failure, then the fresh connection
    broker.send_task(DISPATCH_TASK, args=([9], "tencent", [], None), queue=queue)
    assert len(publishes) == 3  # the pool was not closed: one publish, no fallback

    with current_app.connection_for_read() as connection:
        arrived = connection.SimpleQueue(queue)
        try:
            bodies = [arrived.get(timeout=10) for _ in range(2)]
            assert [body.headers["task"] for body in bodies] == [DISPATCH_TASK] * 2
            # Both arrived; their order is the transport's (the filesystem broker reads files by name).
            assert sorted(body.payload[0][0] for body in bodies) == [[7, 8], [9]]
            for body in bodies:
                body.ack()
        finally:
            arrived.close()


def test_a_publish_that_fails_on_the_fresh_connection_too_is_raised_to_the_caller(monkeypatch):
    """Two failures are the broker being down: the caller leaves its rows to its sweep."""
    attempts = []

    def publish(self, *args, **kwargs):
        attempts.append(True)
        raise RuntimeError("broker down")

    monkeypatch.setattr(Producer, "publish", publish)

    with pytest.raises(RuntimeError):
        broker.send_task(
            DISPATCH_TASK, args=([1], "tencent", [], None), queue=f"test-publish-{uuid.uuid4().hex}"
        )
    assert len(attempts) == 2
