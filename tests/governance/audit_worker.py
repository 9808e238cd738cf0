"""A worker process for the audit log's concurrency test (run as a script).

    audit_worker.py URL NAME COUNT   # append COUNT attestations by NAME, one transaction each

It waits for a line on stdin before it starts, so that every worker begins at once.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

from comp_adapters.governance import AuditKind, AuditRecord
from comp_adapters.store import open_store


def main() -> int:
    url, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open_store(url) as store:
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        sys.stdin.readline()
        for number in range(count):
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
