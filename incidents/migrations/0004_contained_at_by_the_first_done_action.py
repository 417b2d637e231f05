"""contained_at by the one rule (incidents.services.lifecycle.mark_contained): the first of a
containment action marked done, leaving the containment stage, the rollback done. Incidents
recorded before it kept only the stage's stamp: their first done action, or their rollback,
now counts, and a containment stage passed over but done that way is no longer skipped."""

from django.db import migrations

CONTAINED_BY_THE_RULE = """
WITH first_done AS (
    SELECT incident_id, MIN(done_at) AS at
    FROM incidents_containmentaction WHERE done_at IS NOT NULL GROUP BY incident_id
), ruled AS (
    SELECT incident.id,
        LEAST(incident.contained_at, incident.rolled_back_at, first_done.at) AS contained_at
    FROM incidents_incident AS incident
    LEFT JOIN first_done ON first_done.incident_id = incident.id
)
UPDATE incidents_incident AS incident
SET contained_at = ruled.contained_at,
    skipped_stages = array_remove(incident.skipped_stages, 'containment')
FROM ruled
WHERE ruled.id = incident.id AND ruled.contained_at IS NOT NULL
    AND (incident.contained_at IS DISTINCT FROM ruled.contained_at
         OR 'containment' = ANY(incident.skipped_stages))
"""


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0003_incident_rollbacks"),
    ]

    operations = [
        # Nothing to undo: the earlier code reads contained_at as it is.
        migrations.RunSQL(CONTAINED_BY_THE_RULE, reverse_sql=migrations.RunSQL.noop),
    ]
