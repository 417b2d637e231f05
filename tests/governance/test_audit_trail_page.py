"""The audit trail page: each object links to its page, columns sort, the filtered events
export as CSV that a spreadsheet cannot run."""

from __future__ import annotations

import csv
import io

import pytest

from governance.audit.export import neutralise
from governance.models import AuditEvent

pytestmark = pytest.mark.django_db


def _csv(response) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def test_each_object_links_to_its_page(client, owner, incident, live_release):
    client.force_login(owner)
    page = client.get("/audit/?system=fraud").content.decode()
    assert f'href="{incident.get_absolute_url()}"' in page
    assert f'href="{live_release.get_absolute_url()}"' in page
    assert "incidents.incident:" not in page


def test_columns_sort_both_ways(client, owner, fraud, viewer, responder):
    client.force_login(owner)
    ascending = client.get("/audit/?sort=actor")
    actors = [e.actor_name for e in ascending.context["page"].object_list]
    assert actors == sorted(actors)
    page = ascending.content.decode()
    assert 'aria-sort="ascending"' in page and "sort=-actor" in page
    descending = client.get("/audit/?sort=-actor").context["page"].object_list
    assert [e.actor_name for e in descending] == sorted(actors, reverse=True)


def test_an_unknown_sort_is_a_clear_400(client, owner, fraud):
    client.force_login(owner)
    response = client.get("/audit/?sort=hash")
    assert response.status_code == 400
    assert "Sort by" in response.content.decode()


def test_the_export_holds_the_filtered_events_the_reader_may_read(
    client, owner, fraud, other_system, viewer
):
    client.force_login(owner)
    response = client.get("/audit/export.csv?action=role.")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = _csv(response)
    expected = AuditEvent.objects.filter(system=fraud, action__startswith="role.").count()
    assert len(rows) == expected > 0
    assert {row["system"] for row in rows} == {"fraud"}  # never the other system's
    assert all(row["page"] for row in rows if row["object_type"] == "governance.aisystem")


def test_the_export_neutralises_formulas(client, owner, fraud):
    from governance.services import update_system

    update_system(
        actor=owner, system=fraud, name='=HYPERLINK("http://evil")', slug=fraud.slug,
        intended_purpose=fraud.intended_purpose, risk_category=fraud.risk_category,
    )  # fmt: skip
    client.force_login(owner)
    rows = _csv(client.get("/audit/export.csv?action=system."))
    cells = [cell for row in rows for cell in row.values()]
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in cells)
    assert any(cell.startswith("'=HYPERLINK") for cell in cells)


@pytest.mark.parametrize("text", ["=1+2", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_neutralise_quotes_what_a_spreadsheet_would_evaluate(text):
    assert neutralise(text) == "'" + text


def test_neutralise_leaves_plain_text_alone():
    assert neutralise("alice") == "alice"
    assert neutralise(None) == ""


def test_the_export_refuses_who_may_read_no_trail(client, viewer, fraud):
    client.force_login(viewer)
    response = client.get("/audit/export.csv")
    assert response.status_code == 403
    assert "Compliance officer" in response.content.decode()
