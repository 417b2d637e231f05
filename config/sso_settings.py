"""Single sign-on with OpenID Connect (mozilla-django-oidc), and the password sign-in switch.

OIDC is on when OIDC_ISSUER is set. The provider's endpoints are read from its discovery
document when a sign-in needs them (governance/sso/provider.py), so only the issuer, the
client and the group mapping are configured here.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_int, env_secret


def parse_group_map(raw: str) -> dict[str, tuple[str, ...]]:
    """Read "idp-group=failsafe-group,…" into {idp group: Failsafe groups}; an IdP group may
    be named more than once to give several Failsafe groups."""
    mapping: dict[str, list[str]] = {}
    for item in raw.split(","):
        if not item.strip():
            continue
        idp_group, sep, failsafe_group = (part.strip() for part in item.partition("="))
        if not sep or not idp_group or not failsafe_group:
            raise ImproperlyConfigured(
                f"OIDC_GROUP_MAP entries are idp-group=failsafe-group, not {item.strip()!r}"
            )
        mapping.setdefault(idp_group, []).append(failsafe_group)
    return {idp: tuple(groups) for idp, groups in mapping.items()}


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


OIDC_ISSUER = os.environ.get("OIDC_ISSUER", "").strip().rstrip("/")
OIDC_ENABLED = bool(OIDC_ISSUER)
OIDC_PROVIDER_NAME = os.environ.get("OIDC_PROVIDER_NAME", "").strip() or "single sign-on"
OIDC_RP_CLIENT_ID = os.environ.get("OIDC_CLIENT_ID", "")
OIDC_RP_CLIENT_SECRET = env_secret("OIDC_CLIENT_SECRET") if OIDC_ENABLED else ""
if OIDC_ENABLED and not OIDC_RP_CLIENT_ID:
    raise ImproperlyConfigured("OIDC_CLIENT_ID must be set when OIDC_ISSUER is")
OIDC_RP_SCOPES = os.environ.get("OIDC_SCOPES", "openid email profile groups")
OIDC_RP_SIGN_ALGO = os.environ.get("OIDC_SIGN_ALGO", "RS256")
OIDC_USERNAME_CLAIM = os.environ.get("OIDC_USERNAME_CLAIM", "preferred_username")
OIDC_GROUPS_CLAIM = os.environ.get("OIDC_GROUPS_CLAIM", "groups")
OIDC_GROUP_MAP = parse_group_map(os.environ.get("OIDC_GROUP_MAP", ""))
OIDC_TIMEOUT = env_int("OIDC_TIMEOUT_SECONDS", default=10)
OIDC_USE_PKCE = True
OIDC_TOKEN_USE_BASIC_AUTH = True  # client_secret_basic: the method every provider supports
OIDC_STORE_ID_TOKEN = True  # sent back as id_token_hint when signing out at the provider
OIDC_AUTHENTICATION_CALLBACK_URL = "oidc-callback"

# Off: only superusers (break-glass accounts) may sign in with a password, on the login page
# and the admin's alike; everyone else signs in through the identity provider.
PASSWORD_LOGIN = env_bool("PASSWORD_LOGIN", default=True)
