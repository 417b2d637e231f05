"""What other apps put in an evidence pack: file sections, documents and report charts.

governance knows nothing of releases or incidents (dependencies point the other way). Each
app registers, from its AppConfig.ready(), the sections it contributes, as apps register
with the admin: a section is one kind of record, written as `<name>.json` and `<name>.csv`
from rows the app reads in bounded memory (`.iterator(chunk_size=…)`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from governance.evidence.kinds import EvidenceKind
    from governance.evidence.pack.period import PackPeriod
    from governance.evidence.report import Block
    from governance.models import AISystem

Rows = Callable[["AISystem", "PackPeriod"], Iterable[dict[str, Any]]]
Build = Callable[["AISystem", "PackPeriod"], dict[str, Any]]
Blocks = Callable[[dict[str, Any]], list["Block"]]
Points = Callable[["AISystem", "PackPeriod"], list[tuple[str, float]]]


@dataclass(frozen=True)
class Section:
    name: str  # the file stem: "releases" → releases.json and releases.csv
    kind: EvidenceKind
    title: str
    columns: tuple[str, ...]  # the CSV's columns, in order; JSON rows carry the same keys
    rows: Rows
    order: int = 100
    description: str = ""  # which records of the period it holds, for the report


@dataclass(frozen=True)
class Document:
    """One generated document, not rows: `<name>.json` in the pack, and a part of the report
    drawn by `blocks` from that same JSON, so the file and the report cannot disagree."""

    name: str  # the file stem: "post_market_monitoring_plan" → post_market_monitoring_plan.json
    title: str
    build: Build
    blocks: Blocks
    order: int = 100
    description: str = ""
    tab: str = ""  # its short name on the evidence pages' tabs


@dataclass(frozen=True)
class Chart:
    """A series the report draws: bars by label (a week, an incident) of a value."""

    name: str
    title: str
    unit: str  # "incidents", "minutes"
    points: Points
    order: int = 100
    note: str = ""


_sections: dict[str, Section] = {}
_charts: dict[str, Chart] = {}
_documents: dict[str, Document] = {}


def username_of(user: Any) -> str | None:
    """How a pack names a person: the username, None where nobody is recorded."""
    return user.get_username() if user is not None else None


def register_section(section: Section) -> None:
    _sections[section.name] = section


def register_chart(chart: Chart) -> None:
    _charts[chart.name] = chart


def register_document(document: Document) -> None:
    _documents[document.name] = document


def documents() -> list[Document]:
    return sorted(_documents.values(), key=lambda d: (d.order, d.name))


def sections() -> list[Section]:
    return sorted(_sections.values(), key=lambda s: (s.order, s.name))


def charts() -> list[Chart]:
    return sorted(_charts.values(), key=lambda c: (c.order, c.name))
