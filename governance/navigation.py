"""The main navigation. Apps add their sections in AppConfig.ready(), as they do with the admin."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.http import HttpRequest
from django.urls import reverse

if TYPE_CHECKING:
    from governance.models import AISystem


@dataclass(frozen=True)
class Section:
    label: str
    url_name: str
    prefix: str  # the path prefix that marks this section as current
    order: int


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
        url = reverse(section.url_name)
        items.append(
            {"label": section.label, "url": url, "current": request.path.startswith(section.prefix)}
        )
    return {"nav_sections": items}


@dataclass(frozen=True)
class SystemLink:
    """A page another app offers about one AI system, shown on the system's page."""

    label: str
    url: Callable[[AISystem], str]
    order: int


_system_links: list[SystemLink] = []


def register_system_link(link: SystemLink) -> None:
    if link not in _system_links:
        _system_links.append(link)
        _system_links.sort(key=lambda link: link.order)


def system_links(system: AISystem) -> list[tuple[str, str]]:
    return [(link.label, link.url(system)) for link in _system_links]
