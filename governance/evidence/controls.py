"""The control mapping (controls.yaml): loaded, validated, and filled in for a system.

`load()` reads the file once and refuses a malformed one with a message naming the entry
at fault (MappingError). `coverage()` / `filled_mapping()` count, for a system and a period,
the records of each evidence kind the apps hold (through the sources registered with
`governance.evidence.questions`), and say per control what is held and what is missing.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from governance.evidence.kinds import EvidenceKind
from governance.evidence.questions import check_period, sources

if TYPE_CHECKING:
    from governance.models import AISystem

MAPPING_FILE = Path(__file__).with_name("controls.yaml")
SUPPORTED_VERSION = 1

FRAMEWORK_KEYS = {"name", "citation", "url"}
CONTROL_KEYS = {"framework", "id", "title", "requires", "evidence", "note"}
REQUIRED_CONTROL_KEYS = CONTROL_KEYS - {"note"}


class MappingError(ValueError):
    """controls.yaml is malformed; the message names the file and the entry."""


class Status:
    HELD = "held"  # a record of every kind the control names
    PARTIAL = "partial"  # some kinds held, some not
    NONE = "none"  # no record of any kind it names
    OUTSIDE = "outside"  # evidenced outside Failsafe (the control names no kind)

    LABELS = {
        HELD: "Evidence held",
        PARTIAL: "Partly evidenced",
        NONE: "No evidence",
        OUTSIDE: "Outside Failsafe",
    }


@dataclass(frozen=True)
class Framework:
    key: str
    name: str
    citation: str
    url: str


@dataclass(frozen=True)
class Control:
    framework: Framework
    id: str
    title: str
    requires: str
    evidence: tuple[EvidenceKind, ...]
    note: str = ""

    @property
    def key(self) -> str:
        return f"{self.framework.key}:{self.id}"


@dataclass(frozen=True)
class Mapping:
    version: int
    frameworks: tuple[Framework, ...]
    controls: tuple[Control, ...]

    def for_kind(self, kind: EvidenceKind) -> list[Control]:
        return [c for c in self.controls if kind in c.evidence]


def _text(value: Any, where: str, name: str) -> str:
    if (
        not isinstance(value, str | int | float)
        or isinstance(value, bool)
        or not str(value).strip()
    ):
        raise MappingError(f"{where}: {name!r} must be a non-empty string.")
    return str(value).strip()


def parse(data: Any, source: str = "controls.yaml") -> Mapping:
    """Validate the loaded YAML and build the mapping; MappingError names what is wrong."""
    if not isinstance(data, dict):
        raise MappingError(f"{source}: expected a mapping with version, frameworks, controls.")
    unknown = set(data) - {"version", "frameworks", "controls"}
    if unknown:
        raise MappingError(f"{source}: unknown top-level keys {sorted(unknown)}.")
    if data.get("version") != SUPPORTED_VERSION:
        raise MappingError(
            f"{source}: version {data.get('version')!r} is not supported "
            f"(expected {SUPPORTED_VERSION})."
        )
    raw_frameworks = data.get("frameworks")
    if not isinstance(raw_frameworks, dict) or not raw_frameworks:
        raise MappingError(f"{source}: 'frameworks' must map keys to name, citation and url.")
    frameworks: dict[str, Framework] = {}
    for key, entry in raw_frameworks.items():
        where = f"{source}: framework {key!r}"
        if not isinstance(entry, dict):
            raise MappingError(f"{where}: expected name, citation and url.")
        if set(entry) != FRAMEWORK_KEYS:
            raise MappingError(f"{where}: expected exactly the keys {sorted(FRAMEWORK_KEYS)}.")
        frameworks[str(key)] = Framework(
            key=str(key),
            name=_text(entry["name"], where, "name"),
            citation=_text(entry["citation"], where, "citation"),
            url=_text(entry["url"], where, "url"),
        )
    raw_controls = data.get("controls")
    if not isinstance(raw_controls, list) or not raw_controls:
        raise MappingError(f"{source}: 'controls' must be a non-empty list.")
    controls: list[Control] = []
    seen: set[tuple[str, str]] = set()
    kinds = set(EvidenceKind.values)
    for n, entry in enumerate(raw_controls, start=1):
        where = f"{source}: control {n}"
        if not isinstance(entry, dict):
            raise MappingError(f"{where}: expected a mapping.")
        where += f" ({entry.get('framework')} {entry.get('id')})"
        missing = REQUIRED_CONTROL_KEYS - set(entry)
        if missing:
            raise MappingError(f"{where}: missing {sorted(missing)}.")
        extra = set(entry) - CONTROL_KEYS
        if extra:
            raise MappingError(f"{where}: unknown keys {sorted(extra)}.")
        framework = frameworks.get(str(entry["framework"]))
        if framework is None:
            raise MappingError(f"{where}: unknown framework {entry['framework']!r}.")
        control_id = _text(entry["id"], where, "id")
        if (framework.key, control_id) in seen:
            raise MappingError(f"{where}: {framework.key} {control_id} is listed twice.")
        seen.add((framework.key, control_id))
        evidence = entry["evidence"]
        if not isinstance(evidence, list):
            raise MappingError(f"{where}: 'evidence' must be a list of evidence kinds.")
        for kind in evidence:
            if kind not in kinds:
                raise MappingError(f"{where}: unknown evidence kind {kind!r}.")
        if len(set(evidence)) != len(evidence):
            raise MappingError(f"{where}: an evidence kind is listed twice.")
        note = entry.get("note") or ""
        if not evidence and not str(note).strip():
            raise MappingError(f"{where}: names no evidence kind; say where it lies in 'note'.")
        controls.append(
            Control(
                framework=framework,
                id=control_id,
                title=_text(entry["title"], where, "title"),
                requires=_text(entry["requires"], where, "requires"),
                evidence=tuple(EvidenceKind(k) for k in evidence),
                note=str(note).strip(),
            )
        )
    return Mapping(
        version=SUPPORTED_VERSION, frameworks=tuple(frameworks.values()), controls=tuple(controls)
    )


def read(path: Path) -> Mapping:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise MappingError(f"{path.name}: not valid YAML: {error}") from error
    return parse(data, path.name)


@functools.cache
def load() -> Mapping:
    """The repository's mapping, read once per process."""
    return read(MAPPING_FILE)


