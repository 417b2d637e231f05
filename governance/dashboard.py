"""The home page: what needs the signed-in person's attention, across the systems they see.

governance never imports the other apps; they contribute what they know (tiles for the
summary row, a panel with its template and context) from AppConfig.ready(), as they do
navigation and evidence. Each contribution reads a fixed number of queries, whatever the
data, and only what `governance.permissions.restrict` lets the user see.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.contrib.auth.models import User

LIST_SIZE = 6  # rows a panel lists; its count says how many there are


@dataclass(frozen=True)
class Tile:
    label: str
    value: int
    url: str
    note: str = ""
    alert: bool = False  # something is late or on fire: the tile turns red while value > 0


@dataclass(frozen=True)
class Contribution:
    tiles: list[Tile]
    panels: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (template, context)


HomeSource = Callable[["User"], Contribution]
_sources: list[tuple[int, HomeSource]] = []


def register(source: HomeSource, *, order: int) -> None:
    if all(existing is not source for _, existing in _sources):
        _sources.append((order, source))
        _sources.sort(key=lambda pair: pair[0])


def home_for(user: User) -> Contribution:
    """Every app's tiles and panels for `user`, in the registered order."""
    tiles: list[Tile] = []
    panels: list[tuple[str, dict[str, Any]]] = []
    for _, source in _sources:
        contribution = source(user)
        tiles += contribution.tiles
        panels += contribution.panels
    return Contribution(tiles=tiles, panels=panels)
