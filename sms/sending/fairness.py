"""Fair sharing of the bulk lane: senders take turns, batch by batch.

A plain queue serves in arrival order, so one tenant's 1,000,000-recipient blast (334 gateway
batches) would hold another tenant's 10-number message until the blast had drained. Instead, a bulk
dispatch is parked in Redis (``REDIS_URL``) in a list of its sender's own, and what goes to the
``sms_bulk`` Celery queue is a *turn* (``TURN_TASK``): a task with no arguments. Whichever turn a
bulk worker takes next sends the next batch of the sender at the head of a ring of the senders with
work waiting, and puts that sender at the back of the ring. One turn is published per parked batch,
so every batch has its turn; a second sender's batch goes out after at most one batch of each
sender ahead of it in the ring, whatever the depth of their lists.

Measured against the alternatives (docs/architecture.md, "Fair sharing in the bulk lane"): a
Celery queue per sender needs workers to subscribe to queues as senders appear; Redis-broker task
priorities have 10 levels, too few to interleave a 334-batch blast with a newcomer.

What this costs when something fails: a turn that pops a batch and dies with it (a killed worker,
Redis lost) leaves the batch's records ``queued`` (or ``sending``) in the database, where the
sweeps find them (``sms.sending.sweeps``): a batch is delayed, never lost. A batch parked twice (a
sweep republished it) is claimed once: the second claim finds no record still ``queued``. Without
Redis (the embedded default) or when it cannot be reached, a bulk batch is published directly to
``sms_bulk`` as a dispatch task: served in arrival order, not lost.

The ring's keys are built inside the script from the sender, so it runs on a single Redis, not a
cluster.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import redis

from gm_server_notify.redis_script import RedisScript

logger = logging.getLogger(__name__)

TURN_TASK = "sms.dispatch_bulk_turn"

RING_KEY = "sms:bulk-lane:ring"  # senders with batches waiting, in turn order
MEMBERS_KEY = "sms:bulk-lane:senders"  # the same senders, as a set: each is in the ring once
QUEUE_PREFIX = "sms:bulk-lane:queue:"  # + sender: that sender's parked batches, oldest first
# A parked batch not taken within a day is dropped from Redis; its records were long since
# published again by the re-dispatch sweep.
QUEUE_TTL_SECONDS = 86_400

# KEYS: ring, members. ARGV: queue prefix, sender, payload, ttl. Answers the sender's list length.
_PARK = """
local queue = ARGV[1] .. ARGV[2]
local length = redis.call('RPUSH', queue, ARGV[3])
redis.call('EXPIRE', queue, tonumber(ARGV[4]))
if redis.call('SADD', KEYS[2], ARGV[2]) == 1 then
  redis.call('RPUSH', KEYS[1], ARGV[2])
end
return length
"""

# KEYS: ring, members. ARGV: queue prefix. Answers the next payload, or false when none waits.
# A sender whose list expired is dropped from the ring; at most 100 are skipped per call.
_NEXT_TURN = """
for _ = 1, 100 do
  local sender = redis.call('LPOP', KEYS[1])
  if not sender then return false end
  local queue = ARGV[1] .. sender
  local payload = redis.call('LPOP', queue)
  if redis.call('LLEN', queue) > 0 then
    redis.call('RPUSH', KEYS[1], sender)
  else
    redis.call('SREM', KEYS[2], sender)
  end
  if payload then return payload end
end
return false
"""

_park = RedisScript(_PARK)
_next_turn = RedisScript(_NEXT_TURN)


def park(*, sender: str, payload: dict[str, Any]) -> bool:
    """Park one bulk dispatch in ``sender``'s list. False when there is no Redis to park it in
    (the caller then publishes the dispatch directly)."""
    if _park.client() is None:
        return False
    try:
        _park(
            keys=[RING_KEY, MEMBERS_KEY], args=[QUEUE_PREFIX, sender, json.dumps(payload), QUEUE_TTL_SECONDS]
        )
    except redis.RedisError as exc:
        logger.warning(
            "bulk lane: parking a batch failed (%s): published in arrival order", type(exc).__name__
        )
        return False
    return True


def next_turn() -> dict[str, Any] | None:
    """The next parked dispatch, of the sender whose turn it is; None when nothing is parked.
    Raises ``redis.RedisError`` when Redis cannot be reached (the task retries)."""
    if _next_turn.client() is None:
        return None
    answer = _next_turn(keys=[RING_KEY, MEMBERS_KEY], args=[QUEUE_PREFIX])
    if not answer:
        return None
    return json.loads(answer)


def waiting() -> dict[str, int]:
    """How many batches each sender has parked (the re-dispatch sweep, the console); empty when
    Redis cannot be reached, so that a reader goes on as if nothing were parked."""
    client = _next_turn.client()
    if client is None:
        return {}
    try:
        senders = [sender.decode() for sender in client.lrange(RING_KEY, 0, -1)]
        pipe = client.pipeline(transaction=False)
        for sender in senders:
            pipe.llen(QUEUE_PREFIX + sender)
        return dict(zip(senders, pipe.execute(), strict=True))
    except redis.RedisError as exc:
        logger.warning("bulk lane: the parked batches cannot be read (%s)", type(exc).__name__)
        return {}


def purge() -> None:
    """Drop every parked batch (tests, between runs: the broker's queues are purged too)."""
    client = _next_turn.client()
    if client is None:
        return
    keys = [RING_KEY, MEMBERS_KEY, *client.scan_iter(match=QUEUE_PREFIX + "*", count=1000)]
    client.delete(*keys)
