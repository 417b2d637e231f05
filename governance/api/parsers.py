"""The API's parser: what a body may hold before any view sees it.

The API reads JSON only: a form's values are all text, and reading them would mean guessing
which were meant as numbers or booleans (governance/api/types.py refuses the wrong JSON type
instead); any other Content-Type is a 415. DRF's parser hands on whatever the JSON encodes,
and three kinds of it are never
usable here and failed deep inside: JSON nested thousands deep (RecursionError from the
decoder, or later from whatever walks the data), NUL (PostgreSQL stores no NUL in text or
jsonb: a DataError at the first query), and lone surrogates (`"\\ud800"`, which no UTF-8
encoder takes: the database driver raised). These refuse them while parsing, with a 400 that
names the problem, for every operation at once. A body larger than
DATA_UPLOAD_MAX_MEMORY_SIZE never gets here: Django refuses it while reading, and the
exception handler answers 413 (governance/api/errors.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

# Deep enough for every body the API documents (an Alertmanager payload nests 4 levels, a
# model card 3); shallow enough that nothing downstream recurses anywhere near Python's limit.
MAX_DEPTH = 32


def refuse_unstorable(data: Any) -> None:
    """Raise ParseError if `data` nests deeper than MAX_DEPTH, or holds strings (keys or
    values) with NUL or a lone surrogate: then by each top-level field they are in, as a
    field's invalid value is; `detail` for the body as a whole. Iterative: the check itself
    cannot recurse."""
    problems: dict[str | None, str] = {}
    stack: list[tuple[Any, int, str | None]] = [(data, 1, None)]
    while stack:
        value, depth, field = stack.pop()
        if isinstance(value, str):
            _check_text(value, field, problems)
            continue
        if not isinstance(value, Mapping | list | tuple):
            continue
        if depth > MAX_DEPTH:
            raise ParseError(f"The body nests deeper than {MAX_DEPTH} levels.")
        for key, item in _items(value):
            top = field
            if isinstance(key, str):
                _check_text(key, field, problems)
                if field is None and depth == 1 and not _unstorable(key):
                    top = key
            stack.append((item, depth + 1, top))
    if problems:
        whole = problems.pop(None, None)
        if not problems:
            raise ParseError(whole)
        detail = {name: [message] for name, message in problems.items() if name is not None}
        if whole:
            detail["non_field_errors"] = [whole]
        raise ParseError(detail)


def _items(value: Mapping | list | tuple) -> Iterator[tuple[Any, Any]]:
    if isinstance(value, Mapping):
        lists = getattr(value, "lists", None)  # a QueryDict: every value of a repeated key
        if lists is not None:
            yield from lists()
        else:
            yield from value.items()
    else:
        for item in value:
            yield None, item


def _check_text(text: str, field: str | None, problems: dict[str | None, str]) -> None:
    problem = _unstorable(text)
    if problem:
        problems.setdefault(field, problem)


def _unstorable(text: str) -> str | None:
    if "\x00" in text:
        return "Text may not contain NUL (\\u0000)."
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "Text may not contain a lone surrogate (\\ud800-\\udfff unpaired)."
    return None


class JSONParser(parsers.JSONParser):
    """DRF's (strict: no NaN or Infinity), refusing what refuse_unstorable refuses."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            # The decoder itself gives up long before 10,000 levels; never a 500.
            raise ParseError(f"The body nests deeper than {MAX_DEPTH} levels.") from None
        refuse_unstorable(data)
        return data
