"""An incident's message in its system's Slack channel, updated in place as the incident and
its rollback move (incidents.slack), and the interactive requests from Slack already taken."""

from __future__ import annotations

from django.db import models

from governance.limits import ERROR, length_checks


class SlackMessage(models.Model):
    """Where the incident's one message is: chat.update needs the channel and its ts."""

    incident = models.OneToOneField(
        "incidents.Incident", on_delete=models.CASCADE, related_name="slack_message"
    )
    channel = models.CharField(max_length=32)
    ts = models.CharField(max_length=32)
    posted_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    # What Slack last answered that was not an acceptance (the task retries meanwhile).
    error = models.TextField(max_length=ERROR, blank=True)

    class Meta:
        constraints = length_checks("slackmessage", {"error": ERROR})

    def __str__(self) -> str:
        return f"slack message {self.channel}/{self.ts}"


class SlackDelivery(models.Model):
    """One interactive request Slack signed, by its signature: the same request sent again
    (a replay within the five minutes its timestamp is accepted) is taken once."""

    signature = models.CharField(max_length=80, unique=True)
    received_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"slack delivery {self.signature[:16]}"
