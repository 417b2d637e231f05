"""Registering a release (the stack and its model card) and submitting it for review."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from governance import audit
from governance.models import RiskCategory
from governance.permissions import require
from governance.roles import Action
from governance.validators import check_value
from releases.content import content_digest, release_content
from releases.gate_policy import evaluate, policy_for
from releases.models import (
    MODEL_CARD_FIELDS,
    ChangeCategory,
    ComponentKind,
    Release,
    ReleaseComponent,
    ReleaseStatus,
)
from releases.services import drills

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from governance.models import AISystem

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _clean_components(components: Iterable[dict[str, Any]]) -> list[dict[str, str]]:
    """Exactly one of each layer, each with a version, a URI and a sha256 digest."""
    by_kind: dict[str, dict[str, str]] = {}
    errors: list[str] = []
    for component in components:
        kind = component.get("kind", "")
        if kind not in ComponentKind.values:
            errors.append(f"Unknown component kind {kind!r}.")
            continue
        if kind in by_kind:
            errors.append(f"{ComponentKind(kind).label} is given twice.")
            continue
        digest = str(component.get("digest", "")).strip().lower().removeprefix("sha256:")
        label = ComponentKind(kind).label
        if not _SHA256.match(digest):
            errors.append(f"{label}: the digest must be a sha256 in hex (64 characters).")
        for name in ("version", "uri"):
            value = str(component.get(name, "")).strip()
            if not value:
                errors.append(f"{label}: give a {name}.")
                continue
            try:
                check_value(ReleaseComponent, name, value)
            except ValidationError as error:
                errors.extend(f"{label} {name}: {message}" for message in error.messages)
        by_kind[kind] = {
            "kind": kind,
            "version": str(component.get("version", "")).strip(),
            "uri": str(component.get("uri", "")).strip(),
            "digest": digest,
        }
    missing = [k.label for k in ComponentKind if k.value not in by_kind]
    if missing:
        errors.append(f"The stack lacks: {', '.join(missing)}.")
    if errors:
        raise ValidationError({"components": errors})
    return [by_kind[k.value] for k in ComponentKind]


def _clean_card(
    card: dict[str, str], categories: Iterable[str]
) -> tuple[dict[str, str], list[str]]:
    errors: dict[str, str] = {}
    cleaned = {name: str(card.get(name, "")).strip() for name in MODEL_CARD_FIELDS}
    for name, value in cleaned.items():
        if not value:
            errors[name] = "The model card needs this."
            continue
        try:
            check_value(Release, name, value)
        except ValidationError as error:
            errors[name] = " ".join(error.messages)
    categories = sorted(set(categories))
    unknown = [c for c in categories if c not in ChangeCategory.values]
    if unknown:
        errors["change_categories"] = f"Unknown change categories: {', '.join(unknown)}."
    if errors:
        raise ValidationError(errors)
    return cleaned, categories


def _snapshot(release: Release) -> dict[str, Any]:
    return {**release_content(release), "status": release.status}


@transaction.atomic
def create_release(
    *,
    actor: User,
    system: AISystem,
    version: str,
    title: str,
    card: dict[str, str],
    components: Iterable[dict[str, Any]],
    change_categories: Iterable[str] = (),
) -> Release:
    """Register a draft release: the whole decision stack and its model card."""
    require(actor, Action.REGISTER_RELEASE, system)
    version, title = version.strip(), title.strip()
    if not version:
        raise ValidationError({"version": "Give the release a version."})
    if not title:
        raise ValidationError({"title": "Give the release a title."})
    check_value(Release, "version", version)
    check_value(Release, "title", title)
    if Release.objects.filter(system=system, version=version).exists():
        raise ValidationError({"version": f"{system.name} already has a release {version}."})
    stack = _clean_components(components)
    card, categories = _clean_card(card, change_categories)

    release = Release.objects.create(
        system=system, version=version, title=title, author=actor, change_categories=categories,
        **card,
    )  # fmt: skip
    ReleaseComponent.objects.bulk_create(ReleaseComponent(release=release, **c) for c in stack)
    audit.record_event(
        actor=actor, action="release.created", obj=release, system=system, after=_snapshot(release)
    )
    drill = drills.fresh_drill(system)
    if drill is not None:  # the rollback path was proven lately: that holds for this one too
        drills.record_drill_on(release, drill)
    return release


@transaction.atomic
def update_release(
    *,
    actor: User,
    release: Release,
    title: str,
    card: dict[str, str],
    components: Iterable[dict[str, Any]],
    change_categories: Iterable[str] = (),
) -> Release:
    """Change a draft. Once submitted, a release is frozen: a change is a new release."""
    release = Release.objects.select_for_update(no_key=True, of=("self",)).get(pk=release.pk)
    require(actor, Action.REGISTER_RELEASE, release.system)
    if release.is_frozen:
        raise ValidationError(
            "This release was submitted for review and is frozen; register a new version instead."
        )
    if not title.strip():
        raise ValidationError({"title": "Give the release a title."})
    check_value(Release, "title", title.strip())
    stack = _clean_components(components)
    card, categories = _clean_card(card, change_categories)
    before = _snapshot(release)

    release.title = title.strip()
    for name, value in card.items():
        setattr(release, name, value)
    release.change_categories = categories
    release.save()
    release.components.all().delete()
    ReleaseComponent.objects.bulk_create(ReleaseComponent(release=release, **c) for c in stack)
    after = _snapshot(release)
    if after != before:
        audit.record_event(
            actor=actor, action="release.updated", obj=release, system=release.system,
            before=before, after=after,
        )  # fmt: skip
    return release


def submission_problems(release: Release) -> list[str]:
    """Everything that stands between a draft and review, in words a model owner can act on."""
    problems: list[str] = []
    if release.system.risk_category == RiskCategory.PROHIBITED:
        problems.append("The system's use is a prohibited practice (EU AI Act Art. 5).")
    evaluation = evaluate(release, policy_for(release.system))
    for state in evaluation.missing:
        what = "has not passed" if state.check is not None else "has no gate check"
        problems.append(f"{state.criterion.label} {what}.")
    plan = getattr(release, "rollback_plan", None)
    if plan is None:
        problems.append("There is no rollback plan.")
    elif not plan.owners.exists():
        problems.append("The rollback plan names no rollback owner.")
    return problems


@transaction.atomic
def submit_release(*, actor: User, release: Release) -> Release:
    """Freeze the release and put it in front of the approvers."""
    release = (
        Release.objects.select_for_update(no_key=True, of=("self",))
        .select_related("system")
        .get(pk=release.pk)
    )
    require(actor, Action.REGISTER_RELEASE, release.system)
    if release.status != ReleaseStatus.DRAFT:
        raise ValidationError(
            "Only a draft can be submitted; "
            f"this release is {release.get_status_display().lower()}."
        )
    problems = submission_problems(release)
    if problems:
        raise ValidationError(problems)

    release.status = ReleaseStatus.IN_REVIEW
    release.submitted_at = timezone.now()
    release.content_digest = content_digest(release)
    release.save(update_fields=["status", "submitted_at", "content_digest"])
    audit.record_event(
        actor=actor, action="release.submitted", obj=release, system=release.system,
        before={"status": ReleaseStatus.DRAFT},
        after={"status": release.status, "content_digest": release.content_digest},
    )  # fmt: skip
    return release
