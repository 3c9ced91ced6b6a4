"""The lanes' gauges at /metrics, read at scrape time from the console's selectors (the dashboard's
"Lanes" panel shows the same numbers):

- ``sms_lane_oldest_waiting_seconds{lane}``: how long the lane's oldest ``queued`` record has
  waited, 0 when none waits (the alert ``SmsLaneBacklogOld``, deploy/prometheus/alerts.yml);
- ``sms_lane_waiting_records{lane}``: how many wait, counted up to ``LANE_COUNT_CAP``;
- ``sms_bulk_senders_waiting`` and ``sms_bulk_parked_batches``: the bulk lane's senders with
  batches parked for their turn, and those batches; absent from a scrape that could not reach Redis.

``lane`` is ``priority``, ``transactional`` or ``bulk``; no label names a sender (their number
is unbounded).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric

from sms.console import selectors


class LaneCollector:
    """Registered by ``SmsConfig.ready``; asked at every scrape."""

    def collect(self) -> Iterator[Metric]:
        oldest = GaugeMetricFamily(
            "sms_lane_oldest_waiting_seconds",
            "Seconds the lane's oldest queued record has waited for a worker (0: none waits).",
            labels=["lane"],
        )
        waiting = GaugeMetricFamily(
            "sms_lane_waiting_records",
            f"Records queued in the lane, counted up to {selectors.LANE_COUNT_CAP} "
            "(that value: at least as many).",
            labels=["lane"],
        )
        for lane in selectors.lane_backlog():
            oldest.add_metric([lane.lane], lane.age_seconds)
            waiting.add_metric([lane.lane], lane.waiting)
        yield oldest
        yield waiting
        bulk = selectors.bulk_senders_waiting(top=0)
        if bulk is not None:
            yield GaugeMetricFamily(
                "sms_bulk_senders_waiting",
                "Senders with bulk batches parked for their turn.",
                value=bulk.senders,
            )
            yield GaugeMetricFamily(
                "sms_bulk_parked_batches",
                "Bulk batches parked for their turn, all senders.",
                value=bulk.batches,
            )
