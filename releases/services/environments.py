"""Environments of a system and the deployment backend each one uses."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify

from governance import audit
from governance.permissions import require
from governance.roles import Action
from governance.validators import check_value, validate_backend_config
from releases.models import BackendType, Environment

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from governance.models import AISystem


def _state(environment: Environment) -> dict[str, Any]:
    # Secrets are never written to the audit trail: only which ones are set.
    return {
        "name": environment.name,
        "slug": environment.slug,
        "is_production": environment.is_production,
        "backend_type": environment.backend_type,
        "backend_config": environment.backend_config,
        "backend_secrets_set": sorted(environment.backend_secrets or {}),
        "prometheus_url": environment.prometheus_url,
        "prometheus_token_set": bool((environment.prometheus_secrets or {}).get("token")),
    }


MAX_TOKEN = 4096


def _prometheus(url: Any, token: Any) -> tuple[str, dict[str, str] | None]:
    """The Prometheus URL and secrets to store (None: keep the stored secrets), checked."""
    errors = {}
    url = url.strip() if isinstance(url, str) else url
    if not isinstance(url, str):
        errors["prometheus_url"] = "The Prometheus URL is text."
    elif url:
        try:
            check_value(Environment, "prometheus_url", url)
        except ValidationError as error:
            errors["prometheus_url"] = " ".join(error.messages)
    if token is not None and (
        not isinstance(token, str)
        or len(token) > MAX_TOKEN
        or any(ord(c) < 0x20 or ord(c) == 0x7F for c in token)
    ):
        errors["prometheus_token"] = (
            f"The Prometheus token is at most {MAX_TOKEN} printable characters on one line."
        )
    if errors:
        raise ValidationError(errors)
    secrets = None if token is None else ({"token": token.strip()} if token.strip() else {})
    return url, secrets


def _validate(*, backend_type: str, backend_config: Any, backend_secrets: Any) -> None:
    errors = {}
    if backend_type not in BackendType.values:
        errors["backend_type"] = f"Unknown backend type {backend_type!r}."
    if not isinstance(backend_config, dict):
        errors["backend_config"] = "Backend settings are a JSON object."
    else:
        try:
            validate_backend_config(backend_config)
        except ValidationError as error:
            errors["backend_config"] = " ".join(error.messages)
    if not isinstance(backend_secrets, dict) or not all(
        isinstance(v, str) for v in backend_secrets.values()
    ):
        errors["backend_secrets"] = "Backend secrets are a JSON object of strings."
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def create_environment(
    *,
    actor: User,
    system: AISystem,
    name: str,
    is_production: bool = False,
    backend_type: str = BackendType.LOCAL,
    backend_config: dict[str, Any] | None = None,
    backend_secrets: dict[str, str] | None = None,
    slug: str = "",
    prometheus_url: str = "",
    prometheus_token: str | None = None,
) -> Environment:
    """Add an environment; its Prometheus (URL and bearer token, stored encrypted) is what
    the plans' PromQL triggers and the stages' analyses ask."""
    require(actor, Action.CHANGE, system)
    backend_config = backend_config if backend_config is not None else {}
    backend_secrets = backend_secrets if backend_secrets is not None else {}
    _validate(
        backend_type=backend_type, backend_config=backend_config, backend_secrets=backend_secrets
    )
    prometheus_url, prometheus_secrets = _prometheus(prometheus_url, prometheus_token)
    name = name.strip()
    slug = slug or slugify(name)[:40]
    if not name or not slug:
        raise ValidationError({"name": "Name the environment."})
    if Environment.objects.filter(system=system, slug=slug).exists():
        raise ValidationError({"name": f"{system.name} already has an environment {slug!r}."})
    environment = Environment.objects.create(
        system=system, name=name, slug=slug, is_production=is_production,
        position=Environment.objects.filter(system=system).count(), backend_type=backend_type,
        backend_config=backend_config, backend_secrets=backend_secrets,
        prometheus_url=prometheus_url, prometheus_secrets=prometheus_secrets or {},
    )  # fmt: skip
    audit.record_event(
        actor=actor, action="environment.created", obj=environment, system=system,
        after=_state(environment),
    )  # fmt: skip
    return environment


@transaction.atomic
def update_environment(
    *,
    actor: User,
    environment: Environment,
    name: str,
    is_production: bool,
    backend_type: str,
    backend_config: dict[str, Any],
    backend_secrets: dict[str, str] | None = None,
    prometheus_url: str | None = None,
    prometheus_token: str | None = None,
) -> Environment:
    """Change an environment. Secrets (and the Prometheus URL) left as None keep their
    current values; an empty Prometheus token removes it."""
    environment = Environment.objects.select_for_update(no_key=True, of=("self",)).get(
        pk=environment.pk
    )
    require(actor, Action.CHANGE, environment.system)
    secrets = environment.backend_secrets if backend_secrets is None else backend_secrets
    _validate(backend_type=backend_type, backend_config=backend_config, backend_secrets=secrets)
    url, prometheus_secrets = _prometheus(
        environment.prometheus_url if prometheus_url is None else prometheus_url, prometheus_token
    )
    if not name.strip():
        raise ValidationError({"name": "Name the environment."})
    before = _state(environment)
    environment.name, environment.is_production = name.strip(), is_production
    environment.backend_type, environment.backend_config = backend_type, backend_config
    environment.backend_secrets = secrets
    environment.prometheus_url = url
    if prometheus_secrets is not None:
        environment.prometheus_secrets = prometheus_secrets
    environment.save()
    after = _state(environment)
    if after != before:
        audit.record_event(
            actor=actor, action="environment.updated", obj=environment,
            system=environment.system, before=before, after=after,
        )  # fmt: skip
    return environment
