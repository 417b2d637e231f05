"""The decision in the notice: a proposal's email carries the evidence and a signed, expiring
link that opens the confirmation of that proposal; confirming is still a POST by a signed-in
person with the role."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from incidents import services as incidents
from releases.models import RollbackRequest, RollbackStatus
from releases.notifications import email_notice

pytestmark = pytest.mark.django_db

TRIGGER = {"metric": "review_rate", "comparison": ">", "threshold": "2.5", "window_minutes": 15,
           "value": "3.1", "mode": "auto_propose"}  # fmt: skip


@pytest.fixture
def proposal(incident, earlier):  # type: ignore[no-untyped-def]
    request, _ = incidents.roll_back_incident(
        actor=None, incident=incident, reason="The rollback plan's trigger held.",
        trigger=TRIGGER, propose=True,
    )  # fmt: skip
    return request


def link_in_the_email(proposal) -> str:  # type: ignore[no-untyped-def]
    email_notice(request_id=proposal.pk, event="proposed", message="Proposed by the plan.")
    body = mail.outbox[-1].body
    found = re.search(r"http://\S+/rollbacks/\d+/decide/\S+/", body)
    assert found, body
    return found.group(0).split("8000", 1)[1]


def test_the_email_carries_the_evidence_and_a_link_to_confirm_in_one_click(
    client, proposal, rollback_owner, incident
):
    url = link_in_the_email(proposal)
    body = mail.outbox[-1].body
    assert "review_rate > 2.5 for 15 min: 3.1" in body and "60 minutes" in body
    client.force_login(rollback_owner)
    page = client.get(url)
    html = page.content.decode()
    assert page.status_code == 200 and 'data-testid="decision-confirm"' in html
    assert "Confirm: roll back to 1.9.0" in html and "2.0.0" in html
    done = client.post(url, {"decision": "confirm"})
    assert done.status_code == 302 and done.url == incident.get_absolute_url()
    proposal.refresh_from_db()
    assert proposal.status == RollbackStatus.REQUESTED and proposal.confirmed_by == rollback_owner
    again = client.get(url).content.decode()  # the link still shows it, decided
    assert 'data-testid="decision-confirm"' not in again and "confirmed by" in again


def test_an_expired_link_is_refused_with_a_clear_page_and_changes_nothing(
    client, proposal, rollback_owner
):
    url = link_in_the_email(proposal)
    client.force_login(rollback_owner)
    with time_machine.travel(timezone.now() + timedelta(minutes=61)):
        page = client.get(url)
        assert page.status_code == 410 and "has expired" in page.content.decode()
        assert client.post(url, {"decision": "confirm"}).status_code == 410
    assert RollbackRequest.objects.get(pk=proposal.pk).status == RollbackStatus.PROPOSED


def test_a_changed_link_or_one_for_another_rollback_is_refused(client, proposal, rollback_owner):
    url = link_in_the_email(proposal)
    client.force_login(rollback_owner)
    tampered = url[:-3] + ("A" if url[-3] != "A" else "B") + url[-2:]
    page = client.get(tampered)
    assert page.status_code == 400 and "not one Failsafe sent" in page.content.decode()
    other = url.replace(f"/rollbacks/{proposal.pk}/", f"/rollbacks/{proposal.pk + 1000}/")
    assert client.get(other).status_code == 404  # no such rollback
    assert client.post(tampered, {"decision": "confirm"}).status_code == 400
    assert RollbackRequest.objects.get(pk=proposal.pk).status == RollbackStatus.PROPOSED


def test_whoever_may_not_roll_back_sees_the_proposal_but_no_button(
    client, proposal, viewer, outsider
):
    url = link_in_the_email(proposal)
    client.force_login(viewer)
    html = client.get(url).content.decode()
    assert 'data-testid="decision-confirm"' not in html and 'data-testid="decision-who"' in html
    assert client.post(url, {"decision": "confirm"}).status_code == 403
    client.force_login(outsider)
    assert client.get(url).status_code == 404
    client.logout()
    anonymous = client.get(url)
    assert anonymous.status_code == 302 and "/login/" in anonymous.url
    assert RollbackRequest.objects.get(pk=proposal.pk).status == RollbackStatus.PROPOSED
