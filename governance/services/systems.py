"""The AI system inventory: registering a system and changing its record and owners."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.text import slugify

from governance import audit
from governance.grants import add_grant, remove_grant
from governance.models import (
    AISystem,
    DriftSeverity,
    OperatorRole,
    ReportingRegime,
    RiskCategory,
)
from governance.permissions import limited_to, require
from governance.roles import Action, Role
from governance.validators import check_value

if TYPE_CHECKING:
    from django.contrib.auth.models import User


SYSTEM_FIELDS = (
    "name", "slug", "intended_purpose", "risk_category", "operator_role", "reporting_regime",
    "drift_severity",
)  # fmt: skip


def _system_state(system: AISystem) -> dict:
    state = audit.snapshot(system, SYSTEM_FIELDS)
    state["pages_pagerduty"] = bool(system.pagerduty_routing_key)  # whether, never the key
    state["posts_to_slack"] = bool(system.slack_bot_token)  # whether, never the token
    state["slack_channel_id"] = system.slack_channel_id
    state["owners"] = sorted(
        system.role_grants.filter(role=Role.OWNER, user__isnull=False).values_list(
            "user__username", flat=True
        )
    )
    return state


def _routing_key(key: str) -> str:
    """A PagerDuty integration key: 32 letters and digits (Events API v2), or blank."""
    key = key.strip()
    if key and (len(key) != 32 or not key.isascii() or not key.isalnum()):
        said = (
            "A PagerDuty integration key is 32 letters and digits: copy it from the "
            "service's Events API v2 integration."
        )
        raise ValidationError({"pagerduty_routing_key": said})
    return key


def _slack(token: str, channel: str) -> tuple[str, str]:
    """A Slack bot token (xoxb-…) and the channel id it posts to (C…, G…): both, or neither."""
    token, channel = token.strip(), channel.strip().upper()
    errors = {}
    if token and (not token.startswith("xoxb-") or not token.isascii() or " " in token):
        errors["slack_bot_token"] = (
            "A Slack bot token starts with xoxb-: copy the Bot User OAuth Token from the "
            "Slack app's OAuth & Permissions page."
        )
    if channel and not re.fullmatch(r"[CG][A-Z0-9]{6,30}", channel):
        errors["slack_channel_id"] = (
            "A channel id is a C or G and letters and digits (the channel's details in Slack "
            "show it), not its #name."
        )
    if bool(token) != bool(channel) and not errors:
        field = "slack_channel_id" if token else "slack_bot_token"
        errors[field] = "Slack needs both the bot token and the channel id."
    if errors:
        raise ValidationError(errors)
    return token, channel


def _check_unique(*, name: str, slug: str, exclude_pk: int | None = None) -> None:
    errors: dict[str, str] = {}
    others = (
        AISystem.objects.all() if exclude_pk is None else AISystem.objects.exclude(pk=exclude_pk)
    )
    if others.filter(name__iexact=name).exists():
        errors["name"] = "An AI system with this name already exists."
    if others.filter(slug=slug).exists():
        errors["slug"] = "An AI system with this slug already exists."
    if errors:
        raise ValidationError(errors)


def _check_choices(
    *, risk_category: str, operator_role: str, reporting_regime: str, drift_severity: str = ""
) -> None:
    errors = {}
    if drift_severity not in DriftSeverity.values:
        errors["drift_severity"] = "Choose a severity for an ungoverned change, or the risk tier's."
    if risk_category not in RiskCategory.values:
        errors["risk_category"] = "Choose a valid EU AI Act risk category."
    if operator_role not in OperatorRole.values:
        errors["operator_role"] = "Choose the organisation's role: provider or deployer."
    if reporting_regime not in ReportingRegime.values:
        errors["reporting_regime"] = "Choose which law its serious incidents are reported under."
    if errors:
        raise ValidationError(errors)


def _check_text(**values: str) -> None:
    """The inventory entry's text within the model's caps (the API and forms check it too)."""
    for field, value in values.items():
        check_value(AISystem, field, value)


def check_may_register_system(actor: User) -> None:
    """Registering a system is a global right, and no API token's (tokens are per system)."""
    if not actor.has_perm("governance.add_aisystem"):
        raise PermissionDenied("You may not register AI systems.")
    if limited_to() is not None:
        raise PermissionDenied("An API token acts on its one system: it cannot register another.")


