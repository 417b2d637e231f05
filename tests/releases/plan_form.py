"""The plan form's POST data, as the page posts it: the plan's fields and a row per trigger."""

from __future__ import annotations

from typing import Any


def trigger_rows(*rows: tuple[str, ...]) -> dict[str, str]:
    """Rows of (metric, comparison, threshold, window) for alert triggers, or (name, query,
    comparison, threshold, window) for PromQL ones; an empty row after them, as on the page."""
    data: dict[str, str] = {"trigger-TOTAL_FORMS": str(len(rows) + 1), "trigger-INITIAL_FORMS": "0"}
    for n, row in enumerate([*rows, ("", "gt", "", "")]):
        if len(row) == 5:
            metric, query, comparison, threshold, window = row
            kind = "promql"
        else:
            (metric, comparison, threshold, window), query, kind = row, "", "alert"
        data.update({
            f"trigger-{n}-kind": kind, f"trigger-{n}-metric": metric,
            f"trigger-{n}-query": query, f"trigger-{n}-comparison": comparison,
            f"trigger-{n}-threshold": threshold, f"trigger-{n}-window_minutes": window,
        })  # fmt: skip
    return data


def plan_form(environment: Any, owners: list[Any], mode: str = "manual", **extra: Any) -> dict:
    return {
        "environment": environment.pk,
        "owners": [owner.pk for owner in owners],
        "mode": mode,
        "cooldown_minutes": "30",
        **trigger_rows(),
        **extra,
    }
