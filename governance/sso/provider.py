"""The identity provider's endpoints, read from its discovery document.

Read when a sign-in or a sign-out needs them and kept for a few minutes: a provider that is
down or misnamed is then found at the moment someone signs in, and explained to them, rather
than stopping the app at start-up.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import httpx
from django.conf import settings

DISCOVERY_CACHE_SECONDS = 300


class ProviderError(Exception):
    """The provider could not be used; the message says why, for the person signing in."""


@dataclass(frozen=True)
class Provider:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    userinfo_endpoint: str
    jwks_uri: str
    end_session_endpoint: str | None  # absent: the provider has no RP-initiated logout


_cache: dict[str, tuple[float, Provider]] = {}
_lock = threading.Lock()


def discover(*, fresh: bool = False) -> Provider:
    """`fresh`: ask the provider now, as a sign-in's start does: it is the last page Failsafe
    serves before the browser goes to the provider, so a provider that went down since is
    explained there, not by the browser's connection error."""
    issuer = settings.OIDC_ISSUER
    with _lock:
        cached = _cache.get(issuer)
    if not fresh and cached is not None and time.monotonic() - cached[0] < DISCOVERY_CACHE_SECONDS:
        return cached[1]
    provider = _fetch(issuer)
    with _lock:
        _cache[issuer] = (time.monotonic(), provider)
    return provider


def forget_discovery() -> None:
    with _lock:
        _cache.clear()


def _fetch(issuer: str) -> Provider:
    url = f"{issuer}/.well-known/openid-configuration"
    try:
        # Not through the egress policy (governance/egress.py): the operator sets OIDC_ISSUER,
        # and an organisation's provider often lives on its internal network.
        response = httpx.get(url, timeout=settings.OIDC_TIMEOUT)
        response.raise_for_status()
        document = response.json()
    except httpx.HTTPStatusError as error:
        raise ProviderError(
            f"The identity provider at {issuer} answered {error.response.status_code} for "
            "its discovery document: check OIDC_ISSUER."
        ) from None
    except httpx.HTTPError:
        raise ProviderError(
            f"The identity provider at {issuer} cannot be reached right now."
        ) from None
    except ValueError:
        raise ProviderError(
            f"The identity provider at {issuer} did not answer with a discovery document: "
            "check OIDC_ISSUER."
        ) from None
    # OpenID Connect Discovery §4.3: the document must name the issuer it was fetched for,
    # or tokens signed for another issuer could be taken as this one's.
    if not isinstance(document, dict) or document.get("issuer") != issuer:
        named = document.get("issuer") if isinstance(document, dict) else None
        raise ProviderError(
            f"The identity provider names itself {named!r}, not {issuer!r} as OIDC_ISSUER "
            "says: Failsafe will not trust it until the two agree."
        )
    try:
        return Provider(
            issuer=issuer,
            authorization_endpoint=document["authorization_endpoint"],
            token_endpoint=document["token_endpoint"],
            userinfo_endpoint=document["userinfo_endpoint"],
            jwks_uri=document["jwks_uri"],
            end_session_endpoint=document.get("end_session_endpoint"),
        )
    except KeyError as missing:
        raise ProviderError(
            f"The identity provider's discovery document lacks {missing.args[0]}."
        ) from None
