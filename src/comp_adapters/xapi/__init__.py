"""xAPI: evidence from a Learning Record Store (incremental, voids honoured) or from statement
files, mapped declaratively; computed proficiency written back as statements."""

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
