"""Rate limits of the API and the alert intake, counted in Redis (the `throttle` cache), so
that every web process of every replica counts against the same limit.

A check is one round trip: in one MULTI/EXEC, the caller's counter is created at 0 with the
period as its expiry if it has none, incremented, and its time to live read. A fixed window,
then, that opens with the caller's first request; past the rate, 429 with `Retry-After` the
seconds left in it. (DRF's SimpleRateThrottle reads, then writes back, a pickled list of every
request's time in the window: two round trips, carrying up to the rate's count of floats.)

Fail open: a Redis that refuses the connection or does not answer within the cache's socket
timeouts lifts the limits, with one warning, for PAUSE_SECONDS, then is asked again. A cache
outage must never keep anyone from pressing ROLL BACK NOW.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, cast

from django.core.cache import caches
from redis.exceptions import RedisError
from rest_framework.exceptions import Throttled
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from config.env import parse_rate
from governance.lockout import client_address
from governance.models import ApiToken

logger = logging.getLogger("failsafe.throttle")

CACHE_ALIAS = "throttle"
PAUSE_SECONDS = 10.0
PERIOD_WORDS = {1: "a second", 60: "a minute", 3600: "an hour", 86400: "a day"}
WHOSE_WORDS = {  # "Too many requests …" by scope
    "user": "from your account",
    "token": "with this API token",
    "anon": "from your address",
    "rollback": "to roll back or confirm a rollback from you",
    "alert": "with this alert token",
}

# Until when (time.monotonic()) this process skips the limits, by the cache's location.
_paused_until: dict[str, float] = {}


def _ask_redis(key: str, ask: Callable[[Any, str], tuple[int, int] | None]) -> Any:
    """`ask(client, full key)`'s answer; None, and the limits lifted for PAUSE_SECONDS with one
    warning, when Redis refuses or does not answer (or was found so moments ago)."""
    cache = cast(Any, caches[CACHE_ALIAS])
    location = str(cache._servers[0])
    if time.monotonic() < _paused_until.get(location, 0.0):
        return None
    key = cache.make_and_validate_key(key)
    try:
        return ask(cache._cache.get_client(key, write=True), key)
    except (RedisError, OSError) as error:
        _paused_until[location] = time.monotonic() + PAUSE_SECONDS
        logger.warning(
            "Rate limits lifted for %d seconds: the throttle cache (Redis) did not answer: %s",
            PAUSE_SECONDS,
            error,
        )
        return None


def count_request(key: str, period: int) -> tuple[int, int] | None:
    """(requests so far in the window, seconds left in it) after counting this one; None when
    Redis could not be asked (the limits are lifted)."""

    def count(client: Any, key: str) -> tuple[int, int]:
        with client.pipeline(transaction=True) as pipe:
            pipe.set(key, 0, ex=period, nx=True)
            pipe.incr(key)
            pipe.ttl(key)
            _, hits, seconds_left = pipe.execute()
        if seconds_left < 0:  # a counter without expiry (written by hand) would never end
            client.expire(key, period)
            seconds_left = period
        return int(hits), int(seconds_left)

    return _ask_redis(key, count)


def counted_so_far(key: str) -> tuple[int, int] | None:
    """(requests counted in the window, seconds left in it) without counting one; None when
    there is no window open, or Redis could not be asked."""

    def read(client: Any, key: str) -> tuple[int, int] | None:
        with client.pipeline(transaction=False) as pipe:
            pipe.get(key)
            pipe.ttl(key)
            hits, seconds_left = pipe.execute()
        return None if hits is None or seconds_left < 0 else (int(hits), int(seconds_left))

    return _ask_redis(key, read)


def forget_counts() -> None:
    """Delete every counter (the cache may share a database with the broker: never clear())."""
    cache = cast(Any, caches[CACHE_ALIAS])
    client = cache._cache.get_client(write=True)
    keys = list(client.scan_iter(match=cache.make_key("*"), count=1000))
    if keys:
        client.delete(*keys)


class RateLimited(Throttled):
    extra_detail_singular = "Try again in {wait} second."
    extra_detail_plural = "Try again in {wait} seconds."


class RateThrottle(BaseThrottle, ABC):
    """Counts a request against the bucket `bucket()` names, at its scope's rate
    (REST_FRAMEWORK's DEFAULT_THROTTLE_RATES, read at each request so that tests may change
    them); past it, 429 in the API's error shape with `Retry-After`."""

    @abstractmethod
    def bucket(self, request: Request, view: Any) -> tuple[str, str]:
        """(scope, whose requests count together)."""

    def allow_request(self, request: Request, view: Any) -> bool:
        scope, whose = self.bucket(request, view)
        rate = str(api_settings.DEFAULT_THROTTLE_RATES[scope])
        limit, period = parse_rate(f"DEFAULT_THROTTLE_RATES[{scope!r}]", rate)
        # The period in the key: a rate changed from 100/day to 100/min starts a new window.
        counted = count_request(f"{scope}:{period}:{whose}", period)
        if counted is None or counted[0] <= limit:
            return True
        every = PERIOD_WORDS.get(period, f"every {period} seconds")
        who = WHOSE_WORDS[scope]
        if scope == "token" and not whose.startswith("api-token:"):
            who = "with this credential"  # an MLflow webhook secret
        raise RateLimited(
            wait=max(counted[1], 1), detail=f"Too many requests {who}: at most {limit} {every}."
        )


