"""Retention (EU AI Act Art. 18, 19(1), 26(6)): Failsafe deletes none of its records.

No admin page deletes a record that evidences governance (the one deletion the admin offers
is a role grant's revocation, which the audit trail keeps), and a purge of the whole database
(`manage.py flush`) is refused by the append-only tables' triggers.
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test import RequestFactory

from governance.models import RoleGrant

pytestmark = pytest.mark.django_db

# Revoking a grant deletes its row; the grant and its revocation stay in the audit trail.
REVOCABLE = {RoleGrant}
APPS = {"governance", "releases", "incidents"}


def test_no_admin_page_deletes_a_record(django_user_model):
    root = django_user_model.objects.create_superuser("root", "root@example.com", "x")
    request = RequestFactory().get("/admin/")
    request.user = root
    registered = {
        model: model_admin
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label in APPS and model not in REVOCABLE
    }
    assert len(registered) >= 8  # the audit trail, releases, environments, rollbacks…
    deletable = [
        model.__name__ for model, model_admin in registered.items()
        if model_admin.has_delete_permission(request)
    ]  # fmt: skip
    assert deletable == []


def test_a_purge_of_the_database_is_refused(fraud, owner):
    """`flush` truncates every table: the append-only ones refuse, and nothing is emptied."""
    from governance.models import AuditEvent

    before = AuditEvent.objects.count()
    assert before > 0
    with pytest.raises(CommandError) as refused, transaction.atomic():
        with connection.cursor() as cursor:
            # The suite's sessions allow TRUNCATE for Django's own flush between tests
            # (tests/conftest.py); this one speaks as any other session does.
            cursor.execute("SET LOCAL failsafe.audit_truncate = ''")
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # else TRUNCATE waits for FKs
        call_command("flush", interactive=False, verbosity=0)
    assert "append-only" in str(refused.value.__cause__)
    assert AuditEvent.objects.count() == before
