"""A release's content — its stack and its card — as one canonical value: digest and diff."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
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


def stack_digest(components: Iterable[Mapping[str, str]]) -> str:
    """sha256 over the stack alone: each layer's kind, version, URI and digest, canonically.
    The same artefacts give the same digest whatever the release is called or its card says;
    the idempotency key of POST /api/releases/ (releases.services.register_release)."""
    stack = {
        c["kind"]: {"version": c["version"], "uri": c["uri"], "digest": c["digest"]}
        for c in components
    }
    return hashlib.sha256(canonical_json(stack).encode()).hexdigest()


def stack_of(release: Release) -> list[dict[str, str]]:
    """The release's components as the services take them (uses prefetched components)."""
    return [
        {"kind": c.kind, "version": c.version, "uri": c.uri, "digest": c.digest}
        for c in sorted(release.components.all(), key=lambda c: c.kind)
    ]


_MODELS_URI = re.compile(r"models:/(?P<name>[^/@]+)[/@]")
_MAJOR = re.compile(r"v?(?P<major>[0-9]+)(?:[.\-+_]|$)")


def _major(version: str) -> str | None:
    match = _MAJOR.match(version.strip())
    return match["major"] if match else None


def suggest_categories(
    before: Iterable[Mapping[str, str]] | None,
    after: Iterable[Mapping[str, str]],
    *,
    flavors: tuple[list[str], list[str]] | None = None,
) -> list[ChangeCategory]:
    """The change categories a stack's diff suggests; the model owner confirms or changes them.

    - a new fusion layer: new fusion logic; a new threshold policy: a threshold/policy update;
    - a new SDK whose major version differs (or either cannot be read as a version): an SDK
      major change; a new dataset: a major dataset refresh (a new dataset is its refresh);
    - a model of another registered model (`models:/<other name>/…`), or whose MLmodel
      flavors differ from the one it replaces (`flavors`: before, after), a new architecture;
      a retrain of the same registered model, by itself, suggests nothing;
    - a new channel is never read from a stack: the model owner says so.
    Nothing before (a system's first release): nothing is suggested.
    """
    if before is None:
        return []
    old = {c["kind"]: c for c in before}
    new = {c["kind"]: c for c in after}

    def changed(kind: ComponentKind) -> bool:
        a, b = old.get(kind.value), new.get(kind.value)
        if a is None or b is None:
            return a is not b
        return any(a.get(f) != b.get(f) for f in ("version", "uri", "digest"))

    suggested: list[ChangeCategory] = []
    if changed(ComponentKind.MODEL):
        names = [
            m["name"]
            if (m := _MODELS_URI.match(side.get(ComponentKind.MODEL.value, {}).get("uri", "")))
            else None
            for side in (old, new)
        ]
        other_model = names[0] is not None and names[1] is not None and names[0] != names[1]
        other_flavors = (
            flavors is not None and all(flavors) and sorted(flavors[0]) != sorted(flavors[1])
        )
        if other_model or other_flavors:
            suggested.append(ChangeCategory.NEW_ARCHITECTURE)
    if changed(ComponentKind.FUSION):
        suggested.append(ChangeCategory.NEW_FUSION_LOGIC)
    if changed(ComponentKind.THRESHOLD_POLICY):
        suggested.append(ChangeCategory.THRESHOLD_POLICY_UPDATE)
    if changed(ComponentKind.SDK):
        a, b = old.get(ComponentKind.SDK.value), new.get(ComponentKind.SDK.value)
        majors = (_major(a["version"]) if a else None, _major(b["version"]) if b else None)
        if None in majors or majors[0] != majors[1]:
            suggested.append(ChangeCategory.SDK_MAJOR_CHANGE)
    if changed(ComponentKind.DATASET):
        suggested.append(ChangeCategory.MAJOR_DATASET_REFRESH)
    return suggested


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
    # What the stack's diff suggests and the release does not declare (suggest_categories).
    undeclared: list[ChangeCategory]

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
    declared = [ChangeCategory(c) for c in release.change_categories]
    suggested = (
        suggest_categories(_stack(old), _stack(new)) if old is not None and base != release else []
    )
    return ReleaseDiff(
        base=base,
        components=components,
        card=card,
        categories=declared,
        undeclared=[c for c in suggested if c not in declared],
    )


def _stack(content: dict[str, Any]) -> list[dict[str, str]]:
    return [{"kind": kind, **parts} for kind, parts in content["stack"].items()]