@transaction.atomic
def create_system(
    *,
    actor: User,
    name: str,
    intended_purpose: str,
    risk_category: str,
    slug: str = "",
    owners: Iterable[User] = (),
    operator_role: str = OperatorRole.PROVIDER,
    reporting_regime: str = ReportingRegime.AI_ACT,
    drift_severity: str = DriftSeverity.BY_RISK,
    pagerduty_routing_key: str = "",
    slack_bot_token: str = "",
    slack_channel_id: str = "",
) -> AISystem:
    """Register an AI system; the creator and the named owners hold the owner role on it."""
    check_may_register_system(actor)
    _check_text(name=name, intended_purpose=intended_purpose)
    slug = slug or slugify(name)[:80]
    if not slug:
        raise ValidationError({"slug": "Give a slug of letters, digits and hyphens."})
    _check_choices(
        risk_category=risk_category, operator_role=operator_role,
        reporting_regime=reporting_regime, drift_severity=drift_severity,
    )  # fmt: skip
    _check_unique(name=name, slug=slug)
    slack_bot_token, slack_channel_id = _slack(slack_bot_token, slack_channel_id)

    system = AISystem.objects.create(
        name=name,
        slug=slug,
        intended_purpose=intended_purpose,
        risk_category=risk_category,
        operator_role=operator_role,
        reporting_regime=reporting_regime,
        drift_severity=drift_severity,
        pagerduty_routing_key=_routing_key(pagerduty_routing_key),
        slack_bot_token=slack_bot_token,
        slack_channel_id=slack_channel_id,
        created_by=actor,
    )
    for owner in {actor, *owners}:
        add_grant(system=system, role=Role.OWNER, user=owner, granted_by=actor)
    audit.record_event(
        actor=actor, action="system.created", obj=system, system=system, after=_system_state(system)
    )
    return system


@transaction.atomic
def update_system(
    *,
    actor: User,
    system: AISystem,
    name: str,
    slug: str,
    intended_purpose: str,
    risk_category: str,
    owners: Iterable[User] | None = None,
    operator_role: str | None = None,
    reporting_regime: str | None = None,
    drift_severity: str | None = None,
    pagerduty_routing_key: str | None = None,
    slack_bot_token: str | None = None,
    slack_channel_id: str | None = None,
) -> AISystem:
    """Edit the inventory entry. Owners, if given, replace the current owner grants; the role,
    the reporting regime, the ungoverned change's severity, the PagerDuty routing key and
    the Slack token and channel, if not given, stay as they are (a blank key turns paging
    off; a blank token and channel, Slack)."""
    system = AISystem.objects.select_for_update(no_key=True, of=("self",)).get(pk=system.pk)
    require(actor, Action.CHANGE, system)
    _check_text(name=name, intended_purpose=intended_purpose)
    operator_role = system.operator_role if operator_role is None else operator_role
    reporting_regime = system.reporting_regime if reporting_regime is None else reporting_regime
    drift_severity = system.drift_severity if drift_severity is None else drift_severity
    _check_choices(
        risk_category=risk_category, operator_role=operator_role,
        reporting_regime=reporting_regime, drift_severity=drift_severity,
    )  # fmt: skip
    _check_unique(name=name, slug=slug, exclude_pk=system.pk)
    before = _system_state(system)

    system.name, system.slug = name, slug
    system.intended_purpose, system.risk_category = intended_purpose, risk_category
    system.operator_role, system.reporting_regime = operator_role, reporting_regime
    system.drift_severity = drift_severity
    if pagerduty_routing_key is not None:
        system.pagerduty_routing_key = _routing_key(pagerduty_routing_key)
    if slack_bot_token is not None or slack_channel_id is not None:
        token = system.slack_bot_token if slack_bot_token is None else slack_bot_token
        channel = system.slack_channel_id if slack_channel_id is None else slack_channel_id
        system.slack_bot_token, system.slack_channel_id = _slack(token or "", channel)
    system.save()
    if owners is not None:
        _replace_owners(system=system, owners=set(owners), actor=actor)

    after = _system_state(system)
    if after != before:
        audit.record_event(
            actor=actor,
            action="system.updated",
            obj=system,
            system=system,
            before=before,
            after=after,
        )
    return system


def _replace_owners(*, system: AISystem, owners: set[User], actor: User) -> None:
    if not owners:
        raise ValidationError({"owners": "A system needs at least one owner."})
    grants = system.role_grants.filter(role=Role.OWNER, user__isnull=False).select_related("user")
    current = {g.user: g for g in grants if g.user is not None}
    for user in owners - current.keys():
        add_grant(system=system, role=Role.OWNER, user=user, granted_by=actor)
    for user in current.keys() - owners:
        remove_grant(current[user])
