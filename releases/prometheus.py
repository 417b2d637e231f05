"""The releases' Prometheus metrics, read from the database at each scrape (governance.metrics).

Three queries, whatever the number of releases and rollbacks.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.db.models.functions import Extract
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric

from releases.models import Release, ReleaseStatus, RollbackRequest, RollbackStatus

# Seconds from the press (or the trigger) to the verified or failed end. The rollback path's
# own target is a few seconds; the tail covers retries and verification (ROLLBACK_VERIFY_SECONDS).
ROLLBACK_BUCKETS = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
FINISHED = (RollbackStatus.SUCCEEDED, RollbackStatus.FAILED)


def rollback_metrics() -> Iterable[Metric]:
    by_status = dict(
        RollbackRequest.objects.order_by()
        .values("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    requests = GaugeMetricFamily(
        "failsafe_rollback_requests",
        "Rollback requests by status (proposed, requested, running, succeeded, failed, dismissed).",
        labels=["status"],
    )
    for status in RollbackStatus:
        requests.add_metric([status.value], by_status.get(status.value, 0))
    yield requests

    # The histogram in one query: per outcome, how many took at most each bucket's bound.
    seconds = Extract(
        ExpressionWrapper(F("finished_at") - F("requested_at"), output_field=DurationField()),
        "epoch",
    )
    buckets = {
        f"le_{i}": Count("pk", filter=Q(seconds__lte=bound))
        for i, bound in enumerate(ROLLBACK_BUCKETS)
    }
    rows = (
        RollbackRequest.objects.filter(status__in=FINISHED, finished_at__isnull=False)
        .annotate(seconds=seconds)
        .order_by()
        .values("status")
        .annotate(count=Count("pk"), total=Sum("seconds"), **buckets)
    )
    latency = HistogramMetricFamily(
        "failsafe_rollback_duration_seconds",
        "Seconds from a rollback's request to its end (verified live, or failed), by outcome.",
        labels=["status"],
    )
    found = {row["status"]: row for row in rows}
    for status in FINISHED:
        row = found.get(status.value, {"count": 0, "total": 0.0})
        cumulative = [
            (repr(bound), row.get(f"le_{i}", 0)) for i, bound in enumerate(ROLLBACK_BUCKETS)
        ]
        latency.add_metric(
            [status.value],
            [*cumulative, ("+Inf", row["count"])],
            float(row["total"] or 0.0),
        )
    yield latency

    yield GaugeMetricFamily(
        "failsafe_pending_approvals",
        "Releases submitted for review and waiting for their approvals.",
        value=Release.objects.filter(status=ReleaseStatus.IN_REVIEW).count(),
    )
