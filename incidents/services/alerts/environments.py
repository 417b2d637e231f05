"""Which environment an alert is about, by its `environment` or `env` label, or assumed, or
none, never silently (the package's docstring says how)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from governance.models import AISystem
from releases.models import Environment

ENVIRONMENT_LABELS = ("environment", "env")


@dataclass(frozen=True)
class EnvironmentMatch:
    """Which environment an alert's labels name (see the module's docstring)."""

    environment: Environment | None
    label: str = ""  # the label read, "environment" or "env"; "" when the alert had none
    value: str = ""  # its value, as sent
    # Said to the sender and on the incident's timeline: an assumption, or why there is no
    # environment. Empty when the label matched (or the system has no environment at all).
    warning: str = ""
    unmatched: bool = False  # no environment although the system has some: owners are told
    known: tuple[Environment, ...] = ()  # the system's environments, as the match saw them


def _listing(environments: list[Environment]) -> str:
    """By slug, what a label should say, then the name people know: "production (Production)"."""
    return ", ".join(f"{e.slug} ({e.name})" for e in environments)


NOT_ROLLED_BACK = (
    "The alert has no environment, nor has an incident it declares, which therefore cannot "
    "be rolled back: label the alert with one of the slugs."
)


def environments_of(system: AISystem) -> list[Environment]:
    """The system's environments as a match reads them: not their backends (secrets cost a
    decryption each, and a system may have a hundred regions)."""
    return list(
        Environment.objects.filter(system=system).only(
            "system_id", "name", "slug", "is_production", "position"
        )
    )


def match_environment(
    system: AISystem, labels: dict[str, str], environments: list[Environment] | None = None
) -> EnvironmentMatch:
    """The environment an alert is about, by its `environment` or `env` label; one query,
    none when given the system's `environments` (a post's alerts read them once)."""
    if environments is None:
        environments = environments_of(system)
    known = tuple(environments)
    label, value = next(
        ((name, labels[name]) for name in ENVIRONMENT_LABELS if labels.get(name, "").strip()),
        ("", ""),
    )
    if value:
        wanted = value.strip().casefold()
        found = [e for e in environments if e.slug.casefold() == wanted] or [
            e for e in environments if e.name.strip().casefold() == wanted
        ]
        if len(found) == 1:
            return EnvironmentMatch(found[0], label, value, known=known)
        said = f"The label {label}={json.dumps(value, ensure_ascii=False)}"
        if found:
            warning = (
                f"{said} names {len(found)} environments of {system.name} by name "
                f"({_listing(found)}). {NOT_ROLLED_BACK}"
            )
        elif environments:
            warning = (
                f"{said} matches no environment of {system.name}; its environments are "
                f"{_listing(environments)}. {NOT_ROLLED_BACK}"
            )
        else:
            warning = f"{said} matches no environment: {system.name} has none."
        return EnvironmentMatch(
            None, label, value, warning=warning, unmatched=bool(environments), known=known
        )
    production = [e for e in environments if e.is_production]
    if len(production) == 1 or (not production and len(environments) == 1):
        (assumed,) = production or environments
        which = "production environment" if production else "environment"
        return EnvironmentMatch(
            assumed,
            known=known,
            warning=f"No environment label: {assumed.name} ({assumed.slug}) assumed, the only "
            f"{which} of {system.name}. Label the alert environment={assumed.slug} to say so.",
        )
    if not environments:
        return EnvironmentMatch(None)
    warning = (
        f"No environment label, and {system.name} has no single production environment to "
        f"assume; its environments are {_listing(environments)}. {NOT_ROLLED_BACK}"
    )
    return EnvironmentMatch(None, warning=warning, unmatched=True, known=known)
