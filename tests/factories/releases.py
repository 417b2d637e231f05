"""Releases in each state of their way to production, built through releases.services.

    DraftReleaseFactory      registered (create_release)
    ReadyReleaseFactory      + every gate passed (record_gate_check), a rollback plan
                               (save_rollback_plan)
    SubmittedReleaseFactory  + submitted to the approvers (submit_release)
    ApprovedReleaseFactory   + approved by two release managers (record_approval)
    LiveDeploymentFactory    an approved release gone live in an environment
                               (promote_release, apply_rollout_step): the Deployment

Called bare, a factory builds the whole way there. Given `release=` (a release already in the
state before), it takes only the last step: `ApprovedReleaseFactory(release=submitted,
approvers=[ravi, rita])` records the two approvals and nothing else, so fixtures that build on
one another (tests/fixtures/releases.py) keep their order of events.

Who acts defaults to the system's role holders, first granted first (the model owner
registers, gates, plans and submits; the first two release managers approve; the first
rollback owner owns the plan); the system to `fraud`, the environment to its production. The
plan defaults to the `ready` fixture's (auto_propose on the review rate, a 30-minute
cooldown); `manual_plan=True` is the one most releases of the suite carry (manual, no
triggers).
"""

from __future__ import annotations

import hashlib
from typing import Any
from unittest import mock

import factory

from governance.roles import Role
from releases import services
from releases.models import ComponentKind, Deployment, GateCriterion, Release, StepStatus
from releases.services import rollouts
from tests.factories.base import ServiceFactory, fraud, holder, holders, production_of

CARD = {
    "what_changed": "Gradient-boosted model retrained on Q3 data; new velocity features.",
    "why": "Fraud patterns shifted to card testing in small amounts.",
    "data_used": "Payments 2026-07..2026-09, 41M rows, labels from chargebacks.",
    "channels_tested": "Web checkout, mobile app.",
    "expected_benefits": "Recall +3 points at the same review rate.",
    "known_risks": "Higher false positives for first-time buyers.",
    "rollback_trigger": "Review rate above 2.5 % for 15 minutes.",
}

# The trigger of the `ready` fixture's plan: the review rate above 2.5 % for 15 minutes.
REVIEW_RATE_TRIGGER = {
    "metric": "review_rate",
    "comparison": "gt",
    "threshold": "2.5",
    "window_minutes": 15,
}


def stack(version: str) -> list[dict[str, str]]:
    return [
        {
            "kind": kind.value,
            "version": f"{kind.value}-{version}",
            "uri": f"s3://models/fraud/{kind.value}/{version}",
            "digest": hashlib.sha256(f"{kind.value}{version}".encode()).hexdigest(),
        }
        for kind in ComponentKind
    ]


def pass_every_gate(release, actor) -> None:  # type: ignore[no-untyped-def]
    for criterion in GateCriterion:
        services.record_gate_check(
            actor=actor, release=release, criterion=criterion, comparison="attested",
            attested_pass=True, evidence_uri=f"https://wiki.example.com/{criterion}",
        )  # fmt: skip


def go_live(release, actor, environment):  # type: ignore[no-untyped-def]
    """Promote straight to general release and apply the step here, as the worker would.

    The task the promotion schedules is not sent: a worker of the suite applying the same
    step concurrently would race this test's teardown (the flush of a transactional test).
    """
    with mock.patch.object(rollouts, "send_step"):
        step = services.promote_release(
            actor=actor, release=release, environment=environment, stage="general_release",
            traffic_percent=100,
        )  # fmt: skip
    return services.apply_rollout_step(step_id=step.pk)


def role_holder(role: str) -> factory.LazyAttribute:
    return factory.LazyAttribute(lambda o: holder(o.system, role))


def production() -> factory.LazyAttribute:
    return factory.LazyAttribute(lambda o: production_of(o.system))


def rollback_owners() -> factory.LazyAttribute:
    return factory.LazyAttribute(lambda o: [holder(o.system, Role.ROLLBACK_OWNER)])


def unless_given(declaration: Any) -> factory.Maybe:
    """A default needed only when the factory builds the states before its own: given
    `release=`, it is left unset (and not looked up)."""
    return factory.Maybe("release", None, declaration)


