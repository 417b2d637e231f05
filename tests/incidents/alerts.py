"""Alerts as monitoring sends them: an Alertmanager webhook payload, posted with a bearer
alert token. For the tests of the alert intake (tests/incidents/test_alerts*.py, the alert
token pages)."""

from __future__ import annotations

from django.utils import timezone


def alertmanager(  # type: ignore[no-untyped-def]
    status="firing", fingerprint="c0ffee", severity="critical", group="ReviewRateHigh", **labels
):
    resolved = status == "resolved"
    return {
        "version": "4",
        "status": status,
        "receiver": "failsafe",
        "groupKey": f'{{}}:{{alertname="{group}"}}',
        "groupLabels": {"alertname": "ReviewRateHigh"},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "truncatedAlerts": 0,
        "alerts": [
            {
                "status": status,
                "labels": {
                    "alertname": "ReviewRateHigh",
                    "severity": severity,
                    "environment": "production",
                    **labels,
                },
                "annotations": {"summary": "Review rate 7.2% (threshold 2.5%)"},
                "startsAt": timezone.now().isoformat(),
                "endsAt": timezone.now().isoformat() if resolved else "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus:9090/graph",
                "fingerprint": fingerprint,
            }
        ],
    }


def post(client, path, payload, token):  # type: ignore[no-untyped-def]
    return client.post(
        path, payload, content_type="application/json", headers={"Authorization": f"Bearer {token}"}
    )
