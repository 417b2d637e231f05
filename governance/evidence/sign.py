"""Ed25519 signatures of evidence-pack manifests.

The private key comes from the environment (EVIDENCE_SIGNING_KEY or EVIDENCE_SIGNING_KEY_FILE,
a PKCS#8 PEM as `openssl genpkey -algorithm ed25519` writes it). The manifest carries the
public key's id, so a reader knows which key to check it against; the check itself is
always against a key the verifier holds, never one the pack brings along.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class SigningKeyMissing(ImproperlyConfigured):
    """No usable signing key is configured: packs cannot be signed, so none are exported."""


def generate_private_pem() -> bytes:
    """A fresh Ed25519 key as PKCS#8 PEM (what the embedded setup keeps under its data dir)."""
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def load_private_key(
    pem: bytes | str, *, name: str = "the evidence signing key"
) -> Ed25519PrivateKey:
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_private_key(data.strip() + b"\n", password=None)
    except (ValueError, TypeError) as error:
        raise SigningKeyMissing(f"{name} is not a PEM private key: {error}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyMissing(f"{name} must be an Ed25519 key")
    return key


def signing_key() -> Ed25519PrivateKey:
    """The configured private key; SigningKeyMissing when there is none."""
    pem = getattr(settings, "EVIDENCE_SIGNING_KEY", "")
    if not pem:
        raise SigningKeyMissing(
            "Evidence packs are signed: set EVIDENCE_SIGNING_KEY (or EVIDENCE_SIGNING_KEY_FILE) "
            "to an Ed25519 private key in PEM."
        )
    return load_private_key(pem)


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    """A public key from PEM; a private key's PEM is accepted too (its public half is used)."""
    if b"PRIVATE KEY" in pem:
        return load_private_key(pem).public_key()
    try:
        key = serialization.load_pem_public_key(pem.strip() + b"\n")
    except (ValueError, TypeError) as error:
        raise ValueError(f"not a PEM public key: {error}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("the public key must be an Ed25519 key")
    return key


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def key_id(key: Ed25519PublicKey) -> str:
    """sha256 of the raw public key: names the key in the manifest without being it."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def sign(data: bytes, key: Ed25519PrivateKey) -> bytes:
    """The detached signature, base64 on one line (what `manifest.sig` holds)."""
    return base64.b64encode(key.sign(data)) + b"\n"


def signature_valid(data: bytes, signature: bytes, key: Ed25519PublicKey) -> bool:
    try:
        raw = base64.b64decode(signature.strip(), validate=True)
        key.verify(raw, data)
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True
