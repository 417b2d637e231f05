"""Volume for query-count tests and benchmarks: rows written in bulk, not through services.

These rows are data, not decisions: they stand in for history that the services would
have written, so pages and queries can be measured against realistic volumes quickly.
"""

from __future__ import annotations

import hashlib
import itertools

from django.utils import timezone

from releases.models import (
    Approval,
    ComponentKind,
    Decision,
    Deployment,
    Environment,
    GateCheck,
    GateCriterion,
    Release,
    ReleaseComponent,
    ReleaseStatus,
)
from tests.fixtures.releases import CARD

_counter = itertools.count(1)


def bulk_releases(system, author, count: int, status: str = ReleaseStatus.IN_REVIEW):  # type: ignore[no-untyped-def]
    releases = Release.objects.bulk_create(
        Release(
            system=system,
            version=f"bulk-{next(_counter)}",
            title="Bulk release",
            author=author,
            change_categories=["major_dataset_refresh"],
            **CARD,
        )
        for _ in range(count)
    )
    ReleaseComponent.objects.bulk_create(
        ReleaseComponent(
            release=release,
            kind=kind,
            version=f"{kind}-{release.version}",
            uri=f"s3://bulk/{release.version}/{kind}",
            digest=hashlib.sha256(f"{release.pk}{kind}".encode()).hexdigest(),
        )
        for release in releases
        for kind in ComponentKind.values
    )
    # Submitted last, as the service does: the database freezes the stack from then on.
    now = timezone.now()
    Release.objects.filter(pk__in=[r.pk for r in releases]).update(
        status=status, submitted_at=now, content_digest="0" * 64
    )
    for release in releases:
        release.status, release.submitted_at, release.content_digest = status, now, "0" * 64
    return releases


def bulk_gate_checks(release, recorder, count: int) -> None:  # type: ignore[no-untyped-def]
    criteria = itertools.cycle(GateCriterion.values)
    GateCheck.objects.bulk_create(
        GateCheck(
            release=release,
            criterion=next(criteria),
            comparison="attested",
            passed=True,
            evidence_uri="https://evidence.example.com/x",
            recorded_by=recorder,
        )
        for _ in range(count)
    )


def bulk_approvals(release, approvers) -> None:  # type: ignore[no-untyped-def]
    Approval.objects.bulk_create(
        Approval(
            release=release,
            approver=approver,
            decision=Decision.APPROVE,
            comment="ok",
            release_digest=release.content_digest,
        )
        for approver in approvers
    )


def bulk_environments(system, live, count: int) -> list[Environment]:  # type: ignore[no-untyped-def]
    """`count` environments of `system`, each with `live` (a release) live in it."""
    environments = Environment.objects.bulk_create(
        Environment(system=system, name=f"Bulk {n}", slug=f"bulk-{n}")
        for n in (next(_counter) for _ in range(count))
    )
    Deployment.objects.bulk_create(
        Deployment(environment=environment, release=live, started_at=timezone.now(), via="rollout")
        for environment in environments
    )
    return environments
