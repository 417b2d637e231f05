"""What an audit event is about, said for people: the kind of object and a link to its page.

An event stores its object as `app.model` and an id. Objects with a page of their own
(a system, a release, an incident) link there; the rest link to the page of the incident,
release or system they belong to. One query per kind of object on the page, whatever the
number of events.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db.models import Model
from django.urls import reverse

from governance.models import AuditEvent

# Where an object without a page of its own is shown, in order of preference.
_PARENT_PAGES = (
    ("incident_id", "incidents:war-room"),
    ("release_id", "releases:release-detail"),
)


@dataclass(frozen=True)
class ObjectLink:
    kind: str  # "Incident", "Role grant"
    url: str | None  # None: the object is gone, or has no page


def _model(object_type: str) -> type[Model] | None:
    try:
        return apps.get_model(object_type)
    except (LookupError, ValueError):
        return None


def _url(obj: Model) -> str | None:
    if hasattr(obj, "get_absolute_url"):
        return str(obj.get_absolute_url())
    for field, name in _PARENT_PAGES:
        parent = getattr(obj, field, None)
        if parent is not None:
            return reverse(name, kwargs={"pk": parent})
    system = getattr(obj, "system", None)
    return str(system.get_absolute_url()) if system is not None else None


def object_links(events: Iterable[AuditEvent]) -> dict[int, ObjectLink]:
    """Each event's object, by event id."""
    events = list(events)
    wanted: dict[str, set[str]] = defaultdict(set)
    for event in events:
        wanted[event.object_type].add(event.object_id)
    found: dict[tuple[str, str], str | None] = {}
    kinds: dict[str, str] = {}
    for object_type, ids in wanted.items():
        model = _model(object_type)
        if model is None:
            kinds[object_type] = object_type
            continue
        name = str(model._meta.verbose_name)
        kinds[object_type] = name[:1].upper() + name[1:]
        objects = model._default_manager.filter(pk__in=ids)
        if not hasattr(model, "get_absolute_url") and any(
            f.name == "system" and f.many_to_one for f in model._meta.get_fields()
        ):
            objects = objects.select_related("system")
        try:
            for obj in objects:
                found[(object_type, str(obj.pk))] = _url(obj)
        except (ValueError, ValidationError):
            continue  # an id of another form than the model's key: shown without a link
    return {
        event.pk: ObjectLink(
            kinds[event.object_type], found.get((event.object_type, event.object_id))
        )
        for event in events
    }
