"""Ed25519 signatures over chain heads: signing, checking, and forged or mismatched ones."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from comp_adapters.errors import ConfigurationError
from comp_adapters.governance import (
    ChainHead,
    SignedHead,
    Tampering,
    generate_key_pair,
    sign_head,
    verify_signature,
    verify_signed,
)
from comp_adapters.governance.signing import load_private_key, load_public_key
from tests.governance.builders import audit_chain

FIXTURES = Path(__file__).parent / "fixtures"
AT = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def keys() -> tuple[bytes, bytes]:
    return generate_key_pair()


def test_a_signed_head_verifies_with_its_public_key(keys: tuple[bytes, bytes]) -> None:
    private, public = keys
    assert private.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert public.startswith(b"-----BEGIN PUBLIC KEY-----")
    entries = audit_chain()
    signed = sign_head(entries[-1].head, private, signer=" auditor ", at=AT)
    assert (signed.head, signed.signer, signed.signed_at) == (entries[-1].head, "auditor", AT)
    assert verify_signature(signed, public) is None
    result = verify_signed(entries, signed, public)
    assert result.ok
    assert result.head == entries[-1].head
    # It survives being kept as JSON (in a ticket, an e-mail).
    assert SignedHead.model_validate_json(signed.model_dump_json()) == signed


def test_a_signature_made_by_openssl_verifies() -> None:
    signed = SignedHead.model_validate_json((FIXTURES / "openssl_signed_head.json").read_text())
    public = (FIXTURES / "openssl_ed25519_public.pem").read_bytes()
    assert verify_signature(signed, public) is None
    moved = signed.model_copy(update={"head": ChainHead(seq=9, hash=signed.head.hash)})
    assert "does not match head 9:abab" in (verify_signature(moved, public) or "")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"head": ChainHead(seq=8, hash="c" * 64)}, "hash"),
        ({"head": ChainHead(seq=7, hash="a" * 64)}, "seq"),
        ({"signer": "mallory"}, "signer"),
        ({"signed_at": datetime(2027, 1, 1, tzinfo=UTC)}, "signed_at"),
    ],
)
def test_a_forged_head_is_detected_and_located(
    keys: tuple[bytes, bytes], change: dict[str, object], field: str
) -> None:
    private, public = keys
    entries = audit_chain()
    signed = sign_head(ChainHead(seq=8, hash="a" * 64), private, signer="auditor", at=AT)
    forged = signed.model_copy(update=change)
    wrong = verify_signature(forged, public)
    assert wrong is not None, field
    assert "the head or the signature was changed" in wrong, field
    result = verify_signed(entries, forged, public)
    assert result.problem is not None
    assert result.problem.kind is Tampering.BAD_SIGNATURE
    assert result.problem.seq == forged.head.seq
    assert result.problem.position == forged.head.seq - 1  # the entry the head names


def test_a_real_head_with_a_forged_signature_is_refused(keys: tuple[bytes, bytes]) -> None:
    private, public = keys
    entries = audit_chain()
    signed = sign_head(entries[-1].head, private, signer="auditor", at=AT)
    other = sign_head(entries[-2].head, private, signer="auditor", at=AT)
    forged = signed.model_copy(update={"signature": other.signature})
    result = verify_signed(entries, forged, public)
    assert result.problem is not None
    assert result.problem.kind is Tampering.BAD_SIGNATURE
    assert (result.problem.position, result.problem.seq) == (7, 8)
    not_base64 = signed.model_copy(update={"signature": "***"})
    assert verify_signature(not_base64, public) == "the signature is not base64"


def test_another_key_is_named(keys: tuple[bytes, bytes]) -> None:
    private, _public = keys
    _other_private, other_public = generate_key_pair()
    signed = sign_head(audit_chain()[-1].head, private, signer="auditor", at=AT)
    wrong = verify_signature(signed, other_public)
    assert wrong is not None
    assert wrong.startswith(f"the head names signing key {signed.key_id[:12]}")
    # A forger who copies the right key id still fails on the signature.
    forger_private, _ = generate_key_pair()
    forged = sign_head(audit_chain()[-1].head, forger_private, signer="auditor", at=AT)
    forged = forged.model_copy(update={"key_id": signed.key_id})
    assert "does not match" in (verify_signature(forged, keys[1]) or "")


def test_a_good_signature_does_not_hide_a_cut_tail(keys: tuple[bytes, bytes]) -> None:
    private, public = keys
    entries = audit_chain()
    signed = sign_head(entries[-1].head, private, signer="auditor", at=AT)
    result = verify_signed(entries[:5], signed, public)
    assert result.problem is not None
    assert (result.problem.kind, result.problem.position, result.problem.seq) == (
        Tampering.TRUNCATED,
        5,
        6,
    )


def test_password_protected_keys() -> None:
    private, public = generate_key_pair(password=b"correct horse")
    assert b"ENCRYPTED" in private
    head = audit_chain()[-1].head
    signed = sign_head(head, private, signer="auditor", at=AT, password=b"correct horse")
    assert verify_signature(signed, public) is None
    with pytest.raises(ConfigurationError, match=r"the key is encrypted and needs its password"):
        sign_head(head, private, signer="auditor", at=AT)
    with pytest.raises(ConfigurationError, match=r"or the password is wrong") as caught:
        sign_head(head, private, signer="auditor", at=AT, password=b"wrong")
    assert "correct horse" not in str(caught.value)
    assert "BEGIN" not in str(caught.value)
    plain, _ = generate_key_pair()
    with pytest.raises(ConfigurationError, match=r"the key is not encrypted"):
        load_private_key(plain, password=b"x")


def test_keys_that_are_not_ed25519_pem_are_refused() -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ec_private = ec_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    ec_public = ec_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(ConfigurationError, match=r"keys/audit.pem: not an Ed25519 key"):
        load_private_key(ec_private, source="keys/audit.pem")
    with pytest.raises(ConfigurationError, match=r"public key: not an Ed25519 key"):
        load_public_key(ec_public)
    with pytest.raises(ConfigurationError, match=r"not a readable PEM private key"):
        load_private_key(b"-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")
    with pytest.raises(ConfigurationError, match=r"not a readable PEM public key"):
        load_public_key(b"hello")
