"""The admin shows releases and their evidence; it changes none of it.

Releases change only through the services (pages and API), which hold the rules:
freezing at submission, separation of duties, quorum. Backend secrets are never shown.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from governance.admin import ReadOnlyAdmin
from governance.permissions import restrict
from releases.models import (
    Approval,
    Deployment,
    Environment,
    GateCheck,
    GatePolicy,
    Measurement,
    Release,
    ReleaseComponent,
    RolloutStep,
    StageAnalysis,
)


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False

    def get_readonly_fields(self, request: HttpRequest, obj=None):  # type: ignore[no-untyped-def]
        return self.fields


class ComponentInline(ReadOnlyInline):
    model = ReleaseComponent
    fields = ("kind", "version", "uri", "digest")


class GateCheckInline(ReadOnlyInline):
    model = GateCheck
    fields = ("criterion", "comparison", "measured_value", "target", "passed", "evidence_uri",
              "recorded_by", "recorded_at")  # fmt: skip


class ApprovalInline(ReadOnlyInline):
    model = Approval
    fields = ("approver", "decision", "comment", "release_digest", "decided_at")

    def get_queryset(self, request: HttpRequest):  # type: ignore[no-untyped-def]
        # Each row is titled by str(approval), which names the release and the approver.
        return super().get_queryset(request).select_related("release", "approver")


class SystemScopedAdmin(ReadOnlyAdmin):
    """Read-only, and only the rows of systems the user holds a role on."""

    system_path = "system"

    def get_queryset(self, request: HttpRequest):  # type: ignore[no-untyped-def]
        return restrict(super().get_queryset(request), request.user, via=self.system_path)


@admin.register(Release)
class ReleaseAdmin(SystemScopedAdmin):
    list_display = ("__str__", "title", "status", "author", "submitted_at")
    list_filter = ("status", "system")
    search_fields = ("version", "title")
    list_select_related = ("system", "author")
    inlines = (ComponentInline, GateCheckInline, ApprovalInline)
    raw_id_fields = ("based_on",)  # a system may hold hundreds of releases


@admin.register(Environment)
class EnvironmentAdmin(SystemScopedAdmin):
    list_display = ("__str__", "name", "is_production", "backend_type")
    exclude = ("backend_secrets", "prometheus_secrets")


@admin.register(GatePolicy)
class GatePolicyAdmin(SystemScopedAdmin):
    list_display = ("system", "approvals_required", "updated_at")


@admin.register(RolloutStep)
class RolloutStepAdmin(SystemScopedAdmin):
    system_path = "release__system"
    list_display = (
        "release", "environment", "action", "stage", "traffic_percent", "status", "requested_at",
    )  # fmt: skip
    list_filter = ("status", "action", "stage")


class MeasurementInline(ReadOnlyInline):
    model = Measurement
    fields = ("taken_at", "phase", "value", "message", "duration_ms")


@admin.register(StageAnalysis)
class StageAnalysisAdmin(SystemScopedAdmin):
    """A stage's analysis and its measurements, as the services recorded them."""

    system_path = "step__release__system"
    list_display = ("step", "success_condition", "status", "started_at", "concluded_at")
    list_filter = ("status",)
    list_select_related = ("step__release", "step__environment")
    inlines = (MeasurementInline,)


@admin.register(Deployment)
class DeploymentAdmin(SystemScopedAdmin):
    system_path = "environment__system"
    list_display = ("release", "environment", "started_at", "ended_at", "via")
