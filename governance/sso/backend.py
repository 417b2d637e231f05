"""The authentication backend for the provider's callback: mozilla-django-oidc's code flow,
with the endpoints from discovery, the ID token's issuer and audience checked, the account
from governance.services.sign_in, and every failure turned into a reason the person is shown.
"""

from __future__ import annotations

import logging
from typing import Any

import jwt
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from governance.services.sign_in import SignInRefused, sign_in_with_idp
from governance.sso.provider import ProviderError, discover

logger = logging.getLogger(__name__)

FAILURE_ATTRIBUTE = "sign_in_failure"  # on the request: read by the callback's failure page


class IdentityProviderBackend(OIDCAuthenticationBackend):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Not the parent's: Django builds a backend for every signed-in request, and the
        # endpoints come from discovery, which only a sign-in should wait for.
        self.UserModel = get_user_model()
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        self.OIDC_RP_CLIENT_SECRET = settings.OIDC_RP_CLIENT_SECRET
        self.OIDC_RP_SIGN_ALGO = settings.OIDC_RP_SIGN_ALGO
        self.OIDC_RP_IDP_SIGN_KEY = None

    def authenticate(self, request: HttpRequest | None, **kwargs: Any) -> Any:
        # Only the callback passes code_verifier: a password sign-in is none of ours.
        if request is None or not settings.OIDC_ENABLED or "code_verifier" not in kwargs:
            return None
        try:
            # The provider's endpoints come from the operator's OIDC_ISSUER, not a system
            # owner's field: mozilla-django-oidc calls them unguarded by governance/egress.py.
            provider = discover()
            self.OIDC_OP_TOKEN_ENDPOINT = provider.token_endpoint
            self.OIDC_OP_USER_ENDPOINT = provider.userinfo_endpoint
            self.OIDC_OP_JWKS_ENDPOINT = provider.jwks_uri
            return super().authenticate(request, **kwargs)
        except (SignInRefused, ProviderError) as error:
            reason = str(error)
        except requests.HTTPError as error:
            reason = _refusal(error)
        except requests.RequestException:
            reason = "The identity provider stopped answering during the sign-in. Try again."
        except (SuspiciousOperation, jwt.InvalidTokenError) as error:
            reason = f"The identity provider's answer did not pass Failsafe's checks ({error})."
        logger.warning("sign-in through the identity provider failed: %s", reason)
        setattr(request, FAILURE_ATTRIBUTE, reason)
        return None

    def verify_token(self, token: str, **kwargs: Any) -> dict[str, Any]:
        payload: dict[str, Any] = super().verify_token(token, **kwargs)
        if payload.get("iss") != settings.OIDC_ISSUER:
            raise SuspiciousOperation(f"the ID token was issued by {payload.get('iss')!r}")
        audience = payload.get("aud")
        audiences = [audience] if isinstance(audience, str) else audience or []
        if self.OIDC_RP_CLIENT_ID not in audiences:
            raise SuspiciousOperation("the ID token was issued for another client")
        return payload

    def verify_claims(self, claims: dict[str, Any]) -> bool:
        return True  # sign_in_with_idp says what is missing, in words

    def get_or_create_user(self, access_token: str, id_token: str, payload: dict[str, Any]) -> Any:
        claims = self.get_userinfo(access_token, id_token, payload)
        # OpenID Connect Core 5.3.2: userinfo about someone else must not be used.
        if claims.get("sub") != payload.get("sub"):
            raise SuspiciousOperation("the userinfo describes another subject than the ID token")
        return sign_in_with_idp(claims=claims)


def _refusal(error: requests.HTTPError) -> str:
    response = error.response
    try:
        body = response.json() if response is not None else {}
    except ValueError:
        body = {}
    code = body.get("error", "") if isinstance(body, dict) else ""
    if code == "invalid_client":
        return (
            "The identity provider refused Failsafe's client credentials: an administrator "
            "must check OIDC_CLIENT_ID and OIDC_CLIENT_SECRET."
        )
    status = response.status_code if response is not None else "no"
    return f"The identity provider refused the sign-in ({code or status}). Try again."
