"""Art. 73's deadline in every case: the shortest of those that apply, each cited, counted by
Regulation 1182/71 in the organisation's days and never later than awareness + days x 24 h.

The expected deadlines are written out here from the rule, not computed by the code tested:
2 days for a widespread infringement or Art. 3(49)(b) harm (73(3)), 10 for a death (73(4)),
15 otherwise (73(2)); the period starts the day after awareness and ends at 24:00 local time
of its last day, or awareness + days x 24 h if that is earlier.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from incidents.art73 import applicable_deadlines, deadline_after, organisation_zone, rules

HARMS = {
    # harms, death, widespread -> days, citation (binding first)
    "death + critical infrastructure": (
        ["death_or_health", "critical_infrastructure"], True, False, 2,
        ["Art. 73(3)", "Art. 73(4)", "Art. 73(2)"],
    ),
    "death": (["death_or_health"], True, False, 10, ["Art. 73(4)", "Art. 73(2)"]),
    "health harm, no death": (["death_or_health"], False, False, 15, ["Art. 73(2)"]),
    "critical infrastructure": (
        ["critical_infrastructure"], False, False, 2, ["Art. 73(3)", "Art. 73(2)"],
    ),
    "fundamental rights": (["fundamental_rights"], False, False, 15, ["Art. 73(2)"]),
    "fundamental rights, widespread": (
        ["fundamental_rights"], False, True, 2, ["Art. 73(3)", "Art. 73(2)"],
    ),
    "property": (["property_or_environment"], False, False, 15, ["Art. 73(2)"]),
    "every harm, a death, widespread": (
        list(rules()["harms"]), True, True, 2, ["Art. 73(3)", "Art. 73(4)", "Art. 73(2)"],
    ),
}  # fmt: skip


@pytest.mark.parametrize(("harms", "death", "widespread", "days", "articles"), HARMS.values(),
                         ids=HARMS.keys())  # fmt: skip
def test_the_shortest_deadline_binds_and_every_one_is_cited(
    harms, death, widespread, days, articles
):
    applicable = applicable_deadlines(harms, death=death, widespread=widespread)
    assert applicable[0].days == days
    assert [deadline.article for deadline in applicable] == articles


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# Awareness at 23:30 Brussels time on the evenings before the 2026 clock changes (29 March:
# CET -> CEST; 25 October: CEST -> CET), and at noon on ordinary days.
DST = {
    # aware (UTC), days -> deadline (UTC)
    # 28 Mar 23:30 CET = 22:30 UTC. 2 days: 29, 30 Mar, ending 31 Mar 00:00 CEST = 30 Mar
    # 22:00 UTC; 48 h is 30 Mar 22:30 UTC. The earlier: 22:00.
    "before spring, 2 days": ("2026-03-28T22:30", 2, "2026-03-30T22:00"),
    # 10 days: 29 Mar - 7 Apr, ending 8 Apr 00:00 CEST = 7 Apr 22:00 UTC; 240 h: 7 Apr 22:30.
    "before spring, 10 days": ("2026-03-28T22:30", 10, "2026-04-07T22:00"),
    # 15 days: 29 Mar - 12 Apr, ending 13 Apr 00:00 CEST = 12 Apr 22:00 UTC; 360 h: 22:30.
    "before spring, 15 days": ("2026-03-28T22:30", 15, "2026-04-12T22:00"),
    # 24 Oct 23:30 CEST = 21:30 UTC. 2 days: 25, 26 Oct, ending 27 Oct 00:00 CET = 26 Oct
    # 23:00 UTC; 48 h is 26 Oct 21:30 UTC. The earlier: 21:30.
    "before autumn, 2 days": ("2026-10-24T21:30", 2, "2026-10-26T21:30"),
    # 10 days: 25 Oct - 3 Nov, ending 4 Nov 00:00 CET = 3 Nov 23:00 UTC; 240 h: 3 Nov 21:30.
    "before autumn, 10 days": ("2026-10-24T21:30", 10, "2026-11-03T21:30"),
    # 15 days: ends 8 Nov 23:00 UTC; 360 h: 8 Nov 21:30 UTC.
    "before autumn, 15 days": ("2026-10-24T21:30", 15, "2026-11-08T21:30"),
    # 5 Jan 12:00 CET = 11:00 UTC; 2 days: 6, 7 Jan, ending 8 Jan 00:00 CET = 7 Jan 23:00
    # UTC; 48 h: 7 Jan 11:00 UTC, the earlier.
    "a winter noon, 2 days": ("2026-01-05T11:00", 2, "2026-01-07T11:00"),
    # Aware 00:10 CEST on 1 Jul (22:10 UTC, 30 Jun): 2 days are 2 and 3 Jul, ending 4 Jul
    # 00:00 CEST = 3 Jul 22:00 UTC; 48 h: 2 Jul 22:10 UTC, the earlier.
    "just after local midnight": ("2026-06-30T22:10", 2, "2026-07-02T22:10"),
}


@pytest.mark.parametrize(("aware", "days", "expected"), DST.values(), ids=DST.keys())
def test_the_deadline_in_brussels_around_the_2026_clock_changes(settings, aware, days, expected):
    settings.ORGANISATION_TIME_ZONE = "Europe/Brussels"
    assert deadline_after(utc(aware), days, organisation_zone()) == utc(expected)


def test_in_utc_the_two_readings_meet_at_the_end_of_the_day(settings):
    settings.ORGANISATION_TIME_ZONE = "UTC"
    # Aware 28 Mar 23:30 UTC: 2 days end 30 Mar 24:00 UTC; 48 h: 30 Mar 23:30, the earlier.
    assert deadline_after(utc("2026-03-28T23:30"), 2, organisation_zone()) == utc(
        "2026-03-30T23:30"
    )


def test_every_label_and_article_comes_from_the_data_file():
    from incidents.models import Incident

    field = Incident._meta.get_field("harm_categories").base_field
    assert list(field.choices) == [(k, h["label"]) for k, h in rules()["harms"].items()]
    assert {d["article"] for d in rules()["deadlines"]} == {
        "Art. 73(2)", "Art. 73(3)", "Art. 73(4)",
    }  # fmt: skip


def test_the_application_dates_come_from_the_file_and_an_amendment_moves_one(monkeypatch):
    from datetime import date

    from incidents import art73

    dates = {d["key"]: d["date"] for d in art73.application_dates()}
    assert dates == {"general": date(2026, 8, 2), "annex_i_products": date(2027, 8, 2)}
    amended = {**rules(), "application": {**rules()["application"], "amendments": [
        {"key": "annex_i_products", "date": date(2028, 8, 2), "source": "a later regulation"},
    ]}}  # fmt: skip
    monkeypatch.setattr(art73, "rules", lambda: amended)
    [moved] = [d for d in art73.application_dates() if d["key"] == "annex_i_products"]
    assert (moved["date"], moved["source"]) == (date(2028, 8, 2), "a later regulation")
