from django.urls import path

from governance import views
from governance.evidence import views as evidence
from governance.evidence.pack import views as pack_views

app_name = "governance"

urlpatterns = [
    path("systems/", views.system_list, name="system-list"),
    path("systems/new/", views.system_create, name="system-create"),
    path("systems/<slug:slug>/", views.system_detail, name="system-detail"),
    path("systems/<slug:slug>/edit/", views.system_edit, name="system-edit"),
    path("systems/<slug:slug>/roles/", views.role_grant, name="role-grant"),
    path("systems/<slug:slug>/evidence-pack/", pack_views.evidence_pack, name="evidence-pack"),
    path("systems/<slug:slug>/roles/<int:grant_id>/revoke/", views.role_revoke, name="role-revoke"),
    path("systems/<slug:slug>/evidence/", evidence.evidence_hub, name="evidence-hub"),
    path(
        "systems/<slug:slug>/evidence/coverage/",
        evidence.coverage_page,
        name="evidence-coverage",
    ),
    path(
        "systems/<slug:slug>/evidence/documents/<slug:name>/",
        evidence.document_page,
        name="evidence-document",
    ),
    path(
        "systems/<slug:slug>/evidence/documents/<slug:name>.json",
        evidence.document_json,
        name="evidence-document-json",
    ),
    path(
        "systems/<slug:slug>/evidence/questions/<slug:key>/",
        evidence.question_page,
        name="evidence-question",
    ),
    path("audit/", views.audit_list, name="audit-list"),
    path("audit/export.csv", views.audit_export, name="audit-export"),
    path("people/search/", views.people_search, name="people-search"),
    path("api-tokens/", views.api_token_list, name="api-tokens"),
    path("api-tokens/new/", views.api_token_create, name="api-token-create"),
    path("api-tokens/<int:token_id>/revoke/", views.api_token_revoke, name="api-token-revoke"),
    path(
        "systems/<slug:slug>/api-tokens/",
        views.system_api_token_list,
        name="system-api-tokens",
    ),
    path(
        "systems/<slug:slug>/api-tokens/<int:token_id>/revoke/",
        views.system_api_token_revoke,
        name="system-api-token-revoke",
    ),
]
