"""A JSON body holds the fields and the types the schema documents, or it is refused (400).

DRF's fields coerce: a CharField takes `80617451` as "80617451", an IntegerField takes "5",
a BooleanField takes "yes" and 0. A client that sends a number where text is documented has
a bug the API should name, not hide, and the OpenAPI schema (what clients are generated from)
says string, integer, boolean. Every API serializer is built on `Serializer` or
`ModelSerializer` from here: before DRF's own validation, each value of the body is checked
against its field's JSON type, field by field, nested serializers included, and a key that
is no field of the operation is refused by name. Decimals are the
one documented choice: a number, or the same number as a string (governance/api/schema.py).

Query strings are text by nature: a serializer reading one (a QueryDict) is not checked here;
its fields parse the text, and a value that does not parse is a 400 as ever.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import QueryDict
from rest_framework import relations, serializers

_TEXT = (
    serializers.CharField,
    serializers.DateField,
    serializers.DateTimeField,
    serializers.TimeField,
    serializers.DurationField,
    serializers.UUIDField,
    relations.SlugRelatedField,
)
_LISTS = (serializers.ListField, serializers.ListSerializer, relations.ManyRelatedField)
_OBJECTS = (serializers.DictField, serializers.Serializer)

TEXT, WHOLE, NUMBER, BOOLEAN, LIST, OBJECT = (
    "text",
    "a whole number",
    "a number",
    "true or false",
    "a list",
    "an object",
)


def expected_type(field: serializers.Field) -> str | None:
    """What JSON type `field` documents (None: any, or one it decides itself)."""
    if isinstance(field, serializers.BooleanField):
        return BOOLEAN
    if isinstance(field, (serializers.IntegerField, relations.PrimaryKeyRelatedField)):
        return WHOLE
    if isinstance(field, (serializers.FloatField, serializers.DecimalField)):
        return NUMBER
    if isinstance(field, (serializers.MultipleChoiceField, *_LISTS)):
        return LIST
    if isinstance(field, serializers.ChoiceField):
        return TEXT if all(isinstance(choice, str) for choice in field.choices) else None
    if isinstance(field, _TEXT):
        return TEXT
    if isinstance(field, _OBJECTS):
        return OBJECT
    return None  # JSONField, SerializerMethodField, a custom field: their own rules


def _is(value: Any, expected: str, field: serializers.Field) -> bool:
    if expected == TEXT:
        return isinstance(value, str)
    if expected == BOOLEAN:
        return isinstance(value, bool)
    if isinstance(value, bool):  # JSON's true is not the number 1
        return False
    if expected == WHOLE:
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if expected == NUMBER:
        decimal_text = isinstance(field, serializers.DecimalField) and isinstance(value, str)
        return isinstance(value, int | float) or decimal_text
    if expected == LIST:
        return isinstance(value, list)
    return isinstance(value, Mapping)


def type_errors(fields: Mapping[str, serializers.Field], data: Mapping[str, Any]) -> dict:
    """{field: [message]} for each value in `data` whose JSON type its field does not take."""
    errors = {}
    for name, field in fields.items():
        if field.read_only or field.source == "*" or name not in data:
            continue
        value, expected = data[name], expected_type(field)
        if value is None or expected is None:
            continue  # null: the field's allow_null decides
        if not _is(value, expected, field):
            errors[name] = [f"Must be {expected}, not {_json_type(value)}."]
        elif wrong := _wrong_items(_child(field), value):  # each item as its child says
            errors[name] = wrong
    return errors


def _child(field: serializers.Field) -> serializers.Field | None:
    if isinstance(field, serializers.ListField):
        return field.child
    if isinstance(field, relations.ManyRelatedField):
        return field.child_relation
    return None


def _wrong_items(child: serializers.Field | None, items: Any) -> list[str]:
    expected = None if child is None else expected_type(child)
    if child is None or expected is None or isinstance(child, serializers.Serializer):
        return []  # a nested serializer checks its own items
    return [
        f"Item {index}: must be {expected}, not {_json_type(item)}."
        for index, item in enumerate(items)
        if item is not None and not _is(item, expected, child)
    ]


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    return "an object"


def unknown_fields(fields: Mapping[str, serializers.Field], data: Mapping[str, Any]) -> dict:
    """{name: [message]} for each key of `data` that is no field of the serializer: a field
    another operation takes, or a typo, is refused rather than silently not heeded."""
    takes = ", ".join(name for name, field in fields.items() if not field.read_only)
    return {
        name: [f"Not a field of this operation (it takes {takes or 'none'})."]
        for name in data
        if name not in fields
    }


class JsonTypes:
    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping) and not isinstance(data, QueryDict):
            fields = self.fields  # type: ignore[attr-defined]
            errors = unknown_fields(fields, data) | type_errors(fields, data)
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)  # type: ignore[misc]


class Serializer(JsonTypes, serializers.Serializer):
    pass


class ModelSerializer(JsonTypes, serializers.ModelSerializer):
    pass
