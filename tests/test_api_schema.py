"""The OpenAPI schema generates without a single warning, and validates."""

from __future__ import annotations

from django.core.management import call_command


def test_the_schema_has_no_warnings(tmp_path):
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    assert "/api/releases/{id}/approvals/" in target.read_text()
