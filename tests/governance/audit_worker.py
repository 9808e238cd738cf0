"""A worker process for the audit log's concurrency tests (``python -m
tests.governance.audit_worker`` from the repository root).

    audit_worker.py URL NAME COUNT   # append COUNT attestations by NAME, one transaction each
    audit_worker.py URL NAME release # release SUPPORT@1.0 titled NAME; prints the outcome

It waits for a line on stdin before it starts, so that every worker begins at once.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

from comp_adapters.errors import GovernanceError
from comp_adapters.governance import AuditKind, AuditRecord
from comp_adapters.store import open_store
from tests.governance.builders import JAN, v1


def main() -> int:
    url, name, what = sys.argv[1], sys.argv[2], sys.argv[3]
    with open_store(url) as store:
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        sys.stdin.readline()
        if what == "release":
            framework = v1(version="1.0", effective_from=JAN, title=name)
            try:
                outcome = store.release_version(framework, rationale=name, actor=name)
            except GovernanceError:
                sys.stdout.write("refused\n")
            else:
                sys.stdout.write("released\n" if outcome.changed else "unchanged\n")
            return 0
        for number in range(int(what)):
            store.append_audit(
                AuditRecord(
                    kind=AuditKind.ATTESTATION,
                    at=datetime.now(UTC),
                    actor=name,
                    payload={"text": f"{name} #{number}", "n": number},
                )
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
