"""What changed since the previous version? A release's diff, component by component and
model-card field by field, against the release it replaced (else the one registered before).

The previous versions of any number of releases are found in three queries. See
`governance.evidence.questions.answer_all` for the answer's shape.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from governance.evidence.questions import Params
from releases.content import diff
from releases.evidence.shared import Answer, component, find_release, release_ref, with_stack
from releases.models import Deployment, Release

if TYPE_CHECKING:
    from governance.models import AISystem


def _bases(releases: list[Release]) -> dict[int, tuple[Release | None, str]]:
    """Each release's previous version: the release it replaced when it first went live in
    production (else in the first environment it reached), else the one registered before
    it. Three queries, whatever the number of releases."""
    ids = [r.pk for r in releases]
    if not ids:
        return {}
    system_ids = {r.system_id for r in releases}
    periods = (
        Deployment.objects.filter(environment__system_id__in=system_ids)
        .select_related("environment")
        .order_by("started_at", "id")
    )
    # release id → (replaced release id, reason), production first
    replaced: dict[int, tuple[int, str]] = {}
    replaced_outside: dict[int, tuple[int, str]] = {}
    last_in: dict[int, Deployment] = {}  # environment id → the period before
    for period in periods.iterator():
        before = last_in.get(period.environment_id)
        if (
            period.via == "rollout"
            and before is not None
            and before.release_id != period.release_id
        ):
            hit = (before.release_id, f"the release it replaced in {period.environment.name}")
            if period.environment.is_production:
                replaced.setdefault(period.release_id, hit)
            else:
                replaced_outside.setdefault(period.release_id, hit)
        last_in[period.environment_id] = period
    for release_id, hit in replaced_outside.items():
        replaced.setdefault(release_id, hit)
    registered = list(
        Release.objects.filter(system_id__in=system_ids)
        .order_by("created_at", "id")
        .values_list("pk", "system_id")
    )
    previous: dict[int, int] = {}
    last_of: dict[int, int] = {}
    for pk, system_id in registered:
        if system_id in last_of:
            previous[pk] = last_of[system_id]
        last_of[system_id] = pk
    wanted = {replaced[pk][0] for pk in ids if pk in replaced} | {
        previous[pk] for pk in ids if pk not in replaced and pk in previous
    }
    found = {r.pk: r for r in with_stack(Release.objects.filter(pk__in=wanted))}
    bases: dict[int, tuple[Release | None, str]] = {}
    for pk in ids:
        if pk in replaced:
            bases[pk] = (found[replaced[pk][0]], replaced[pk][1])
        elif pk in previous:
            bases[pk] = (found[previous[pk]], "the version registered before it")
        else:
            bases[pk] = (None, "the first release of the system")
    return bases


def _changes(release: Release, base: Release | None, reason: str) -> Answer:
    changes = diff(release, base)  # the release page's diff, on prefetched components
    return {
        "release": release_ref(release),
        "base": release_ref(base) if base is not None else None,
        "base_reason": reason,
        "components": [
            {
                "kind": c.kind.value,
                "label": c.kind.label,
                "before": component(c.before),
                "after": component(c.after),
                "changed": c.changed,
                "fields_changed": c.fields_changed if c.changed else [],
            }
            for c in changes.components
        ],
        "card": [
            {
                "field": c.field,
                "label": c.label,
                "before": c.before,
                "after": c.after,
                "changed": c.changed,
            }
            for c in changes.card
        ],
        "change_categories": [{"value": c.value, "label": c.label} for c in changes.categories],
    }


def answer_changes(system: AISystem, params: Params) -> Answer:
    release = find_release(system, params.release, with_stack(Release.objects.all()))
    if release is None:
        return {"release": None}
    base, reason = _bases([release])[release.pk]
    return _changes(release, base, reason)


def answer_changes_period(system: AISystem, start: datetime, end: datetime) -> Answer:
    went_live = Deployment.objects.filter(
        environment__system=system, via="rollout", started_at__gte=start, started_at__lt=end
    )
    releases = list(
        with_stack(Release.objects.filter(pk__in=went_live.values("release_id"))).order_by(
            "created_at", "id"
        )
    )
    bases = _bases(releases)
    return {"releases": [_changes(r, *bases[r.pk]) for r in releases]}
