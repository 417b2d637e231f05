"""The draft a new model version becomes, built from what is live.

The base is the release live in the system's *first environment*: its production
environment (the first, in the environments' own order, if several are marked production),
else its first environment in that order (position, then name). Production is what a new
model version would replace, so its stack is the one to carry forward; without a production
environment, the first environment is where the owners put what they release first. When
nothing is live there, the base is the system's latest release, whatever its state; a
system with no release at all has no stack to carry, and the import says so.

From the base the draft takes the five other components as they are and its model card,
each field marked TO_REVIEW for the model owner to rewrite (what changed says what the
intake knows: the model version, its run, the version it replaces). The model component
becomes `models:/<name>/<version>` with MLflow's version number and the MLmodel file's
sha256 (releases.intake.registry). The change categories are the ones the stack's diff
suggests (releases.content.suggest_categories), the flavors of the MLmodel compared with
the base's when the base came from MLflow too.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from governance.limits import NAME, PROSE, shorten
from releases import queries
from releases.content import stack_of, suggest_categories
from releases.models import (
    MODEL_CARD_FIELDS,
    ComponentKind,
    Environment,
    RegistryVersion,
    Release,
)
from releases.services.registration import TO_REVIEW

if TYPE_CHECKING:
    from governance.models import AISystem
    from releases.intake.registry import ModelVersionFacts

VERSION_LENGTH = Release._meta.get_field("version").max_length or 64


class NoBase(Exception):
    """Nothing to carry the rest of the stack from."""


@dataclass(frozen=True)
class Draft:
    base: Release
    base_where: str  # "live in Production", "the latest release"
    version: str
    title: str
    card: dict[str, str]
    components: list[dict[str, str]]
    change_categories: list[str]


def first_environment(system: AISystem) -> Environment | None:
    environments = list(Environment.objects.filter(system=system).order_by("position", "name"))
    production = [e for e in environments if e.is_production]
    first = production or environments
    return first[0] if first else None


def base_release(system: AISystem) -> tuple[Release, str]:
    environment = first_environment(system)
    if environment is not None:
        live = queries.live_release(environment)
        if live is not None:
            return _with_stack(live), f"live in {environment.name}"
    latest = Release.objects.filter(system=system).order_by("-created_at", "-id").first()
    if latest is None:
        raise NoBase(
            f"{system.name} has no release to carry the rest of the stack from: register its "
            "first release by hand; from then on, new model versions arrive as drafts."
        )
    where = (
        f"the latest release ({environment.name} has none live)"
        if environment
        else ("the latest release (no environment yet)")
    )
    return _with_stack(latest), where


def _with_stack(release: Release) -> Release:
    return Release.objects.prefetch_related("components").get(pk=release.pk)


def release_version(name: str, version: str) -> str:
    """`fraud-gbm-v3`; a long model name is cut (and told apart by a hash) to fit."""
    wanted = f"{name}-v{version}"
    if len(wanted) <= VERSION_LENGTH:
        return wanted
    tag = hashlib.sha256(name.encode()).hexdigest()[:8]
    keep = VERSION_LENGTH - len(f"-{tag}-v{version}")
    return f"{name[:keep]}-{tag}-v{version}"


def draft_for(system: AISystem, facts: ModelVersionFacts) -> Draft:
    base, where = base_release(system)
    before = stack_of(base)
    model = {
        "kind": ComponentKind.MODEL.value,
        "version": facts.version,
        "uri": f"models:/{facts.name}/{facts.version}",
        "digest": facts.digest,
    }
    components = [model if c["kind"] == ComponentKind.MODEL else c for c in before]
    base_import = RegistryVersion.objects.filter(release=base).only("flavors").first()
    flavors = (list(base_import.flavors), facts.flavors) if base_import else None
    categories = suggest_categories(before, components, flavors=flavors)
    return Draft(
        base=base,
        base_where=where,
        version=release_version(facts.name, facts.version),
        title=shorten(f"{facts.name} version {facts.version} from MLflow", NAME),
        card=_card(base, facts),
        components=components,
        change_categories=[c.value for c in categories],
    )


def _card(base: Release, facts: ModelVersionFacts) -> dict[str, str]:
    replaced = next((c for c in base.components.all() if c.kind == ComponentKind.MODEL), None)
    what = (
        f"MLflow model {facts.name} version {facts.version}"
        + (f" (run {facts.run_id})" if facts.run_id else "")
        + f" replaces the model of {base.version}"
        + (f" ({replaced.uri})" if replaced else "")
        + "; the rest of the stack is carried over."
        + (f" MLflow's description: {facts.description}" if facts.description else "")
    )
    card: dict[str, Any] = {name: getattr(base, name) for name in MODEL_CARD_FIELDS}
    card["what_changed"] = what
    return {
        name: shorten(TO_REVIEW + value.removeprefix(TO_REVIEW), PROSE)
        for name, value in card.items()
    }


@dataclass(frozen=True)
class StartingPoint:
    """A release a model owner may start a new one from, and where it stands."""

    release: Release
    where: str  # "live in Production", "rolled back", "draft"


STARTING_POINTS_MAX = 50  # earlier releases offered besides the live ones


def starting_points(systems: Any) -> tuple[list[StartingPoint], list[StartingPoint]]:
    """What "New release" offers to start from, in the given systems: the release live in each
    environment (the first environment first, as `base_release` prefers it), then the
    newest other releases, whatever their state (an earlier release is a fine base too)."""
    environments = queries.with_live(
        Environment.objects.filter(system__in=systems).select_related("system")
    ).order_by("system__name", "-is_production", "position", "name")
    live: list[StartingPoint] = []
    for environment in environments:
        release = queries.live_release(environment)
        if release is not None:
            release.system = environment.system  # the label names it: no query per release
            live.append(StartingPoint(release, f"live in {environment.name}"))
    shown = {point.release.pk for point in live}
    earlier = (
        Release.objects.filter(system__in=systems)
        .exclude(pk__in=shown)
        .select_related("system")
        .order_by("-created_at", "-id")[:STARTING_POINTS_MAX]
    )
    return live, [StartingPoint(r, r.get_status_display().lower()) for r in earlier]
