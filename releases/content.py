"""A release's content — its stack and its card — as one canonical value: digest and diff."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from governance.audit.hashing import canonical_json
from releases.models import (
    MODEL_CARD_FIELDS,
    ChangeCategory,
    ComponentKind,
    Release,
    ReleaseComponent,
)


def release_content(
    release: Release, components: list[ReleaseComponent] | None = None
) -> dict[str, Any]:
    if components is None:
        components = list(release.components.all())
    return {
        "version": release.version,
        "stack": {
            c.kind: {"version": c.version, "uri": c.uri, "digest": c.digest}
            for c in sorted(components, key=lambda c: c.kind)
        },
        "card": {name: getattr(release, name) for name in MODEL_CARD_FIELDS},
        "change_categories": sorted(release.change_categories),
    }


def content_digest(release: Release, components: list[ReleaseComponent] | None = None) -> str:
    return hashlib.sha256(canonical_json(release_content(release, components)).encode()).hexdigest()


@dataclass(frozen=True)
class ComponentChange:
    kind: ComponentKind
    before: dict[str, str] | None
    after: dict[str, str] | None

    @property
    def changed(self) -> bool:
        return self.before != self.after

    @property
    def fields_changed(self) -> list[str]:
        if self.before is None or self.after is None:
            return ["version", "uri", "digest"]
        return [f for f in ("version", "uri", "digest") if self.before.get(f) != self.after.get(f)]


@dataclass(frozen=True)
class CardChange:
    field: str
    label: str
    before: str
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after


@dataclass(frozen=True)
class ReleaseDiff:
    """What changed from `base` (the release live somewhere) to `release`."""

    base: Release | None
    components: list[ComponentChange]
    card: list[CardChange]
    categories: list[ChangeCategory]  # declared on the release: each demands formal review

    @property
    def changed_components(self) -> list[ComponentChange]:
        return [c for c in self.components if c.changed]


def diff(release: Release, base: Release | None) -> ReleaseDiff:
    """Component by component and card field by card field; uses prefetched components."""
    new = release_content(release, list(release.components.all()))
    old = release_content(base, list(base.components.all())) if base is not None else None
    labels = {
        f.name: str(f.verbose_name).capitalize()
        for f in Release._meta.get_fields()
        if hasattr(f, "verbose_name")
    }
    components = [
        ComponentChange(
            kind=kind,
            before=old["stack"].get(kind.value) if old else None,
            after=new["stack"].get(kind.value),
        )
        for kind in ComponentKind
    ]
    card = [
        CardChange(
            field=name,
            label=labels.get(name, name),
            before=old["card"][name] if old else "",
            after=new["card"][name],
        )
        for name in MODEL_CARD_FIELDS
    ]
    return ReleaseDiff(
        base=base,
        components=components,
        card=card,
        categories=[ChangeCategory(c) for c in release.change_categories],
    )
