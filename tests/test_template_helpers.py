"""The template helpers every page uses."""

from datetime import timedelta

import pytest
from django.template import Context, Template
from django.utils import timezone

from governance.templatetags.failsafe import ago, breakable, duration, since


def test_an_identifier_wraps_after_its_separators_and_stays_escaped():
    assert breakable("threshold_policy-2.1.0") == ("threshold_<wbr>policy-<wbr>2.1.0")
    # Never inside an entity: the escaped forms hold none of the separators.
    assert breakable("<b>x-y</b>") == "&lt;b&gt;x-<wbr>y&lt;/<wbr>b&gt;"
    rendered = Template('{{ value|default:"—"|breakable }}').render(Context({"value": ""}))
    assert rendered == "—"


def test_a_duration_reads_as_people_say_it():
    assert duration(timedelta(seconds=45)) == "45 s"
    assert duration(timedelta(minutes=12, seconds=5)) == "12 min"
    assert duration(timedelta(hours=2, minutes=5)) == "2 h 5 min"
    assert duration(timedelta(days=3, hours=4)) == "3 d 4 h"
    assert duration(None) == "—" and duration(timedelta(seconds=-1)) == "—"


def test_a_wait_is_a_duration_from_the_first_seconds():
    now = timezone.now()
    assert since(now - timedelta(seconds=40)) in ("40 s", "41 s")
    assert since(now - timedelta(hours=2, minutes=5, seconds=3)) == "2 h 5 min"
    assert since(None) == "—"


def test_a_moment_in_a_feed_is_just_now_within_the_minute():
    now = timezone.now()
    assert ago(now - timedelta(seconds=40)) == "just now"
    assert ago(now - timedelta(minutes=12, seconds=5)) == "12\xa0minutes ago"
    assert ago(now - timedelta(days=2, hours=3)) == "2\xa0days, 3\xa0hours ago"
    assert ago(None) == ""


def test_a_person_is_named_by_full_name_else_username_and_nobody_by_nothing():
    from django.contrib.auth.models import User

    named = User(username="olga", first_name="Olga", last_name="Petrova")
    unnamed = User(username="svc-deploy")
    page = Template("{% load failsafe %}{% for p in people %}{{ p|display_name }};{% endfor %}")
    assert page.render(Context({"people": [named, unnamed, None]})) == "Olga Petrova;svc-deploy;;"


@pytest.mark.parametrize(
    ("value", "said"),
    [(None, "—"), (0.0, "0 s"), (0.02, "1 s"), (0.6, "36 s"), (1.0, "1.0 min"), (3.04, "3.0 min")],
)
def test_minutes_say_seconds_under_a_minute(value, said):
    """ "Time to roll back 0.0 min" told an auditor nothing about a 20-second rollback."""
    from governance.templatetags.failsafe import minutes

    assert minutes(value) == said


@pytest.mark.parametrize(
    ("value", "unit", "said"),
    [("0.912000", "AUC", "0.912 AUC"), ("0.900000", "AUC", "0.9 AUC"), ("120.000000", "ms",
     "120 ms"), ("2.5", "", "2.5"), (None, "AUC", "—")],
)  # fmt: skip
def test_a_measurement_reads_as_entered_with_its_unit_apart(value, unit, said):
    from governance.templatetags.evidence_answers import measured

    assert measured(value, unit) == said
