"""What the state factories share: creating through a service, and their defaults, drawn from
the system's role holders as the suite's personas (tests/conftest.py) grant them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import factory

from governance.models import AISystem, RoleGrant
from releases.models import Environment

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class ServiceFactory(factory.django.DjangoModelFactory):
    """A factory whose `_create` calls the services. A state exists only once the services
    have made it, in the database: there is no unsaved `build`."""

    class Meta:
        abstract = True

    @classmethod
    def _build(cls, model_class: type, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(f"{cls.__name__} creates through the services: call it, don't build it")


def fraud() -> AISystem:
    """The suite's system (the `fraud` fixture): the default of every state factory."""
    return AISystem.objects.get(slug="fraud")


def holders(system: AISystem, role: str) -> list[User]:
    """The users granted `role` on the system, in the order they were granted."""
    grants = RoleGrant.objects.filter(system=system, role=role, user__isnull=False)
    found = [g.user for g in grants.select_related("user").order_by("id") if g.user is not None]
    if not found:
        raise LookupError(f"Nobody holds the role {role} on {system.slug}: pass who acts.")
    return found


def holder(system: AISystem, role: str) -> User:
    """The first user granted `role` on the system: the persona of that role."""
    return holders(system, role)[0]


def production_of(system: AISystem) -> Environment | None:
    """The system's (first) production environment, if it has one."""
    return system.environments.filter(is_production=True).order_by("id").first()
