"""Governance: framework versions with effective dates, approvals, the semantic diff,
evidence judged by the version in force (with carry-over across changes) and a
hash-chained, optionally signed audit log.

Everything here is pure — no clock, no I/O — so the state store persists what these
functions build and the CLI only parses, calls and renders (see ``docs/governance.md``).
"""

from comp_adapters.governance.approvals import (
    ApprovalPolicy,
    approve,
    release_draft,
    version_for_target,
)
from comp_adapters.governance.audit import (
    GENESIS,
    AuditEntry,
    AuditKind,
    AuditRecord,
    ChainHead,
    ChainProblem,
    Tampering,
    VerifyResult,
    append,
    append_all,
    applied_change_record,
    approval_record,
    attestation_record,
    chain_head,
    draft_record,
    ingest_batch_record,
    release_record,
    verify,
)
from comp_adapters.governance.canonical import canonical_json, content_hash, fingerprint
from comp_adapters.governance.diff import (
    ChangeKind,
    CompetencyChange,
    FrameworkDiff,
    diff_frameworks,
    match_competencies,
)
from comp_adapters.governance.evaluation import (
    CarryOver,
    VersionedEvaluation,
    carry_over_pairs,
    evaluate_in_force,
)
from comp_adapters.governance.signing import (
    SignedHead,
    generate_key_pair,
    sign_head,
    verify_signature,
    verify_signed,
)
from comp_adapters.governance.versions import (
    Approval,
    FrameworkVersion,
    VersionedFramework,
    VersionStatus,
    check_new_version,
    draft,
    history_problems,
    release,
    version_in_force,
)

__all__ = [
    "GENESIS",
    "Approval",
    "ApprovalPolicy",
    "AuditEntry",
    "AuditKind",
    "AuditRecord",
    "CarryOver",
    "ChainHead",
    "ChainProblem",
    "ChangeKind",
    "CompetencyChange",
    "FrameworkDiff",
    "FrameworkVersion",
    "SignedHead",
    "Tampering",
    "VerifyResult",
    "VersionStatus",
    "VersionedEvaluation",
    "VersionedFramework",
    "append",
    "append_all",
    "applied_change_record",
    "approval_record",
    "approve",
    "attestation_record",
    "canonical_json",
    "carry_over_pairs",
    "chain_head",
    "check_new_version",
    "content_hash",
    "diff_frameworks",
    "draft",
    "draft_record",
    "evaluate_in_force",
    "fingerprint",
    "generate_key_pair",
    "history_problems",
    "ingest_batch_record",
    "match_competencies",
    "release",
    "release_draft",
    "release_record",
    "sign_head",
    "verify",
    "verify_signature",
    "verify_signed",
    "version_for_target",
    "version_in_force",
]
