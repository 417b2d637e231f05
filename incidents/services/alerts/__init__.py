"""Alerts from monitoring: recorded, joined to an open incident, or declaring a new one when
they fire at a severity that pages.

What one post to the intake may hold. Anything else is refused whole, nothing written, with
a JSON reason that names the field (`alerts[3].startsAt`):

- at most ALERT_PAYLOAD_MAX_BYTES bytes and ALERT_PAYLOAD_MAX_ALERTS alerts: 413 (set
  Alertmanager's `max_alerts` no higher: it then leaves alerts out, and says how many, in
  `truncatedAlerts`, instead of having its notification refused);
- no string anywhere in it (label, annotation, name, key or any other field) holding U+0000
  or a lone surrogate (U+D800 to U+DFFF): 400. PostgreSQL can store neither, and labels are
  an alert's identity, so they are refused, never stripped (stripping could merge alerts);
- times that exist: RFC 3339, between 1970 and 9998 (without an offset: UTC), Go's zero time
  `0001-01-01T00:00:00Z` meaning "not set": 400;
- text within its cap: an alert's name NAME characters, its fingerprint FINGERPRINT, label
  names and values and annotation names LABEL_TEXT, annotation values ANNOTATION_TEXT: 400.
  Within them, an alert is kept whole; what is taken from it for an incident is cut to fit
  with an ellipsis (a `summary` over 200 characters titles its incident shortened).

Which incident an alert joins (one transaction per post; a post's alerts are taken most
urgent first, so a group's incident has the severity of its most severe firing alert):

1. The open incident of its Alertmanager group (`groupKey`): a group is one incident, its
   alerts stay apart (by fingerprint) within it.
2. Else the open incident its fingerprint declared (alerts without a group, and incidents
   from before groups, which then take the group).
3. Else, firing at a paging severity, it declares one, if its alert token has declared
   fewer than ALERT_NEW_INCIDENTS_PER_MINUTE in the current minute. Past that, it joins the
   token's open storm incident (declared by the first such alert: SEV1, the system's owners
   emailed), and the answer says so in its warnings.

Which environment an alert is about (`match_environment`), never silently:

- its label `environment` (else `env`) names one of the system's environments by slug or by
  name, compared without regard to case or surrounding spaces (a slug first: a name that is
  another environment's slug cannot steal it);
- without such a label, the system's only production environment is assumed, or, in a
  system without a production environment, its only environment; the sender is told so and
  the incident's timeline says so;
- a label that names no environment (or several by name), or no label where there is no
  single one to assume, leaves the alert and its incident without an environment: it is
  never guessed. The sender is told in the answer, the incident's timeline says which label
  value matched nothing and lists the system's environments, and the system's owners get
  an email (an incident without an environment cannot be rolled back).

The package's modules: `parse` (the payloads), `environments` (an alert's environment),
`ingest` (recording a post's alerts), `declare` (the incident an alert joins or declares),
`storm` (the per-token rate of new incidents and the storm incident).
"""

from incidents.services.alerts.environments import (
    ENVIRONMENT_LABELS,
    NOT_ROLLED_BACK,
    EnvironmentMatch,
    match_environment,
)
from incidents.services.alerts.ingest import (
    PAGING_SEVERITIES,
    ReceivedAlert,
    ingest_alert,
    receive_alert,
    receive_alerts,
)
from incidents.services.alerts.parse import (
    ANNOTATION_TEXT,
    FINGERPRINT,
    LABEL_TEXT,
    AlertPayloadError,
    AlertPayloadTooLarge,
    IncomingAlert,
    check_size,
    check_text,
    parse_alertmanager,
    parse_generic,
)
from incidents.services.alerts.storm import STORM_WINDOW

__all__ = [
    "ANNOTATION_TEXT",
    "ENVIRONMENT_LABELS",
    "FINGERPRINT",
    "LABEL_TEXT",
    "NOT_ROLLED_BACK",
    "PAGING_SEVERITIES",
    "STORM_WINDOW",
    "AlertPayloadError",
    "AlertPayloadTooLarge",
    "EnvironmentMatch",
    "IncomingAlert",
    "ReceivedAlert",
    "check_size",
    "check_text",
    "ingest_alert",
    "match_environment",
    "parse_alertmanager",
    "parse_generic",
    "receive_alert",
    "receive_alerts",
]
