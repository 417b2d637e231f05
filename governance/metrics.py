"""Prometheus metrics at /metrics: django-prometheus's request metrics and the app's own.

Failsafe runs as several processes (gunicorn workers, Celery workers); a counter kept in one
process's memory would be that process's share of the truth. The database is the same from
every process, so the app's own metrics are read from it when Prometheus scrapes: one
collector, registered once, to which each app contributes its metric families (`register`,
from its AppConfig.ready(), the way apps contribute navigation and evidence). Each
contribution runs a fixed number of aggregate queries, whatever the data.

Access: a direct connection from METRICS_ALLOWED_NETWORKS (loopback by default), or
`Authorization: Bearer <METRICS_TOKEN>` from anywhere; anything else is refused with 403. A
request a proxy forwarded (X-Forwarded-For) is not direct: it needs the token, so a reverse
proxy on the same host does not open the metrics to the internet.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import os
from collections.abc import Callable, Iterable
from functools import cache

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Count, Min, Sum
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from django_prometheus import migrations as django_migrations
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from governance.models import AuditChainHead, AuditEvent

MetricSource = Callable[[], Iterable[Metric]]

_sources: list[MetricSource] = []


def register(source: MetricSource) -> None:
    """Add a function that yields metric families, read from the database at each scrape."""
    if source not in _sources:
        _sources.append(source)


class DatabaseCollector:
    """The app's own metrics, from every registered source (prometheus_client's Collector)."""

    def collect(self) -> Iterable[Metric]:
        for source in _sources:
            yield from source()

    def describe(self) -> Iterable[Metric]:
        # Without describe() the registry would collect at registration to learn the names:
        # queries at import time, perhaps before the database exists.
        return []


COLLECTOR = DatabaseCollector()
REGISTRY.register(COLLECTOR)  # once per process: a module is imported once

# django-prometheus registers its migration gauges whether or not it fills them (only with
# PROMETHEUS_EXPORT_MIGRATIONS, off here): empty, and gauges named like counters (_total).
for _gauge in (django_migrations.applied_migrations, django_migrations.unapplied_migrations):
    with contextlib.suppress(KeyError):
        REGISTRY.unregister(_gauge)


def audit_metrics() -> Iterable[Metric]:
    """The audit events sealed into the hash chains so far, those still waiting to be sealed,
    and how long the oldest of them has waited (the sealer's lag)."""
    sealed = AuditChainHead.objects.aggregate(total=Sum("seq"))["total"] or 0
    # Served by the partial index on unsealed events: it holds the last second or so.
    waiting = AuditEvent.objects.filter(seq__isnull=True).aggregate(
        n=Count("pk"), oldest=Min("occurred_at")
    )
    lag = (timezone.now() - waiting["oldest"]).total_seconds() if waiting["oldest"] else 0.0
    # Events are never deleted and a chain's head only moves on: a counter.
    yield CounterMetricFamily(
        "failsafe_audit_events_sealed",
        "Audit events sealed into the hash chains (all chains together).",
        value=sealed,
    )
    yield GaugeMetricFamily(
        "failsafe_audit_events_unsealed",
        "Audit events written but not yet sealed into their chain.",
        value=waiting["n"],
    )
    yield GaugeMetricFamily(
        "failsafe_audit_seal_lag_seconds",
        "How long the oldest unsealed audit event has waited (0 when none waits).",
        value=max(0.0, lag),
    )


register(audit_metrics)


# --- the endpoint ---------------------------------------------------------------------------
@cache
def _networks(
    allowed: tuple[str, ...],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    try:
        return tuple(ipaddress.ip_network(net, strict=False) for net in allowed)
    except ValueError as error:
        raise ImproperlyConfigured(f"METRICS_ALLOWED_NETWORKS: {error}") from None


def may_scrape(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if token:
        scheme, _, offered = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(offered.strip(), token):
            return True
    if "X-Forwarded-For" in request.headers or "Forwarded" in request.headers:
        return False  # through a proxy: the address is the proxy's, not the scraper's
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in net for net in _networks(tuple(settings.METRICS_ALLOWED_NETWORKS)))


@cache
def _multiprocess_registry() -> CollectorRegistry:
    # gunicorn with PROMETHEUS_MULTIPROC_DIR: every worker's request metrics, summed from
    # the files the workers write, plus the database's (the same from every process).
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    registry.register(COLLECTOR)
    return registry


@login_not_required
@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    if not may_scrape(request):
        return HttpResponseForbidden("Metrics are open to allowed networks or a bearer token.\n")
    multi = "PROMETHEUS_MULTIPROC_DIR" in os.environ
    registry = _multiprocess_registry() if multi else REGISTRY
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
