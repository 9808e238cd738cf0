"""Ed25519 signatures over audit-chain heads (needs the ``governance`` extra).

A head kept elsewhere detects a cut tail only if the copy itself can be trusted. A
:class:`SignedHead` is a head, when and by whom it was signed, the signing key's id and an
Ed25519 signature over all of them: whoever holds the public key can check that the head
was vouched for by the private key's holder and not changed since. Keys are PEM files
(PKCS#8 private keys, optionally encrypted with a password; SubjectPublicKeyInfo public
keys), as ``openssl genpkey -algorithm ed25519`` writes them.

Signing is pure apart from the key material handed in: the signing time is passed in,
files are read and written by the caller (part B's ``audit head --sign``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from comp_adapters.core.timeutil import UtcDatetime, format_utc, to_utc
from comp_adapters.errors import ConfigurationError
from comp_adapters.governance.audit import (
    AuditEntry,
    ChainHead,
    ChainProblem,
    Tampering,
    VerifyResult,
    verify,
)
from comp_adapters.governance.canonical import canonical_json
from comp_adapters.governance.versions import HexDigest, Identity

try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )
except ImportError:  # pragma: no cover - the governance extra is not installed
    _HAVE_CRYPTOGRAPHY = False
else:
    _HAVE_CRYPTOGRAPHY = True

SIGNATURE_CONTEXT = "comp-adapters/audit-head@1"
"""Signed with every head, so the signature cannot be replayed for any other message."""


class SignedHead(BaseModel):
    """A chain head with an Ed25519 signature by ``signer`` at ``signed_at``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    head: ChainHead
    signed_at: UtcDatetime
    signer: Identity
    key_id: HexDigest
    signature: str

    def message(self) -> bytes:
        """The bytes the signature covers."""
        return _message(self.head, self.signed_at, self.signer, self.key_id)


def _message(head: ChainHead, signed_at: datetime, signer: str, key_id: str) -> bytes:
    return canonical_json(
        {
            "context": SIGNATURE_CONTEXT,
            "seq": head.seq,
            "hash": head.hash,
            "signed_at": format_utc(signed_at),
            "signer": signer,
            "key_id": key_id,
        }
    ).encode("utf-8")


def _require_cryptography() -> None:
    """A clear error naming the extra when the optional ``cryptography`` is missing."""
    if not _HAVE_CRYPTOGRAPHY:
        raise ConfigurationError(
            "signing audit heads needs the optional dependency: "
            "pip install 'comp-adapters[governance]'"
        )


def generate_key_pair(*, password: bytes | None = None) -> tuple[bytes, bytes]:
    """A new Ed25519 key pair as PEM: (private key, encrypted with ``password`` if given;
    public key). Uses the operating system's random source."""
    _require_cryptography()
    private = Ed25519PrivateKey.generate()
    encryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    private_pem: bytes = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    return private_pem, public_key_pem(private.public_key())


def public_key_pem(public_key: Ed25519PublicKey) -> bytes:
    """A public key as PEM (SubjectPublicKeyInfo)."""
    _require_cryptography()
    pem: bytes = public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem


def load_private_key(
    pem: bytes, *, password: bytes | None = None, source: str = "private key"
) -> Ed25519PrivateKey:
    """An Ed25519 private key from PEM; a clear :class:`ConfigurationError` naming
    ``source`` (never the key) when it is not one, or the password is wrong or missing."""
    _require_cryptography()
    try:
        key = serialization.load_pem_private_key(pem, password=password)
    except TypeError:
        raise ConfigurationError(
            f"{source}: the key is encrypted and needs its password"
            if password is None
            else f"{source}: the key is not encrypted; give no password"
        ) from None
    except ValueError:
        raise ConfigurationError(
            f"{source}: not a readable PEM private key (or the password is wrong)"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigurationError(f"{source}: not an Ed25519 key ({type(key).__name__})")
    return key


def load_public_key(pem: bytes, *, source: str = "public key") -> Ed25519PublicKey:
    """An Ed25519 public key from PEM, or a :class:`ConfigurationError` naming ``source``."""
    _require_cryptography()
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError:
        raise ConfigurationError(f"{source}: not a readable PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigurationError(f"{source}: not an Ed25519 key ({type(key).__name__})")
    return key


def key_id(public_key: Ed25519PublicKey) -> str:
    """SHA-256 of the raw public key: names the key a head was signed with."""
    _require_cryptography()
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def sign_head(
    head: ChainHead,
    private_key_pem: bytes,
    *,
    signer: str,
    at: datetime,
    password: bytes | None = None,
) -> SignedHead:
    """``head`` signed with the PEM private key by ``signer`` at ``at``."""
    private = load_private_key(private_key_pem, password=password)
    kid = key_id(private.public_key())
    signed_at = to_utc(at)
    signature = private.sign(_message(head, signed_at, signer.strip(), kid))
    return SignedHead(
        head=head,
        signed_at=signed_at,
        signer=signer,
        key_id=kid,
        signature=base64.b64encode(signature).decode("ascii"),
    )


def verify_signature(signed: SignedHead, public_key_pem: bytes) -> str | None:
    """``None`` when the PEM public key's holder signed exactly this head, else what is
    wrong (another key, a signature that is not one, or content changed since signing)."""
    public = load_public_key(public_key_pem)
    expected_id = key_id(public)
    if signed.key_id != expected_id:
        return (
            f"the head names signing key {signed.key_id[:12]}…, the public key given is "
            f"{expected_id[:12]}…"
        )
    try:
        signature = base64.b64decode(signed.signature, validate=True)
    except (binascii.Error, ValueError):
        return "the signature is not base64"
    try:
        public.verify(signature, signed.message())
    except InvalidSignature:
        return (
            f"the signature does not match head {signed.head} signed by {signed.signer!r} at "
            f"{format_utc(signed.signed_at)}: the head or the signature was changed"
        )
    return None


def verify_signed(
    entries: Sequence[AuditEntry],
    signed: SignedHead,
    public_key_pem: bytes,
    *,
    start: ChainHead | None = None,
) -> VerifyResult:
    """Check the head's signature, then the chain against that head (see
    :func:`~comp_adapters.governance.audit.verify`)."""
    wrong = verify_signature(signed, public_key_pem)
    if wrong is not None:
        position = next(
            (i for i, entry in enumerate(entries) if entry.seq == signed.head.seq), len(entries)
        )
        return VerifyResult(
            checked=0,
            head=None,
            problem=ChainProblem(Tampering.BAD_SIGNATURE, position, signed.head.seq, wrong),
        )
    return verify(entries, head=signed.head, start=start)


__all__ = [
    "SIGNATURE_CONTEXT",
    "SignedHead",
    "generate_key_pair",
    "key_id",
    "load_private_key",
    "load_public_key",
    "public_key_pem",
    "sign_head",
    "verify_signature",
    "verify_signed",
]
