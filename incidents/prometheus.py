"""The incidents' Prometheus metrics, read from the database at each scrape (governance.metrics).

One query, whatever the number of incidents.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily, Metric

from incidents.models import Incident, Severity, Stage


def incident_metrics() -> Iterable[Metric]:
    by_severity = dict(
        Incident.objects.exclude(stage=Stage.CLOSED)
        .order_by()
        .values("severity")
        .annotate(n=Count("pk"))
        .values_list("severity", "n")
    )
    family = GaugeMetricFamily(
        "failsafe_open_incidents",
        "Incidents not yet closed, by severity (sev1 critical … sev4 low).",
        labels=["severity"],
    )
    for severity in Severity:
        family.add_metric([severity.value], by_severity.get(severity.value, 0))
    yield family
