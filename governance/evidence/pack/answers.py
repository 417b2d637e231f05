"""The auditor's answers and the filled control mapping, as the pack and its report carry them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from governance.evidence.controls import filled_mapping
from governance.evidence.questions import answer_all

if TYPE_CHECKING:
    from governance.evidence.pack.period import PackPeriod
    from governance.models import AISystem


def answers(system: AISystem, period: PackPeriod) -> dict[str, Any]:
    """Every question answered over the pack's period (questions.answer_all's stable shape)."""
    return answer_all(system=system, start=period.since, end=period.until)


def mapping(system: AISystem, period: PackPeriod) -> list[dict[str, Any]]:
    """Each control with the evidence held for it in the period and what is missing."""
    return filled_mapping(system=system, start=period.since, end=period.until)
