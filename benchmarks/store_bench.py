"""Ingest throughput of the state store against a plain executemany of the same rows.

    .venv/bin/python benchmarks/store_bench.py [--rows 1000000] [--batch 50000]
                                               [--postgres-url URL]

Makes ``--rows`` evidence records (10,000 learners x 50 competencies, two per pair by
default) and, on each backend, ingests them into a new store with one ``store.ingest``
transaction per ``--batch`` records. The time counts turning Evidence into rows, the
duplicate and tombstone checks, the ledger's three indexes and the cursor. The reference
inserts the same rows (prepared before its clock starts) with a plain executemany into a
table with the same columns and no key or index, in transactions of the same size, on an
engine with the same settings. Then it reads all live evidence back as an EvidenceTable.

SQLite: a file in a temporary folder (WAL, synchronous=FULL, as the store runs it).
PostgreSQL: ``--postgres-url`` (an empty database), else a private cluster started for the
run with fsync on (tools/postgres.py).

Prints rows/s for both and the ratio store time / plain time per backend; the last line is
machine-readable:

    RESULT sqlite_rows_per_s=<n> postgres_rows_per_s=<n> sqlite_ratio=<r> postgres_ratio=<r>
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

from sqlalchemy import Column, MetaData, Table, insert

from comp_adapters.core import Evidence
from comp_adapters.store import open_store
from comp_adapters.store.engine import create_store_engine
from comp_adapters.store.ingest import evidence_row
from comp_adapters.store.schema import evidence as ledger
from comp_adapters.store.sql import chunks
from comp_adapters.store.url import parse_store_url

LEARNERS, COMPETENCIES = 10_000, 50
START = datetime(2026, 1, 1, tzinfo=UTC)
KINDS = ("assessment", "observation", "lms_rating", "course_completion")


def evidence_batch(start: int, count: int) -> list[Evidence]:
    """Records ``start`` .. ``start + count - 1``: the same on every call."""
    items = []
    for n in range(start, start + count):
        pair = n % (LEARNERS * COMPETENCIES)
        items.append(
            Evidence(
                id=f"ev-{n:08d}",
                learner=f"learner-{pair // COMPETENCIES:05d}",
                competency=f"skill-{pair % COMPETENCIES:02d}",
                kind=KINDS[n % len(KINDS)],
                score=(n % 101) / 100,
                observed_at=START + timedelta(minutes=n),
                source_system="bench",
                source_id=f"statement-{n:08d}",
            )
        )
    return items


def batches(rows: int, size: int) -> Iterator[tuple[int, int]]:
    for start in range(0, rows, size):
        yield start, min(size, rows - start)


def time_store(url: str, rows: int, size: int) -> tuple[float, float]:
    """Seconds to ingest every batch, and to read the live evidence back as a table."""
    elapsed = 0.0
    with open_store(url) as store:
        for start, count in batches(rows, size):
            items = evidence_batch(start, count)
            began = time.perf_counter()
            with store.ingest("bench", query_fingerprint="q") as batch:
                batch.add_evidence(items)
                batch.set_cursor({"position": start + count})
            elapsed += time.perf_counter() - began
        began = time.perf_counter()
        table = store.evidence_table()
        read = time.perf_counter() - began
        assert len(table) == rows, (len(table), rows)  # noqa: S101 - a benchmark's own check
    return elapsed, read


def time_plain(url: str, rows: int, size: int) -> float:
    """Seconds for executemany of the same rows into a table without key or index."""
    metadata = MetaData()
    bare = Table(
        "bare_evidence",
        metadata,
        *(Column(c.name, c.type, nullable=True) for c in ledger.columns),
    )
    engine = create_store_engine(parse_store_url(url))
    elapsed = 0.0
    try:
        metadata.create_all(engine)
        statement = insert(bare)
        for start, count in batches(rows, size):
            prepared = [
                evidence_row(item, source="bench", ingest_id=1)
                for item in evidence_batch(start, count)
            ]
            began = time.perf_counter()
            with engine.begin() as connection:
                for chunk in chunks(prepared):
                    connection.execute(statement, chunk)
            elapsed += time.perf_counter() - began
    finally:
        engine.dispose()
    return elapsed


def load_tools_postgres() -> ModuleType:
    path = Path(__file__).resolve().parents[1] / "tools" / "postgres.py"
    spec = importlib.util.spec_from_file_location("comp_adapters_tools_postgres", path)
    assert spec is not None  # noqa: S101
    assert spec.loader is not None  # noqa: S101
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def postgres_databases(stack: ExitStack, given: str | None) -> tuple[str, str]:
    """URLs of two empty databases: one for the store, one for the plain table."""
    import psycopg  # noqa: PLC0415

    if given is not None:
        return given, given
    cluster = stack.enter_context(load_tools_postgres().private_cluster(durable=True))
    with psycopg.connect(
        cluster.url().replace("postgresql://", "postgres://"), autocommit=True
    ) as c:
        c.execute("CREATE DATABASE bench_store")
        c.execute("CREATE DATABASE bench_plain")
    return cluster.url("bench_store"), cluster.url("bench_plain")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=50_000)
    parser.add_argument("--postgres-url", help="an empty database (default: a private cluster)")
    args = parser.parse_args()
    figures: dict[str, str] = {}
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="store-bench-")))
        backends = {
            "sqlite": (f"sqlite:///{folder}/store.db", f"sqlite:///{folder}/plain.db"),
            "postgres": postgres_databases(stack, args.postgres_url),
        }
        for name, (store_url, plain_url) in backends.items():
            stored, read = time_store(store_url, args.rows, args.batch)
            plain = time_plain(plain_url, args.rows, args.batch)
            print(
                f"{name}: store {args.rows / stored:,.0f} rows/s ({stored:.1f} s), plain "
                f"executemany {args.rows / plain:,.0f} rows/s ({plain:.1f} s), ratio "
                f"{stored / plain:.2f}; read back as a table {args.rows / read:,.0f} rows/s "
                f"({read:.1f} s)",
                flush=True,
            )
            figures[f"{name}_rows_per_s"] = f"{args.rows / stored:.0f}"
            figures[f"{name}_plain_rows_per_s"] = f"{args.rows / plain:.0f}"
            figures[f"{name}_ratio"] = f"{stored / plain:.2f}"
            figures[f"{name}_table_rows_per_s"] = f"{args.rows / read:.0f}"
    print("RESULT " + " ".join(f"{key}={value}" for key, value in figures.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
