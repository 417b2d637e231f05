"""The Django admin, restricted like the pages: changes go through the services."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from governance import services
from governance.models import AISystem, AuditCheckpoint, AuditEvent, IdentityLink, RoleGrant
from governance.permissions import can, restrict, visible_systems
from governance.roles import Action

SYSTEM_FORM_FIELDS = (
    "name", "slug", "intended_purpose", "risk_category", "operator_role", "reporting_regime",
    "drift_severity",
)  # fmt: skip


class RoleGrantInline(admin.TabularInline):
    model = RoleGrant
    fields = ("role", "user", "group", "granted_by", "granted_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False


@admin.register(AISystem)
class AISystemAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "risk_category", "updated_at"]
    list_filter = ["risk_category"]
    search_fields = ["name", "slug", "intended_purpose"]
    fields = SYSTEM_FORM_FIELDS
    inlines = [RoleGrantInline]

    def get_queryset(self, request: HttpRequest):  # type: ignore[no-untyped-def]
        return visible_systems(request.user)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:  # type: ignore[no-untyped-def]
        if obj is None:
            return super().has_change_permission(request) or request.user.is_staff
        return can(request.user, Action.CHANGE, obj)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False  # the inventory keeps its history; systems are never deleted

    def save_model(self, request, obj, form, change) -> None:  # type: ignore[no-untyped-def]
        data = {name: form.cleaned_data[name] for name in SYSTEM_FORM_FIELDS}
        if change:
            services.update_system(actor=request.user, system=obj, **data)
        else:
            created = services.create_system(actor=request.user, **data)
            obj.pk = created.pk

    def save_related(self, request, form, formsets, change) -> None:  # type: ignore[no-untyped-def]
        pass  # grants are read-only here; they change through RoleGrantAdmin


@admin.register(RoleGrant)
class RoleGrantAdmin(admin.ModelAdmin):
    list_display = ["system", "role", "user", "group", "granted_by", "granted_at"]
    list_filter = ["role", "system"]
    fields = ["system", "role", "user", "group"]
    autocomplete_fields = ["user", "group"]
    list_select_related = ["system", "user", "group", "granted_by"]

    def get_queryset(self, request: HttpRequest):  # type: ignore[no-untyped-def]
        return restrict(super().get_queryset(request), request.user, Action.VIEW)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):  # type: ignore[no-untyped-def]
        if db_field.name == "system":
            kwargs["queryset"] = visible_systems(request.user, Action.MANAGE_ROLES)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False  # a grant is granted or revoked, never edited

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:  # type: ignore[no-untyped-def]
        if obj is None:
            return request.user.is_staff
        return can(request.user, Action.MANAGE_ROLES, obj.system)

    def save_model(self, request, obj, form, change) -> None:  # type: ignore[no-untyped-def]
        data = form.cleaned_data
        try:
            grant = services.grant_role(
                actor=request.user,
                system=data["system"],
                role=data["role"],
                user=data.get("user"),
                group=data.get("group"),
            )
        except ValidationError as error:
            self.message_user(request, "; ".join(error.messages), level="error")
            return
        obj.pk = grant.pk

    def delete_model(self, request, obj) -> None:  # type: ignore[no-untyped-def]
        services.revoke_role(actor=request.user, grant=obj)

    def delete_queryset(self, request, queryset) -> None:  # type: ignore[no-untyped-def]
        for grant in queryset:
            services.revoke_role(actor=request.user, grant=grant)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = [
        "occurred_at",
        "chain",
        "seq",
        "actor_name",
        "credential",
        "action",
        "object_repr",
    ]
    list_filter = ["action"]
    search_fields = ["object_repr", "actor_name", "credential", "request_id"]

    def get_queryset(self, request: HttpRequest):  # type: ignore[no-untyped-def]
        return restrict(super().get_queryset(request), request.user, Action.VIEW_AUDIT)


@admin.register(AuditCheckpoint)
class AuditCheckpointAdmin(ReadOnlyAdmin):
    list_display = ["id", "created_at", "hash", "key_id"]

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return request.user.is_superuser


@admin.register(IdentityLink)
class IdentityLinkAdmin(ReadOnlyAdmin):
    """Made by sign-ins only (governance.services.sign_in), each with its audit event."""

    list_display = ["user", "issuer", "subject", "linked_at"]
    search_fields = ["user__username", "subject"]

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return request.user.is_superuser