def caller(request: Request) -> tuple[str, str]:
    """The scope and bucket of whoever calls: an API token on its own (a runaway CI job
    spends its token's limit, not its owner's), then a signed-in user, then another machine
    credential (an MLflow webhook secret), then the address of an anonymous caller (as the
    sign-in lockout reads it behind TRUSTED_PROXY_COUNT proxies)."""
    auth = request.auth
    if isinstance(auth, ApiToken):
        return "token", f"api-token:{auth.pk}"
    user = request.user
    if user is not None and user.is_authenticated:
        return "user", f"user:{user.pk}"
    if getattr(auth, "pk", None) is not None:
        return "token", f"{type(auth).__name__}:{auth.pk}"
    return "anon", f"address:{client_address(request)}"


class CallerRateThrottle(RateThrottle):
    """The API's default: per API token, per user, per address."""

    def bucket(self, request: Request, view: Any) -> tuple[str, str]:
        return caller(request)


class RollbackRateThrottle(RateThrottle):
    """ROLL BACK NOW and confirming a proposed rollback count in a scope of their own, per
    token or user, instead of in the caller's general limit: a dashboard polling the API, or
    a script run away, must never leave an on-call lead unable to roll back. Not exempt: a
    press is idempotent (a second one answers the rollback already active), so a generous
    limit costs no one a rollback, and still bounds a loop that presses."""

    def bucket(self, request: Request, view: Any) -> tuple[str, str]:
        return "rollback", caller(request)[1]


class AlertTokenRateThrottle(RateThrottle):
    """The alert intake's: per alert token, so that one system's alert storm never slows the
    intake of another's, nor the API."""

    def bucket(self, request: Request, view: Any) -> tuple[str, str]:
        return "alert", f"alert-token:{request.auth.pk}"


ROLLBACK_THROTTLES = [RollbackRateThrottle]


class FailedSignInLimit:
    """HTTP Basic with wrong credentials, per address, at the anonymous rate: each failure is
    counted in the address's anonymous bucket, and an address past it is refused before its
    next password is even checked. The sign-in lockout counts per username and address, so
    a caller trying many usernames would otherwise make the server hash a password for
    every one of them."""

    def __init__(self, request: Request) -> None:
        limit, self.period = parse_rate(
            "DEFAULT_THROTTLE_RATES['anon']", str(api_settings.DEFAULT_THROTTLE_RATES["anon"])
        )
        self.limit = limit
        self.key = f"anon:{self.period}:address:{client_address(request)}"

    def refuse_if_exceeded(self) -> None:
        counted = counted_so_far(self.key)
        if counted is not None and counted[0] >= self.limit:
            every = PERIOD_WORDS.get(self.period, f"every {self.period} seconds")
            raise RateLimited(
                wait=max(counted[1], 1),
                detail=f"Too many failed sign-ins from your address: at most {self.limit} {every}.",
            )

    def count_failure(self) -> None:
        count_request(self.key, self.period)
