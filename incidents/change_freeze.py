"""The change freeze: while a SEV1 or SEV2 incident is being worked on an environment, the
deployment gate (releases.services.deploy_gate) refuses promotions there, except a release the
incident's lead named as its hotfix. Rollbacks are never frozen: the gate lets a return to the
last known good through before it asks any rule.

An incident that names no environment freezes every environment of its system. The freeze
lifts when the incident is recovered (it reaches post-incident review) or closed.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db import connection
from django.db.models import Q

from incidents.models import Severity, Stage
from releases.models import Environment, Release
from releases.services.deploy_gate import Refusal

FREEZING_SEVERITIES = (Severity.SEV1, Severity.SEV2)
FREEZING_STAGES = (Stage.DETECTED, Stage.CONTAINMENT, Stage.ROLLBACK, Stage.RECOVERY)


def freezing_incidents(environment: Environment) -> Q:
    """The incidents that freeze changes to `environment`."""
    return Q(
        Q(environment=environment) | Q(environment__isnull=True, system_id=environment.system_id),
        severity__in=FREEZING_SEVERITIES,
        stage__in=FREEZING_STAGES,
    )


# freezing_incidents(), less the incidents that name the release their hotfix, written out:
# the gate asks it on every deployment's path, and compiling the ORM's form cost more than
# running it (tests/incidents/test_change_freeze.py holds both forms to the same answers).
_HOLDING_SQL = """
SELECT incident.id, incident.severity FROM incidents_incident AS incident
WHERE (incident.environment_id = %(environment)s
       OR (incident.environment_id IS NULL AND incident.system_id = %(system)s))
    AND incident.severity = ANY(%(severities)s) AND incident.stage = ANY(%(stages)s)
    AND NOT EXISTS (SELECT 1 FROM incidents_hotfix AS hotfix
                    WHERE hotfix.incident_id = incident.id AND hotfix.release_id = %(release)s)
ORDER BY incident.detected_at, incident.id
"""


def holding(release: Release, environment: Environment) -> list[tuple[int, str]]:
    """(id, severity) of the incidents that freeze `environment` and do not let `release`
    through as their hotfix, oldest first."""
    with connection.cursor() as cursor:
        cursor.execute(
            _HOLDING_SQL,
            {
                "environment": environment.pk,
                "system": environment.system_id,
                "severities": list(FREEZING_SEVERITIES),
                "stages": list(FREEZING_STAGES),
                "release": release.pk,
            },
        )
        return list(cursor.fetchall())


def change_freeze(release: Release, environment: Environment, stage: str) -> Iterator[Refusal]:
    """A gate rule: one refusal naming the incidents that hold the environment frozen."""
    if held := holding(release, environment):
        named = ", ".join(f"INC-{pk} ({Severity(severity).name})" for pk, severity in held)
        yield Refusal(
            "change_freeze",
            f"Change freeze on {environment.name} while {named} is open: only a rollback, or a "
            "release its lead names as the hotfix, goes there now.",
        )
