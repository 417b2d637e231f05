"""A success condition such as `result < 0.05`, parsed once and judged without eval.

The grammar is small on purpose: comparisons of `result` (or `result[0]`, as Argo Rollouts
writes it for a one-series vector) with a number, joined by `and` / `or` (`&&`, `||`;
`and` binds first), e.g. `result >= 0.95`, `0.01 <= result and result < 0.05`. Anything else
is refused with what was expected, at save time.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError

OPERATORS: dict[str, Callable[[Decimal, Decimal], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    "≤": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "≥": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
# Read from the right operand's side: `0.05 > result` is `result < 0.05`.
MIRRORED = {
    "<": ">",
    "<=": ">=",
    "≤": ">=",
    ">": "<",
    ">=": "<=",
    "≥": "<=",
    "==": "==",
    "!=": "!=",
}
EXAMPLE = "e.g. “result < 0.05” or “result >= 0.95 and result <= 1”"

_TOKEN = re.compile(
    r"\s*(?:(?P<result>result(?:\s*\[\s*0\s*\])?)"
    r"|(?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
    r"|(?P<op><=|>=|==|!=|<|>|≤|≥)"
    r"|(?P<join>and\b|or\b|&&|\|\|))"
)


@dataclass(frozen=True)
class Comparison:
    op: str  # as applied to `result` on the left
    number: Decimal

    def holds(self, value: Decimal) -> bool:
        return OPERATORS[self.op](value, self.number)


@dataclass(frozen=True)
class Condition:
    """Any of the groups holds when all of its comparisons do."""

    text: str
    groups: tuple[tuple[Comparison, ...], ...]

    def holds(self, value: Decimal) -> bool:
        if value.is_nan():
            return False
        return any(all(c.holds(value) for c in group) for group in self.groups)


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    while position < len(text):
        if not text[position:].strip():
            break
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            near = text[position:].strip()[:20]
            raise ValidationError(
                f"The success condition cannot be read at “{near}”: compare “result” with a "
                f"number, {EXAMPLE}."
            )
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


def parse_condition(text: str) -> Condition:
    """The condition `text` means, or a ValidationError that says what was expected."""
    text = (text or "").strip()
    if not text:
        raise ValidationError(f"Write the success condition, {EXAMPLE}.")
    tokens = _tokens(text)
    groups: list[list[Comparison]] = [[]]
    n = 0
    while True:
        if n + 3 > len(tokens):
            raise ValidationError(
                f"The success condition ends too soon: each part compares “result” with a "
                f"number, {EXAMPLE}."
            )
        (left_kind, left), (op_kind, op), (right_kind, right) = tokens[n : n + 3]
        if op_kind != "op":
            raise ValidationError(
                f"Expected a comparison (<, <=, >, >=, ==, !=) after “{left}”, {EXAMPLE}."
            )
        if left_kind == "result" and right_kind == "number":
            groups[-1].append(Comparison(op, _number(right)))
        elif left_kind == "number" and right_kind == "result":
            groups[-1].append(Comparison(MIRRORED[op], _number(left)))
        else:
            raise ValidationError(
                f"Each comparison has “result” on one side and a number on the other, {EXAMPLE}."
            )
        n += 3
        if n == len(tokens):
            break
        kind, join = tokens[n]
        if kind != "join":
            raise ValidationError(f"Join comparisons with “and” or “or”, {EXAMPLE}.")
        if join in ("or", "||"):
            groups.append([])
        n += 1
    return Condition(text, tuple(tuple(group) for group in groups))


def _number(text: str) -> Decimal:
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValidationError(f"“{text}” is not a number.") from None
    if not number.is_finite():
        raise ValidationError(f"“{text}” is not a finite number.")
    return number
