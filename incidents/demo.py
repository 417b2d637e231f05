"""Demo incidents for `make run`: one being fought now, a serious one with its reporting
clock running, and a quarter of closed ones with post-mortems for the metrics dashboard.

Everything goes through the services. Past incidents are written at the moments they
happened (the services read the clock through `timezone.now`, which is moved for them), so
their timelines, stage stamps and audit events agree with each other.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from unittest import mock

from django.utils import timezone

from governance.models import AISystem
from incidents import services
from incidents.models import ActionItem, AlertStatus, Incident
from incidents.services.alerts import IncomingAlert, receive_alerts
from releases.models import Environment


@contextlib.contextmanager
def _at(moment: datetime) -> Iterator[None]:
    """Run the services as if the clock said `moment`."""
    with mock.patch.object(timezone, "now", lambda: moment):
        yield


REVIEW_RATE_ALERT = IncomingAlert(
    source="alertmanager",
    fingerprint="ReviewRateHigh:eu-web",
    status=AlertStatus.FIRING,
    name="ReviewRateHigh",
    severity="page",
    labels={"alertname": "ReviewRateHigh", "environment": "production", "metric": "review_rate"},
    annotations={"summary": "Manual-review rate 2.9 % on EU web checkout.", "value": "0.029"},
    starts_at=None,
    ends_at=None,
)


def _production(system: AISystem) -> Environment | None:
    return Environment.objects.filter(system=system, is_production=True).first()


def load_incident_demo(users: dict[str, Any], systems: dict[str, AISystem]) -> None:
    if Incident.objects.exists():
        return  # loaded before: `make run` keeps what is there
    now = timezone.now()
    _history(users, systems, now)
    _serious(users, systems["support-assistant"], now)
    _ongoing(users, systems["fraud-screening"], now)


def _ongoing(users: dict[str, Any], system: AISystem, now: datetime) -> None:
    """A SEV2 in containment since 40 minutes ago: the war room to open first."""
    olga, rhea, rob, ravi = users["olga"], users["rhea"], users["rob"], users["ravi"]
    start = now - timedelta(minutes=40)
    with _at(start):
        incident = services.declare_incident(
            actor=olga,
            system=system,
            environment=_production(system),
            title="Manual-review rate tripled on card-not-present payments",
            severity="sev2",
            category="drift",
            source="alert",
            summary="ReviewRateHigh fired at 2.9 % (budget 1.5 %) on EU web checkout.",
            fingerprint=REVIEW_RATE_ALERT.fingerprint,
        )
    script: list[tuple[int, Any]] = [
        (2, lambda i: services.assign_role(actor=olga, incident=i, role="scribe", user=rhea)),
        (3, lambda i: services.assign_role(actor=olga, incident=i, role="ml_lead", user=ravi)),
        (4, lambda i: services.assign_role(actor=olga, incident=i, role="responder", user=rob)),
        (
            6,
            lambda i: services.post_update(
                actor=rhea,
                incident=i,
                body="Started 09:12 UTC, right after the 100 % step of the rollout. "
                "Only EU web checkout; the mobile app looks normal.",
            ),
        ),
        (9, lambda i: services.move_stage(actor=olga, incident=i, stage="containment")),
        (
            11,
            lambda i: services.request_containment(
                actor=rhea, incident=i, kind="route_fallback", target="fraud-gbm v11 (shadow)"
            ),
        ),
        (
            18,
            lambda i: services.post_update(
                actor=olga,
                incident=i,
                body="Fallback takes 50 % of EU web traffic; review rate there back to 1.6 %. "
                "Next update in 30 minutes.",
                kind="status_update",
            ),
        ),
    ]
    for minutes, step in script:
        with _at(start + timedelta(minutes=minutes)):
            step(incident)
    with _at(start + timedelta(minutes=20)):
        services.pin_entry(actor=olga, entry=incident.timeline.latest("id"))
    # Alertmanager repeats the alert now: through the real intake it joins the incident, and
    # the plan's review-rate trigger (held for 40 of its 15 minutes) proposes the rollback a
    # rollback owner confirms with one click.
    receive_alerts(system=system, alerts=[replace(REVIEW_RATE_ALERT, starts_at=start)])


def _serious(users: dict[str, Any], system: AISystem, now: datetime) -> None:
    """A PII leak classified serious yesterday: the Art. 73 clock runs."""
    olga, rhea, carl = users["olga"], users["rhea"], users["carl"]
    start = now - timedelta(hours=26)
    with _at(start):
        incident = services.declare_incident(
            actor=olga,
            system=system,
            environment=_production(system),
            title="Assistant quoted another customer's address",
            severity="sev1",
            category="pii_leak",
            source="user_report",
            summary="A customer forwarded a chat transcript containing a stranger's address.",
        )
    with _at(start + timedelta(minutes=5)):
        services.assign_role(actor=olga, incident=incident, role="communications", user=carl)
    with _at(start + timedelta(minutes=8)):
        services.move_stage(actor=olga, incident=incident, stage="containment")
    with _at(start + timedelta(minutes=12)):
        services.request_containment(
            actor=rhea,
            incident=incident,
            kind="block_rule",
            target=r"outputs matching postal-address patterns (EU formats)",
        )
    with _at(start + timedelta(minutes=30)):
        services.classify_serious(
            actor=olga,
            incident=incident,
            harm_categories=["fundamental_rights"],
            aware_at=start + timedelta(minutes=25),
        )
    with _at(start + timedelta(hours=3)):
        services.move_stage(actor=olga, incident=incident, stage="rollback")


# (system, severity, category, title, days ago, minutes to ack/contain/roll back/recover)
HISTORY = [
    ("fraud-screening", "sev2", "performance", "p95 latency above 300 ms after SDK 5.2", 84,
     (3, 14, 31, 55)),
    ("fraud-screening", "sev3", "drift", "Chargeback labels arrived late: recall dipped", 71,
     (11, 60, None, 240)),
    ("support-assistant", "sev2", "prompt_injection", "Jailbreak prompt leaked the system prompt",
     63, (4, 9, 26, 70)),
    ("document-ocr", "sev3", "availability", "OCR workers out of memory on 40-page scans", 52,
     (6, 21, None, 95)),
    ("fraud-screening", "sev1", "performance", "Every payment scored 0.99: threshold file empty",
     40, (1, 4, 9, 22)),
    ("support-assistant", "sev3", "bias", "Refunds declined more often in Polish", 33,
     (25, 180, 300, 1440)),
    ("document-ocr", "sev4", "drift", "New ID-card layout read with low confidence", 24,
     (40, 300, None, 2880)),
    ("fraud-screening", "sev2", "data_poisoning", "Label feed carried test transactions", 17,
     (5, 35, 50, 180)),
    ("support-assistant", "sev2", "availability", "Model endpoint timeouts after region move", 9,
     (2, 12, 20, 41)),
    ("document-ocr", "sev3", "performance", "Handwriting accuracy down 6 points", 4,
     (15, 90, 130, 400)),
]  # fmt: skip


def _history(users: dict[str, Any], systems: dict[str, AISystem], now: datetime) -> None:
    olga, rhea, ravi = users["olga"], users["rhea"], users["ravi"]
    for slug, severity, category, title, days_ago, timings in HISTORY:
        system = systems[slug]
        start = now - timedelta(days=days_ago, hours=3)
        with _at(start):
            incident = services.declare_incident(
                actor=None,  # monitoring declared it
                system=system,
                environment=_production(system),
                title=title,
                severity=severity,
                category=category,
                source="alert",
            )
        ack, contain, rollback, recover = timings
        with _at(start + timedelta(minutes=ack)):
            services.assign_role(actor=olga, incident=incident, role="commander", user=olga)
            services.move_stage(actor=olga, incident=incident, stage="containment")
        if rollback is None:  # contained and fixed forward: the rollback stage is skipped
            marks = [(contain, "recovery"), (recover, "review")]
        else:
            marks = [(contain, "rollback"), (rollback, "recovery"), (recover, "review")]
        for minutes, stage in marks:
            with _at(start + timedelta(minutes=minutes)):
                services.move_stage(actor=olga, incident=incident, stage=stage)
        done = start + timedelta(minutes=recover + 60)
        with _at(done):
            services.save_postmortem(
                actor=rhea,
                incident=incident,
                summary=f"{title}. Detected by monitoring; contained within {contain} minutes.",
                impact="A share of production traffic for the time to recovery; no data lost.",
                root_cause_model="See the linked analysis.",
                detection_gaps="The alert fired on the aggregate, not per segment.",
                went_well="Containment from the runbook worked first time.",
                went_badly="The on-call lead had to find the rollback owner by chat.",
            )
            services.add_action_item(
                actor=olga,
                incident=incident,
                title="Alert per segment, not only on the aggregate",
                owner=ravi,
                due_date=(done + timedelta(days=21)).date(),
            )
            services.publish_postmortem(actor=olga, incident=incident)
        if days_ago < 20:  # recent follow-ups are still open; older ones were done
            continue
        for item in ActionItem.objects.filter(incident=incident):
            with _at(done + timedelta(days=10)):
                services.update_action_item(
                    actor=olga, item=item, owner=item.owner, due_date=item.due_date, status="done"
                )