# --- coverage -------------------------------------------------------------------------------


def evidence_held(
    system: AISystem, start: datetime, end: datetime
) -> tuple[dict[EvidenceKind, int], dict[EvidenceKind, str]]:
    """({kind: records held for the period}, {kind: page to see them}): one query a source."""
    counts: dict[EvidenceKind, int] = {}
    links: dict[EvidenceKind, str] = {}
    for source in sources():
        counts.update(source.count(system, start, end))
        links.update(source.links(system))
    return counts, links


@dataclass(frozen=True)
class Held:
    kind: EvidenceKind
    count: int
    link: str

    @property
    def label(self) -> str:
        return self.kind.label


@dataclass(frozen=True)
class ControlCoverage:
    control: Control
    held: tuple[Held, ...]

    @property
    def missing(self) -> list[Held]:
        return [h for h in self.held if h.count == 0]

    @property
    def status(self) -> str:
        if not self.held:
            return Status.OUTSIDE
        if not self.missing:
            return Status.HELD
        return Status.NONE if len(self.missing) == len(self.held) else Status.PARTIAL

    @property
    def status_label(self) -> str:
        return Status.LABELS[self.status]


def coverage(
    system: AISystem, start: datetime, end: datetime, mapping: Mapping | None = None
) -> list[ControlCoverage]:
    check_period(start, end)
    mapping = mapping or load()
    counts, links = evidence_held(system, start, end)
    return [
        ControlCoverage(
            control,
            tuple(Held(k, counts.get(k, 0), links.get(k, "")) for k in control.evidence),
        )
        for control in mapping.controls
    ]


def summary(rows: list[ControlCoverage]) -> dict[str, int]:
    """How many controls are in each status."""
    totals = {status: 0 for status in Status.LABELS}
    for row in rows:
        totals[row.status] += 1
    return totals


def as_dict(row: ControlCoverage) -> dict[str, Any]:
    control = row.control
    return {
        "framework": control.framework.key,
        "framework_name": control.framework.name,
        "citation": control.framework.citation,
        "url": control.framework.url,
        "id": control.id,
        "title": control.title,
        "requires": control.requires,
        "note": control.note,
        "status": row.status,
        "status_label": row.status_label,
        "evidence": [
            {"kind": h.kind.value, "label": h.label, "count": h.count, "link": h.link}
            for h in row.held
        ],
        "missing": [h.kind.value for h in row.missing],
    }


def filled_mapping(*, system: AISystem, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """The control mapping filled in for `system` over [start, end), as JSON values.

    For the evidence pack (and `GET /api/systems/<slug>/evidence/coverage/`); the caller
    checks permissions. One entry per control, in the file's order:

        {"framework": "eu_ai_act" | "nist_ai_rmf" | "iso_42001", "framework_name",
         "citation", "url" (the framework's), "id": "Art. 14(4)(e)", "title", "requires"
         (our paraphrase), "note" ("" or where evidence outside Failsafe lies),
         "status": "held" | "partial" | "none" | "outside", "status_label",
         "evidence": [{"kind": EvidenceKind value, "label", "count": records held for the
                       period, "link": app path where they can be seen, or ""}],
         "missing": [EvidenceKind values with no record in the period]}
    """
    return [as_dict(row) for row in coverage(system, start, end)]
