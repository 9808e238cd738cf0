"""xAPI: evidence from a Learning Record Store (incremental, voids honoured) or from statement
files, mapped declaratively; computed proficiency written back as statements."""

from typing import TYPE_CHECKING

from comp_adapters._lazy import lazy_exports

if TYPE_CHECKING:
    from comp_adapters.xapi.adapter import ReadStats, XapiAdapter, from_tincan
    from comp_adapters.xapi.client import OAuth2Credentials, StatementPage, XapiClient
    from comp_adapters.xapi.files import iter_statement_file, iter_statement_lines
    from comp_adapters.xapi.instant import Instant
    from comp_adapters.xapi.ledger import EvidenceFileLedger, EvidenceLedger, MemoryLedger
    from comp_adapters.xapi.mapping import (
        DEFAULT_VERB_RULES,
        ActivityRule,
        IdentityConfig,
        IdentityMap,
        LearnerIdentity,
        MappingConfig,
        StatementMapper,
        VerbRule,
        evidence_id,
        mapping_digest,
        mapping_from_data,
        proficiency_statement,
        proficiency_statement_id,
        scaled_score,
    )
    from comp_adapters.xapi.mapping_file import load_mapping
    from comp_adapters.xapi.settings import XapiSettings, connect
    from comp_adapters.xapi.wire import StatementQuery

_EXPORTS = {
    "ReadStats": "comp_adapters.xapi.adapter",
    "XapiAdapter": "comp_adapters.xapi.adapter",
    "from_tincan": "comp_adapters.xapi.adapter",
    "OAuth2Credentials": "comp_adapters.xapi.client",
    "StatementPage": "comp_adapters.xapi.client",
    "XapiClient": "comp_adapters.xapi.client",
    "iter_statement_file": "comp_adapters.xapi.files",
    "iter_statement_lines": "comp_adapters.xapi.files",
    "Instant": "comp_adapters.xapi.instant",
    "EvidenceFileLedger": "comp_adapters.xapi.ledger",
    "EvidenceLedger": "comp_adapters.xapi.ledger",
    "MemoryLedger": "comp_adapters.xapi.ledger",
    "DEFAULT_VERB_RULES": "comp_adapters.xapi.mapping",
    "ActivityRule": "comp_adapters.xapi.mapping",
    "IdentityConfig": "comp_adapters.xapi.mapping",
    "IdentityMap": "comp_adapters.xapi.mapping",
    "LearnerIdentity": "comp_adapters.xapi.mapping",
    "MappingConfig": "comp_adapters.xapi.mapping",
    "StatementMapper": "comp_adapters.xapi.mapping",
    "VerbRule": "comp_adapters.xapi.mapping",
    "evidence_id": "comp_adapters.xapi.mapping",
    "mapping_digest": "comp_adapters.xapi.mapping",
    "mapping_from_data": "comp_adapters.xapi.mapping",
    "proficiency_statement": "comp_adapters.xapi.mapping",
    "proficiency_statement_id": "comp_adapters.xapi.mapping",
    "scaled_score": "comp_adapters.xapi.mapping",
    "load_mapping": "comp_adapters.xapi.mapping_file",
    "XapiSettings": "comp_adapters.xapi.settings",
    "connect": "comp_adapters.xapi.settings",
    "StatementQuery": "comp_adapters.xapi.wire",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = [
    "DEFAULT_VERB_RULES",
    "ActivityRule",
    "EvidenceFileLedger",
    "EvidenceLedger",
    "IdentityConfig",
    "IdentityMap",
    "Instant",
    "LearnerIdentity",
    "MappingConfig",
    "MemoryLedger",
    "OAuth2Credentials",
    "ReadStats",
    "StatementMapper",
    "StatementPage",
    "StatementQuery",
    "VerbRule",
    "XapiAdapter",
    "XapiClient",
    "XapiSettings",
    "connect",
    "evidence_id",
    "from_tincan",
    "iter_statement_file",
    "iter_statement_lines",
    "load_mapping",
    "mapping_digest",
    "mapping_from_data",
    "proficiency_statement",
    "proficiency_statement_id",
    "scaled_score",
]
