"""The alert-storm limit: a post's shared state (`Post`), which counts the incidents its alert
token declares a minute, and the token's storm incident that alerts past the rate join."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from governance.models import AISystem
from incidents.models import AlertToken, EntryKind, Incident, Severity
from incidents.notifications import tell_owners_of_storm
from incidents.services.alerts.declare import declare_from_alert, open_incident
from incidents.services.alerts.environments import EnvironmentMatch
from incidents.services.alerts.parse import IncomingAlert
from incidents.services.timeline import record
from releases.models import Environment

logger = logging.getLogger(__name__)

STORM_WINDOW = timedelta(minutes=1)


@dataclass
class Post:
    """One post's alerts as they are received: what they share, read once."""

    system: AISystem
    token: AlertToken | None
    environments: list[Environment]
    by_group: dict[str, Incident | None] = field(default_factory=dict)
    locked_token: AlertToken | None = None
    storm: Incident | None = None

    def admit(self) -> bool:
        """Whether the token may declare one more incident this minute; counts it if so."""
        limit = settings.ALERT_NEW_INCIDENTS_PER_MINUTE
        if self.token is None or limit == 0:
            return True
        if self.locked_token is None:
            # Posts of one token count its new incidents one at a time. Taken after the
            # group locks and before any incident row: every post locks in that order.
            self.locked_token = AlertToken.objects.select_for_update().get(pk=self.token.pk)
        token, now = self.locked_token, timezone.now()
        if token.window_started_at is None or now - token.window_started_at >= STORM_WINDOW:
            token.window_started_at, token.window_declared = now, 0
        if token.window_declared >= limit:
            return False
        token.window_declared += 1
        token.save(update_fields=["window_started_at", "window_declared"])
        return True


def join_storm(
    post: Post, alert: IncomingAlert, match: EnvironmentMatch
) -> tuple[Incident, tuple[str, ...]]:
    """The token's open storm incident (its row lock held: one storm per token), declared
    with the first alert past the rate; the owners hear of a new one."""
    assert post.token is not None  # only a token's posts are rated
    limit = settings.ALERT_NEW_INCIDENTS_PER_MINUTE
    token = post.token
    if post.storm is None:
        post.storm = open_incident(post.system, alert_token=token, is_storm=True)
    if post.storm is None:
        what = (
            f"More than {limit} new incidents a minute from the alert token {token.name} "
            f"({token.prefix}…)"
        )
        post.storm = declare_from_alert(
            post,
            alert,
            match.environment,
            Severity.SEV1,
            title=f"Alert storm: {token.name}",
            summary=f"{what}: every alert that would open another one joins this incident "
            "until it is closed. Its alerts keep their own names and fingerprints. Look at "
            "what the monitoring sends; revoke the token if it is not to be trusted.",
            storm=True,
        )
        record(
            post.storm,
            actor=None,
            kind=EntryKind.ALERT,
            action="alert.storm",
            body=f"{what}: alerts that would open another incident join this one.",
            data={"token": token.prefix, "limit": limit},
        )
        logger.warning(
            "alert storm from token %s of %s: incident %s", token.prefix, post.system.slug,
            post.storm.pk,
        )  # fmt: skip
        tell_owners_of_storm(post.storm.pk)
    said = (
        f"More than {limit} new incidents a minute from this token: the alert joined the "
        f"storm incident INC-{post.storm.pk} instead of opening one of its own."
    )
    return post.storm, (said,)
