"""Registering a release (the stack and its model card) and submitting it for review."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from governance import audit
from governance.models import RiskCategory
from governance.permissions import require
from governance.roles import Action
from governance.validators import check_value
from releases.content import content_digest, release_content, stack_digest
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
    based_on: Release | None = None,
) -> Release:
    """Register a draft release: the whole decision stack and its model card.

    `based_on`: the release of the same system its author started from (the form prefilled
    its stack and card); the release page then diffs against it.
    """
    require(actor, Action.REGISTER_RELEASE, system)
    if based_on is not None and based_on.system_id != system.pk:
        raise ValidationError({"based_on": "Start from a release of the same system."})
    return register_draft(
        author=actor, system=system, version=version, title=title, card=card,
        components=components, change_categories=change_categories, based_on=based_on,
    )  # fmt: skip


def register_draft(
    *,
    author: User | None,
    system: AISystem,
    version: str,
    title: str,
    card: dict[str, str],
    components: Iterable[dict[str, Any]],
    change_categories: Iterable[str] = (),
    provenance: dict[str, Any] | None = None,
    based_on: Release | None = None,
) -> Release:
    """The registration itself, once the caller has checked who may register: a person
    (`create_release`), or, with no author, the registry intake for a followed model
    (releases.services.intake), which says where the release came from in `provenance`."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("register_draft runs inside its caller's transaction")
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
        system=system, version=version, title=title, author=author, change_categories=categories,
        stack_digest=stack_digest(stack), based_on=based_on, **card,
    )  # fmt: skip
    ReleaseComponent.objects.bulk_create(ReleaseComponent(release=release, **c) for c in stack)
    after = _snapshot(release)
    if based_on is not None:
        after["based_on"] = based_on.version
    if provenance:
        after["registered_from"] = provenance
    audit.record_event(
        actor=author, action="release.created", obj=release, system=system, after=after
    )
    drill = drills.fresh_drill(system)
    if drill is not None:  # the rollback path was proven lately: that holds for this one too
        drills.record_drill_on(release, drill)
    return release


@transaction.atomic
def register_release(
    *,
    actor: User,
    system: AISystem,
    version: str,
    title: str,
    card: dict[str, str],
    components: Iterable[dict[str, Any]],
    change_categories: Iterable[str] = (),
) -> tuple[Release, bool]:
    """Register a draft, or find the release that already holds this very stack: what a CI
    job calls, which may post the same stack twice. Returns (release, created).

    The stack's digest (its six components, not its name or card) is the key:
    - the same stack under the same version: that release, unchanged (a replay);
    - the same stack under another version: refused (StackConflict, which names the
      release that holds it): a version is what approvals and incidents cite, so Failsafe
      neither answers with a release of another name nor registers the same artefacts twice;
    - a new stack: a new draft, as `create_release`.
    """
    require(actor, Action.REGISTER_RELEASE, system)
    stack = _clean_components(components)
    digest = stack_digest(stack)
    # Two posts of one stack at once: the second waits here for the first to commit, then
    # finds its release instead of registering the stack a second time.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_STACK_LOCK, system.pk])
    held = (
        Release.objects.filter(system=system, stack_digest=digest)
        .select_related("system")
        .order_by("created_at", "id")
        .first()
    )
    if held is not None:
        if held.version != version.strip():
            raise StackConflict(held)
        return held, False
    release = register_draft(
        author=actor, system=system, version=version, title=title, card=card, components=stack,
        change_categories=change_categories,
    )  # fmt: skip
    return release, True


_STACK_LOCK = 0x5354  # the advisory lock class of "a system's stacks" (with the system's id)


class StackConflict(ValidationError):
    """The stack is registered already, under another version: `release` holds it."""

    def __init__(self, release: Release) -> None:
        self.release = release
        status = release.get_status_display().lower()
        super().__init__(
            {
                "components": f"This stack is registered already, as {release.version} "
                f"(release {release.pk}, {status}): register it under that version, or "
                "change the stack."
            }
        )


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
    claimed = _claim(release, actor)

    release.title = title.strip()
    for name, value in card.items():
        setattr(release, name, value)
    release.change_categories = categories
    release.stack_digest = stack_digest(stack)
    release.save()
    release.components.all().delete()
    ReleaseComponent.objects.bulk_create(ReleaseComponent(release=release, **c) for c in stack)
    after = _snapshot(release)
    if claimed:
        before["author"], after["author"] = None, actor.get_username()
    if after != before:
        audit.record_event(
            actor=actor, action="release.updated", obj=release, system=release.system,
            before=before, after=after,
        )  # fmt: skip
    return release


def _claim(release: Release, actor: User) -> bool:
    """A draft the registry intake registered has no author: the first person to change or
    submit it takes it over (and so never approves it). Whether `actor` just did."""
    if release.author_id is not None:
        return False
    release.author = actor
    return True


# The registry intake starts each card field it prefilled with this: the model owner reads
# and rewrites it, and a card that still holds it is not submitted.
TO_REVIEW = "[To review] "


def submission_problems(release: Release) -> list[str]:
    """Everything that stands between a draft and review, in words a model owner can act on."""
    problems: list[str] = []
    if release.system.risk_category == RiskCategory.PROHIBITED:
        problems.append("The system's use is a prohibited practice (EU AI Act Art. 5).")
    unreviewed = [
        name.replace("_", " ")
        for name in MODEL_CARD_FIELDS
        if getattr(release, name).startswith(TO_REVIEW.strip())
    ]
    if unreviewed:
        problems.append(
            "The model card still holds text the registry intake prefilled, marked "
            f"{TO_REVIEW.strip()}: review and rewrite {', '.join(unreviewed)}."
        )
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

    claimed = _claim(release, actor)
    release.status = ReleaseStatus.IN_REVIEW
    release.submitted_at = timezone.now()
    release.content_digest = content_digest(release)
    release.save(update_fields=["status", "submitted_at", "content_digest", "author"])
    before: dict[str, Any] = {"status": ReleaseStatus.DRAFT}
    after: dict[str, Any] = {"status": release.status, "content_digest": release.content_digest}
    if claimed:
        before["author"], after["author"] = None, actor.get_username()
    audit.record_event(
        actor=actor, action="release.submitted", obj=release, system=release.system,
        before=before, after=after,
    )  # fmt: skip
    return release
