"""The success condition: a small grammar judged without eval, refused with a clear message."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from releases.analysis.condition import parse_condition


@pytest.mark.parametrize(
    ("text", "value", "holds"),
    [
        ("result < 0.05", "0.01", True),
        ("result < 0.05", "0.05", False),
        ("result[0] >= 0.95", "0.97", True),
        ("0.05 > result", "0.01", True),
        ("result >= 0.9 and result <= 1", "0.95", True),
        ("result >= 0.9 && result <= 1", "1.5", False),
        ("result < 1 or result > 10", "11", True),
        ("result == 0", "0", True),
        ("result != 0", "0", False),
        ("result ≤ 1e-3", "0.0005", True),
        ("result < 0.05", "NaN", False),
        ("result < 0.05", "Infinity", False),
    ],
)
def test_it_judges_a_value(text, value, holds):
    assert parse_condition(text).holds(Decimal(value)) is holds


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "Write the success condition"),
        ("result <", "ends too soon"),
        ("__import__('os').system('x') < 1", "cannot be read"),
        ("result < result", "a number on the other"),
        ("result 0.05 1", "Expected a comparison"),
        ("result < 0.05 result > 1", "Join comparisons"),
        ("len(result) > 0", "cannot be read"),
        ("result < 0.05 and", "ends too soon"),
        ("result < inf", "cannot be read"),
    ],
)
def test_it_refuses_what_it_cannot_read_with_a_clear_message(text, says):
    with pytest.raises(ValidationError, match=says):
        parse_condition(text)