class DraftReleaseFactory(ServiceFactory):
    """A draft, registered by the model owner: version 2.0.0 of `fraud`, the suite's card and
    a stack of that version (the `draft` fixture)."""

    class Meta:
        model = Release

    system = factory.LazyFunction(fraud)
    actor = role_holder(Role.MODEL_OWNER)
    version = "2.0.0"
    title = factory.LazyAttribute(lambda o: f"Fraud model {o.version}")
    card = CARD
    components = factory.LazyAttribute(lambda o: stack(o.version))
    change_categories = factory.LazyFunction(lambda: ["major_dataset_refresh"])

    @classmethod
    def _create(cls, model_class: type, **fields: Any) -> Release:
        return services.create_release(**fields)


class ReadyReleaseFactory(DraftReleaseFactory):
    """A draft with every gate passed (attested by its author) and a rollback plan: ready to
    submit (the `ready` fixture). `release=`: the draft to make ready."""

    release = None
    system = factory.LazyAttribute(lambda o: o.release.system if o.release else fraud())
    environment = production()
    rollback_owners = rollback_owners()
    plan_mode = "auto_propose"
    cooldown_minutes = 30
    triggers = factory.LazyFunction(lambda: [dict(REVIEW_RATE_TRIGGER)])

    class Params:
        manual_plan = factory.Trait(plan_mode="manual", triggers=factory.LazyFunction(list))

    @classmethod
    def _create(  # type: ignore[override]
        cls, model_class: type, *, release: Release | None, environment: Any,
        rollback_owners: list[Any], plan_mode: str, cooldown_minutes: int,
        triggers: list[dict[str, Any]], **draft: Any,
    ) -> Release:  # fmt: skip
        if release is None:
            release = super()._create(model_class, **draft)
        pass_every_gate(release, draft["actor"])
        services.save_rollback_plan(
            actor=draft["actor"], release=release, environment=environment,
            owners=rollback_owners, mode=plan_mode, cooldown_minutes=cooldown_minutes,
            triggers=triggers,
        )  # fmt: skip
        return release


class SubmittedReleaseFactory(ReadyReleaseFactory):
    """Ready, and submitted by its author: in review (the `submitted` fixture). `release=`:
    the ready release to submit. Returns what submit_release returns."""

    environment = unless_given(production())
    rollback_owners = unless_given(rollback_owners())

    @classmethod
    def _create(  # type: ignore[override]
        cls, model_class: type, *, release: Release | None, **ready: Any
    ) -> Release:
        if release is None:
            release = super()._create(model_class, release=None, **ready)
        return services.submit_release(actor=ready["actor"], release=release)


class ApprovedReleaseFactory(SubmittedReleaseFactory):
    """Submitted, and approved ("ok") by two release managers (the `approved` fixture).
    `release=`: the submitted release to approve. Returned refreshed: approved."""

    actor = unless_given(role_holder(Role.MODEL_OWNER))
    approvers = factory.LazyAttribute(lambda o: holders(o.system, Role.RELEASE_MANAGER)[:2])
    comment = "ok"

    @classmethod
    def _create(  # type: ignore[override]
        cls, model_class: type, *, release: Release | None, approvers: list[Any], comment: str,
        **submitted: Any,
    ) -> Release:  # fmt: skip
        if release is None:
            release = super()._create(model_class, release=None, **submitted)
        for approver in approvers:
            services.record_approval(
                actor=approver, release=release, decision="approve", comment=comment
            )
        release.refresh_from_db()
        return release


class LiveDeploymentFactory(ServiceFactory):
    """An approved release gone live in an environment, as `go_live` takes it there: promoted
    straight to general release by a release manager, the step applied here as the worker
    would (rollouts.send_step mocked: no task is sent). The Deployment it opened; its
    `release` is the release, live. Without `release=`, an ApprovedReleaseFactory one
    (`release__version="2.1.0"`, …)."""

    class Meta:
        model = Deployment

    release = factory.SubFactory(ApprovedReleaseFactory)
    environment = factory.LazyAttribute(lambda o: production_of(o.release.system))
    actor = factory.LazyAttribute(lambda o: holder(o.release.system, Role.RELEASE_MANAGER))

    @classmethod
    def _create(
        cls, model_class: type, *, release: Release, environment: Any, actor: Any
    ) -> Deployment:
        step = go_live(release, actor, environment)
        if step.status != StepStatus.APPLIED:
            raise AssertionError(f"{release} did not go live in {environment}: {step.error}")
        return Deployment.objects.select_related("release", "environment").get(step=step)
