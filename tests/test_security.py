"""Security headers and cookies, each asserted on real responses (production defaults: the
suite runs with DEBUG off; only the HTTPS redirect is off, for the plain-HTTP test client)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.factories import PASSWORD

ROOT = Path(__file__).resolve().parent.parent
PAGES = ["/login/", "/systems/", "/api/docs/", "/admin/"]


def _csp(response) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    policy = response["Content-Security-Policy"]
    directives = (part.strip().split() for part in policy.split(";") if part.strip())
    return {name: values for name, *values in directives}


@pytest.fixture
def signed_in(client, owner):
    client.force_login(owner)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("path", PAGES)
def test_it_sends_a_csp_without_inline_scripts_or_styles(signed_in, path):
    response = signed_in.get(path, follow=True, secure=True)

    assert response.status_code == 200
    csp = _csp(response)
    assert csp["script-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"]
    assert csp["default-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    unsafe = {name for name, values in csp.items() if any("unsafe" in v for v in values)}
    # Swagger UI injects a <style> element: the API docs allow inline style elements only.
    assert unsafe == ({"style-src-elem"} if path == "/api/docs/" else set())


@pytest.mark.django_db
def test_the_csp_covers_api_answers_and_error_pages(signed_in):
    assert _csp(signed_in.get("/api/systems/", secure=True))["script-src"] == ["'self'"]
    assert _csp(signed_in.get("/no-such-page/", secure=True))["script-src"] == ["'self'"]


@pytest.mark.django_db
def test_the_api_docs_load_their_init_script_from_a_url(signed_in):
    page = signed_in.get("/api/docs/", secure=True).content.decode()
    script = re.search(r'<script src="([^"]*script=[^"]*)"', page)

    assert script, "Swagger UI's init script must be a file: the CSP refuses inline ones"
    assert signed_in.get(script.group(1).replace("&amp;", "&"), secure=True).status_code == 200


def test_templates_hold_no_inline_scripts_styles_or_event_handlers():
    # The evidence pack's report.html is a file inside the pack, never served by the app.
    offline = {ROOT / "templates/governance/evidence/report.html"}
    inline = re.compile(
        r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=|javascript:|hx-on", re.I
    )
    found = [
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for path in (ROOT / "templates").rglob("*.html")
        if path not in offline
        for match in inline.finditer(path.read_text())
    ]
    assert not found


@pytest.mark.django_db
def test_it_sends_hsts_on_https(client):
    response = client.get("/login/", secure=True)

    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"


@pytest.mark.django_db
def test_it_denies_framing_sniffing_and_cross_origin_openers(client):
    response = client.get("/login/", secure=True)

    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


@pytest.mark.django_db
def test_session_and_csrf_cookies_are_secure(client, owner):
    response = client.get("/login/", secure=True)
    csrf = response.cookies["csrftoken"]
    assert csrf["secure"] is True
    assert csrf["samesite"] == "Lax"

    response = client.post(
        "/login/", {"username": owner.username, "password": PASSWORD}, secure=True
    )
    assert response.status_code == 302
    session = response.cookies["sessionid"]
    assert session["secure"] is True
    assert session["httponly"] is True
    assert session["samesite"] == "Lax"


def test_hsts_and_lockout_settings_come_from_the_environment():
    from tests.production_env import manage, production_env

    show = (
        "from django.conf import settings as s; print(s.SECURE_HSTS_SECONDS, "
        "s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_HSTS_PRELOAD, s.AXES_ENABLED, "
        "s.AXES_FAILURE_LIMIT, int(s.AXES_COOLOFF_TIME.total_seconds()), "
        "s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE)"
    )
    defaults = manage("shell", "-c", show, env=production_env())
    assert defaults.stdout.strip().splitlines()[-1] == "31536000 True True True 5 900 True True"

    changed = manage(
        "shell", "-c", show,
        env=production_env(
            SECURE_HSTS_SECONDS="3600", SECURE_HSTS_INCLUDE_SUBDOMAINS="false",
            SECURE_HSTS_PRELOAD="false", LOGIN_LOCKOUT_ENABLED="false", LOGIN_FAILURE_LIMIT="3",
            LOGIN_LOCKOUT_MINUTES="60",
        ),
    )  # fmt: skip
    assert changed.stdout.strip().splitlines()[-1] == "3600 False False False 3 3600 True True"
