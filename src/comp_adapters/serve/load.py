"""Fill a store for serving: ingest an evidence file, compute once, record the results.

What ``comp-adapters serve load`` does (the sync engine does the same as part of a sync):
the evidence goes into the ledger (de-duplicated by id, as any ingest), the rules engine
computes every learner's proficiency from the ledger's live evidence as of ``as_of``
(private evidence only when the policy counts it), and the results that changed are kept
in the proficiency history, under the framework's key and version.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from comp_adapters.core.evidence import Evidence
from comp_adapters.core.framework import Framework
from comp_adapters.reports.analysis import counted_evidence
from comp_adapters.reports.policy import Policy
from comp_adapters.rules.engine import evaluate
from comp_adapters.store import Store


@dataclass(frozen=True, slots=True)
class LoadReport:
    evidence: int
    results: int
    changed: int


def load_and_compute(
    store: Store,
    framework: Framework,
    evidence: Iterable[Evidence],
    *,
    as_of: datetime,
    source: str,
    policy: Policy | None = None,
) -> LoadReport:
    """Ingest ``evidence`` as ``source``, then compute and record proficiency as of ``as_of``."""
    policy = policy or Policy()
    items = list(evidence)
    fingerprint = hashlib.sha256(source.encode()).hexdigest()[:16]
    with store.ingest(source, query_fingerprint=fingerprint) as batch:
        batch.add_evidence(items)
    live = counted_evidence(store.iter_evidence(), policy)
    results = evaluate(framework, live, as_of=as_of)
    update = store.record_proficiency(
        results, framework_key=framework.key, framework_version=framework.version
    )
    return LoadReport(evidence=len(items), results=len(results), changed=len(update.changed))
