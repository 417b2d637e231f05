"""MLflow's webhook signature, as MLflow 3.3 and later send it (mlflow/webhooks/delivery.py).

Each delivery carries three headers:

    X-MLflow-Delivery-Id   a UUID, new for each delivery (kept on MLflow's own retries)
    X-MLflow-Timestamp     Unix seconds when it was sent
    X-MLflow-Signature     "v1," + base64(HMAC-SHA256(secret, f"{id}.{timestamp}.{body}"))

The signed content is the delivery id, the timestamp and the raw body as sent, joined by
dots; the key is the webhook's secret as UTF-8. MLflow's documentation checks that the
timestamp is at most 300 seconds old; MLflow says it follows Standard Webhooks, which allows
the same tolerance either way (a sender's clock a little ahead is not a forgery), and so
does Failsafe: a timestamp more than SIGNATURE_TOLERANCE_SECONDS from now is stale.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

SIGNATURE_HEADER = "X-MLflow-Signature"
TIMESTAMP_HEADER = "X-MLflow-Timestamp"
DELIVERY_ID_HEADER = "X-MLflow-Delivery-Id"
SIGNATURE_VERSION = "v1"
SIGNATURE_TOLERANCE_SECONDS = 300
MAX_DELIVERY_ID = 64

S = TypeVar("S")


class SignatureRefused(Exception):
    """Why a delivery is not believed: said to the sender with a 401."""


@dataclass(frozen=True)
class SignedHeaders:
    delivery_id: str
    timestamp: str
    signatures: tuple[bytes, ...]  # every v1 signature the header carries, decoded


def sign(secret: str, delivery_id: str, timestamp: str, body: bytes) -> str:
    """The header MLflow sends for this delivery (tests and the README's example use it)."""
    return (
        f"{SIGNATURE_VERSION},"
        + base64.b64encode(_mac(secret, delivery_id, timestamp, body)).decode()
    )


def _mac(secret: str, delivery_id: str, timestamp: str, body: bytes) -> bytes:
    signed = f"{delivery_id}.{timestamp}.".encode() + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).digest()


def read_headers(headers: dict[str, str] | object, *, now: float | None = None) -> SignedHeaders:
    """The three headers, present, well formed and fresh; else SignatureRefused."""
    get = getattr(headers, "get")  # noqa: B009 (a Django HttpHeaders or a dict)
    delivery_id = (get(DELIVERY_ID_HEADER) or "").strip()
    timestamp = (get(TIMESTAMP_HEADER) or "").strip()
    signature = (get(SIGNATURE_HEADER) or "").strip()
    if not (delivery_id and timestamp and signature):
        raise SignatureRefused(
            f"Unsigned delivery: {DELIVERY_ID_HEADER}, {TIMESTAMP_HEADER} and "
            f"{SIGNATURE_HEADER} are all required (give the MLflow webhook a secret)."
        )
    if len(delivery_id) > MAX_DELIVERY_ID or not delivery_id.isprintable():
        raise SignatureRefused(f"{DELIVERY_ID_HEADER} is not a delivery id.")
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        raise SignatureRefused(f"{TIMESTAMP_HEADER} is not Unix seconds.")
    skew = (time.time() if now is None else now) - int(timestamp)
    if abs(skew) > SIGNATURE_TOLERANCE_SECONDS:
        raise SignatureRefused(
            f"Stale delivery: signed {int(abs(skew))} s {'ago' if skew > 0 else 'ahead'}, "
            f"more than {SIGNATURE_TOLERANCE_SECONDS} s from Failsafe's clock."
        )
    decoded = []
    # Standard Webhooks allows several space-separated signatures (a secret being rotated).
    for part in signature.split():
        version, _, value = part.partition(",")
        if version != SIGNATURE_VERSION:
            continue
        try:
            decoded.append(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            continue
    if not decoded:
        raise SignatureRefused(f"{SIGNATURE_HEADER} holds no {SIGNATURE_VERSION} signature.")
    return SignedHeaders(delivery_id, timestamp, tuple(decoded))


def signer(signed: SignedHeaders, body: bytes, candidates: Iterable[tuple[S, str]]) -> S | None:
    """Which candidate's secret signed the delivery (every one is tried, in constant time
    per comparison), or None."""
    found = None
    for candidate, secret in candidates:
        if not secret:
            continue
        expected = _mac(secret, signed.delivery_id, signed.timestamp, body)
        if any(hmac.compare_digest(expected, given) for given in signed.signatures):
            found = found or candidate
    return found
