"""The key that signs audit checkpoints, held outside the database.

A database superuser can rewrite audit rows and recompute every hash after them, checkpoints
included; what they cannot make is a checkpoint's Ed25519 signature, whose key lives in the
app servers' environment: AUDIT_CHECKPOINT_KEY (or AUDIT_CHECKPOINT_KEY_FILE), or else the
evidence signing key. Set and unreadable is an error, never a quiet fallback. Neither set:
checkpoints are written unsigned and `verify_audit` counts them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings

from governance.evidence import sign

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )


def checkpoint_signing_key() -> Ed25519PrivateKey | None:
    """The configured private key; None when neither key is set (checkpoints go unsigned)."""
    own = getattr(settings, "AUDIT_CHECKPOINT_KEY", "")
    if own:
        return sign.load_private_key(own, name="AUDIT_CHECKPOINT_KEY")
    evidence = getattr(settings, "EVIDENCE_SIGNING_KEY", "")
    if evidence:
        return sign.load_private_key(evidence)
    return None


def verification_keys(paths: list[str] | None = None) -> dict[str, Ed25519PublicKey]:
    """Public keys by key id: from the PEM files given (an auditor's, or several across a key
    rotation), else the configured signing key's public half. Raises OSError or ValueError on a
    file that cannot be read as one."""
    if paths:
        keys = [sign.load_public_key(Path(path).read_bytes()) for path in paths]
    else:
        private = checkpoint_signing_key()
        keys = [private.public_key()] if private is not None else []
    return {sign.key_id(key): key for key in keys}
