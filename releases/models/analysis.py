"""A rollout stage's analysis, after Argo Rollouts' AnalysisTemplate: a PromQL query measured
every interval, `count` times, against a success condition; and each measurement taken."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from governance.limits import ERROR, NAME, QUERY, length_checks
from releases.models.deployment import RolloutStep


class AnalysisStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCESSFUL = "successful", "Passed"
    FAILED = "failed", "Failed"  # more failed measurements than the failure limit
    ERROR = "error", "Error"  # Prometheus refused the query too many times in a row
    INCONCLUSIVE = "inconclusive", "Inconclusive"  # too many measurements without data
    CANCELLED = "cancelled", "Cancelled"  # the step never applied, or the rollout moved on

    @classmethod
    def concluded(cls) -> list[str]:
        return [cls.SUCCESSFUL, cls.FAILED, cls.ERROR, cls.INCONCLUSIVE, cls.CANCELLED]


class MeasurementPhase(models.TextChoices):
    SUCCESSFUL = "successful", "Passed"
    FAILED = "failed", "Failed"
    INCONCLUSIVE = "inconclusive", "No data"  # Prometheus dead, hung, slow, empty or NaN
    ERROR = "error", "Error"  # Prometheus refused the query (HTTP 4xx: e.g. invalid PromQL)


class StageAnalysis(models.Model):
    """The analysis a rollout step carries, as written with the promotion, and where it stands.

    It starts when the step is applied. Beat takes a measurement each `interval_seconds`
    until `count` are taken or it concludes early: failed once more than `failure_limit`
    measurements failed, error once more than `CONSECUTIVE_ERROR_LIMIT` in a row were
    refused, inconclusive once more than `inconclusive_limit` had no data; else passed.
    """

    step = models.OneToOneField(RolloutStep, on_delete=models.CASCADE, related_name="analysis")
    query = models.TextField(max_length=QUERY)
    success_condition = models.CharField(max_length=NAME)  # e.g. "result < 0.05"
    interval_seconds = models.PositiveIntegerField(default=60)
    count = models.PositiveIntegerField(default=5)
    failure_limit = models.PositiveIntegerField(default=0)
    inconclusive_limit = models.PositiveIntegerField(default=0)
    status = models.CharField(
        max_length=12, choices=AnalysisStatus.choices, default=AnalysisStatus.RUNNING
    )
    started_at = models.DateTimeField(null=True, blank=True)  # when the step was applied
    next_measurement_at = models.DateTimeField(null=True, blank=True)  # claimed by beat
    concluded_at = models.DateTimeField(null=True, blank=True)
    conclusion = models.TextField(max_length=ERROR, blank=True)  # why, in one sentence
    # Passed while its stage had not yet soaked as the gate policy asks: beat advances the
    # rollout then (releases.services.analysis.advance_soaked).
    advance_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            *length_checks("stageanalysis", {"query": QUERY, "conclusion": ERROR}),
            models.CheckConstraint(
                condition=Q(count__gte=1) & Q(interval_seconds__gte=1),
                name="stageanalysis_count_and_interval",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_measurement_at"],
                condition=Q(status="running", next_measurement_at__isnull=False),
                name="stageanalysis_due",
            ),
            models.Index(
                fields=["advance_at"],
                condition=Q(advance_at__isnull=False),
                name="stageanalysis_advance_due",
            ),
        ]

    def __str__(self) -> str:
        return f"analysis of {self.step}: {self.success_condition}"

    @property
    def is_running(self) -> bool:
        return self.status == AnalysisStatus.RUNNING


class Measurement(models.Model):
    """One answer of Prometheus to the analysis's query, judged by its success condition."""

    analysis = models.ForeignKey(
        StageAnalysis, on_delete=models.CASCADE, related_name="measurements"
    )
    taken_at = models.DateTimeField()
    phase = models.CharField(max_length=12, choices=MeasurementPhase.choices)
    value = models.CharField(max_length=64, blank=True)  # as Prometheus wrote it
    message = models.TextField(max_length=ERROR, blank=True)  # why no data, or the error
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["taken_at", "id"]
        constraints = length_checks("measurement", {"message": ERROR})

    def __str__(self) -> str:
        return f"{self.phase} {self.value} at {self.taken_at:%H:%M:%S}"
