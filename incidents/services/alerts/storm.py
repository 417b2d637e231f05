"""The alert-storm limit: a post's shared state (`Post`), which counts the incidents its alert
token declares a minute, and the token's storm incident that alerts past the rate join."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db.models import Case, F, Q, Value, When
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
    locked: bool = False
    storm: Incident | None = None

    def admit(self) -> bool:
        """Whether the token may declare one more incident this minute; counts it if so.

        Posts of one token count its new incidents one at a time: the count is taken by an
        UPDATE, whose row lock holds to the end of the post's transaction (after the group
        locks and before any incident row: every post locks in that order)."""
        limit = settings.ALERT_NEW_INCIDENTS_PER_MINUTE
        if self.token is None or limit == 0:
            return True
        if self._count_one(self.token.pk, limit):
            self.locked = True
            return True
        if not self.locked:
            # Refused without a row changed, so without its lock: take it (the storm
            # incident is one per token under it), then count again, now for certain.
            AlertToken.objects.select_for_update().values("pk").get(pk=self.token.pk)
            self.locked = True
            return self._count_one(self.token.pk, limit)
        return False

    @staticmethod
    def _count_one(token_pk: int, limit: int) -> bool:
        """One more incident in the token's window, if the window has room: one statement."""
        now = timezone.now()
        fresh = Q(window_started_at__isnull=True) | Q(window_started_at__lte=now - STORM_WINDOW)
        counted = AlertToken.objects.filter(fresh | Q(window_declared__lt=limit), pk=token_pk)
        return bool(
            counted.update(
                window_started_at=Case(When(fresh, then=Value(now)), default="window_started_at"),
                window_declared=Case(When(fresh, then=Value(1)), default=F("window_declared") + 1),
            )
        )


def join_storm(
    post: Post, alert: IncomingAlert, match: EnvironmentMatch
) -> tuple[Incident, tuple[str, ...]]:
    """The token's open storm incident (its row lock held: one storm per token), declared
    with the first alert past the rate; the owners hear of a new one."""
    assert post.token is not None  # only a token's posts are rated
    limit = settings.ALERT_NEW_INCIDENTS_PER_MINUTE
    token = post.token
    if post.storm is None:
        post.storm = open_incident(post.system, Q(alert_token=token, is_storm=True))
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
