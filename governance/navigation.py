"""The main navigation. Apps add their sections in AppConfig.ready(), as they do with the admin."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.http import HttpRequest
from django.urls import reverse

from governance.roles import Action

if TYPE_CHECKING:
    from governance.models import AISystem


@dataclass(frozen=True)
class Section:
    label: str
    url_name: str
    prefix: str  # the path prefix that marks this section as current
    order: int
    # Shown only to those who may take it on some system (None: to everyone signed in).
    action: Action | None = None


_sections: list[Section] = []


def register(section: Section) -> None:
    if section not in _sections:
        _sections.append(section)
        _sections.sort(key=lambda s: s.order)


def navigation(request: HttpRequest) -> dict:
    """Template context: the sections, with the current one marked."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {"nav_sections": []}
    items = []
    for section in _sections:
        if section.action is not None and not _anywhere(request, section.action):
            continue
        url = reverse(section.url_name)
        items.append(
            {"label": section.label, "url": url, "current": request.path.startswith(section.prefix)}
        )
    return {"nav_sections": items}


def _anywhere(request: HttpRequest, action: Action) -> bool:
    """Whether the user may take `action` on some system; asked once per request and action."""
    from governance.permissions import visible_systems

    answers: dict[Action, bool] = request.__dict__.setdefault("_navigation_answers", {})
    if action not in answers:
        answers[action] = visible_systems(request.user, action).exists()
    return answers[action]


@dataclass(frozen=True)
class SystemLink:
    """A page another app offers about one AI system, shown on the system's page."""

    label: str
    url: Callable[[AISystem], str]
    order: int
    action: Action = Action.VIEW  # what the page asks: it is offered to those who may


_system_links: list[SystemLink] = []


def register_system_link(link: SystemLink) -> None:
    if link not in _system_links:
        _system_links.append(link)
        _system_links.sort(key=lambda link: link.order)


def system_links(system: AISystem, allowed: frozenset[Action]) -> list[tuple[str, str]]:
    """The pages about `system` that someone holding `allowed` there may open."""
    return [(link.label, link.url(system)) for link in _system_links if link.action in allowed]
