"""``comp-adapters audit``: the hash-chained audit log of the state store.

``verify [--head HEAD]`` recomputes the chain and reports the first entry edited, deleted
or reordered (exit 1 when it finds one); against a head kept elsewhere (``SEQ:HASH``, or a
signed head file checked with ``--verify-key``) also a cut tail or a rewritten chain.
``head`` prints the head to keep (``--sign-key``: an Ed25519-signed head, as JSON);
``export -o FILE`` writes the entries as JSON lines; ``attest`` records a manual
attestation. See docs/governance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import pydantic

from comp_adapters._files import atomic_write, is_stdout
from comp_adapters.cli.governance_common import (
    actor,
    add_actor_option,
    add_store_option,
    now,
    open_cli_store,
)
from comp_adapters.errors import ConfigurationError, GovernanceError, Problem, ValidationError
from comp_adapters.governance.audit import (
    AuditEntry,
    AuditKind,
    AuditRecord,
    ChainHead,
    VerifyResult,
    entry_to_json,
    parse_entry_lines,
    verify,
)
from comp_adapters.governance.canonical import is_hex_digest
from comp_adapters.governance.signing import SignedHead, sign_head, verify_signed


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = subparsers.add_parser(
        "audit",
        help="the tamper-evident audit log: verify, head, export, attest",
        description="The hash-chained audit log of the state store: every release, approval, "
        "draft, applied change, ingest batch and attestation.",
    )
    commands = audit.add_subparsers(dest="audit_command", metavar="COMMAND", required=True)

    check = commands.add_parser(
        "verify",
        help="recompute the chain; exit 1 when an entry was edited, deleted or reordered",
        description="Recompute every entry's hash and link and report the first entry that "
        "was edited, deleted, inserted or reordered. With --head (a head kept elsewhere) "
        "also a cut tail or a chain rewritten from some entry on.",
    )
    check.add_argument(
        "--head",
        help="a head kept elsewhere: SEQ:HASH, a bare hash, or a signed head file "
        "(from audit head --sign-key; needs --verify-key)",
    )
    check.add_argument(
        "--verify-key", type=Path, metavar="FILE", help="Ed25519 public key (PEM) of a signed head"
    )
    check.add_argument(
        "--input",
        type=Path,
        metavar="FILE",
        help="verify an export (audit export's JSON lines) instead of the store",
    )
    check.add_argument("--json", action="store_true", help="print the result as JSON")
    add_store_option(check)
    check.set_defaults(handler=cmd_verify)

    head = commands.add_parser(
        "head",
        help="print the chain's head (SEQ:HASH) to keep elsewhere, optionally signed",
        description="Verify the chain, then print its head. Keep it outside the store (a "
        "ticket, a signed e-mail) and check later with audit verify --head.",
    )
    head.add_argument(
        "--sign-key", type=Path, metavar="FILE", help="sign the head with this Ed25519 key (PEM)"
    )
    head.add_argument(
        "--key-password-env",
        metavar="VAR",
        help="environment variable holding the signing key's password",
    )
    add_actor_option(head, what="who signs")
    head.add_argument("-o", "--output", help="write the (signed) head to this file")
    add_store_option(head)
    head.set_defaults(handler=cmd_head)

    export = commands.add_parser(
        "export",
        help="write the entries as JSON lines",
        description="Write every entry (or those after --after) as one JSON object a line.",
    )
    export.add_argument("-o", "--output", required=True, help="the file to write ('-': stdout)")
    export.add_argument("--after", type=int, default=0, metavar="SEQ", help="entries after SEQ")
    add_store_option(export)
    export.set_defaults(handler=cmd_export)

    attest = commands.add_parser(
        "attest",
        help="record a manual attestation in the log",
        description="Append a manual attestation (a statement someone vouches for) to the log.",
    )
    attest.add_argument("--text", required=True, help="what is attested")
    add_actor_option(attest, what="who attests")
    add_store_option(attest)
    attest.set_defaults(handler=cmd_attest)


# -- verify ----------------------------------------------------------------------------------


def _read_signed_head(path: Path) -> SignedHead:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValidationError([Problem("file not found", file=str(path))]) from None
    try:
        return SignedHead.model_validate_json(text)
    except pydantic.ValidationError as exc:
        raise ValidationError(
            [
                Problem(
                    str(item["msg"]),
                    file=str(path),
                    field=".".join(str(p) for p in item["loc"]) or None,
                )
                for item in exc.errors(include_url=False, include_input=False)
            ],
            summary=f"{path}: not a signed head",
        ) from None


def _kept_head(text: str) -> ChainHead | str:
    stripped = text.strip()
    if is_hex_digest(stripped):
        return stripped
    return ChainHead.parse(stripped)


def _result_data(result: VerifyResult, entries: int) -> dict[str, Any]:
    problem = result.problem
    return {
        "ok": result.ok,
        "entries": entries,
        "checked": result.checked,
        "head": str(result.head) if result.head else None,
        "problem": None
        if problem is None
        else {
            "kind": problem.kind.value,
            "seq": problem.seq,
            "position": problem.position,
            "message": problem.message,
        },
    }


def cmd_verify(args: argparse.Namespace) -> int:
    signed: SignedHead | None = None
    kept: ChainHead | str | None = None
    if args.verify_key is not None:
        if args.head is None:
            raise ConfigurationError("--verify-key checks a signed head: give it with --head FILE")
        signed = _read_signed_head(Path(args.head))
    elif args.head is not None:
        if Path(args.head).is_file():
            raise ConfigurationError(
                f"--head {args.head} is a file: a signed head is checked with --verify-key "
                "(the signer's public key)"
            )
        kept = _kept_head(args.head)
    if args.input is not None:
        if args.store:
            raise ConfigurationError("give --input (an export) or --store, not both")
        entries = _read_export(args.input)
    else:
        with open_cli_store(args, create=False) as store:
            entries = list(store.iter_audit())
    if signed is not None:
        public_pem = _read_key(args.verify_key)
        result = verify_signed(entries, signed, public_pem)
    else:
        result = verify(entries, head=kept)
    if args.json:
        sys.stdout.write(json.dumps(_result_data(result, len(entries)), indent=2) + "\n")
    elif result.ok:
        against = ""
        if signed is not None:
            against = f"; matches the head {signed.head} signed by {signed.signer}"
        elif kept is not None:
            against = f"; contains the kept head {kept}"
        if not entries:
            print(f"audit log is empty{against}")
        else:
            noun = "entry" if len(entries) == 1 else "entries"
            print(f"audit log intact: {len(entries)} {noun}, head {result.head}{against}")
    else:
        assert result.problem is not None  # noqa: S101 - not ok means a problem
        print(f"audit log TAMPERED: {result.problem} ({result.checked} entries verified before it)")
    return 0 if result.ok else 1


def _read_export(path: Path) -> list[AuditEntry]:
    try:
        with path.open(encoding="utf-8") as handle:
            return parse_entry_lines(handle, source=str(path))
    except FileNotFoundError:
        raise ValidationError([Problem("file not found", file=str(path))]) from None
    except UnicodeDecodeError:
        raise ValidationError([Problem("not UTF-8 text", file=str(path))]) from None


def _read_key(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ConfigurationError(f"key file {path} not found") from None


# -- head ------------------------------------------------------------------------------------


def cmd_head(args: argparse.Namespace) -> int:
    with open_cli_store(args, create=False) as store:
        result = store.verify_audit()
    if not result.ok:
        raise GovernanceError(
            f"the audit log does not verify, so its head is not worth keeping: {result.problem}"
        )
    if result.head is None:
        raise GovernanceError("the audit log is empty: there is no head to keep yet")
    if args.sign_key is None:
        if args.key_password_env:
            raise ConfigurationError("--key-password-env goes with --sign-key")
        text = f"{result.head}\n"
    else:
        password: bytes | None = None
        if args.key_password_env:
            value = os.environ.get(args.key_password_env)
            if value is None:
                raise ConfigurationError(
                    f"--key-password-env names ${args.key_password_env}, which is not set"
                )
            password = value.encode("utf-8")
        signed = sign_head(
            result.head,
            _read_key(args.sign_key),
            signer=actor(args),
            at=now(),
            password=password,
        )
        text = json.dumps(signed.model_dump(mode="json"), indent=2) + "\n"
    if args.output:
        with atomic_write(args.output) as handle:
            handle.write(text)
        if not is_stdout(args.output):
            print(f"wrote head {result.head} to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


# -- export and attest -----------------------------------------------------------------------


def cmd_export(args: argparse.Namespace) -> int:
    written = 0
    with open_cli_store(args, create=False) as store, atomic_write(args.output) as handle:
        for entry in store.iter_audit(after=args.after):
            handle.write(entry_to_json(entry) + "\n")
            written += 1
    if not is_stdout(args.output):
        print(f"wrote {written} audit entries to {args.output}", file=sys.stderr)
    return 0


def cmd_attest(args: argparse.Namespace) -> int:
    text = args.text.strip()
    if not text:
        raise ConfigurationError("--text: say what is attested")
    record = AuditRecord(
        kind=AuditKind.ATTESTATION, at=now(), actor=actor(args), payload={"text": text}
    )
    with open_cli_store(args, create=True) as store:
        entry = store.append_audit(record)
    print(f"attested as {entry.actor}: audit entry {entry.seq} [{entry.hash[:12]}]")
    return 0
