"""Pure tests of exact ``stored`` instants, the cursor's checks and the evidence ledger."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from comp_adapters.core.evidence import Evidence
from comp_adapters.errors import ConfigurationError, ValidationError
from comp_adapters.protocols import Cursor
from comp_adapters.xapi import EvidenceFileLedger, EvidenceLedger, Instant, MemoryLedger
from comp_adapters.xapi.cursor import (
    OverlapWindow,
    check_query,
    fingerprint_of,
    make_cursor,
    validate_cursor,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _decimal(instant: Instant) -> Decimal:
    """Seconds since the epoch, exactly (a reference independent of Instant's arithmetic)."""
    whole = int((instant.second - EPOCH).total_seconds())
    return Decimal(whole) + (Decimal(f"0.{instant.fraction}") if instant.fraction else 0)


# -- Instant ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "exact"),
    [
        ("2026-03-01T00:00:00.123456+00:00", "2026-03-01T00:00:00.123456Z"),  # ADL
        ("2026-03-01T00:00:00.123Z", "2026-03-01T00:00:00.123Z"),  # Learning Locker
        ("2026-03-01T01:00:00.123456789+01:00", "2026-03-01T00:00:00.123456789Z"),
        ("2026-03-01T00:00:00Z", "2026-03-01T00:00:00.000Z"),
        ("2026-03-01T00:00:00.5", "2026-03-01T00:00:00.500Z"),  # naive: UTC (1.0.3 allows)
        ("2026-03-01T00:00:00,25Z", "2026-03-01T00:00:00.250Z"),
    ],
)
def test_instants_keep_every_digit(text: str, exact: str) -> None:
    instant = Instant.parse(text)
    assert instant is not None
    assert instant.text() == exact
    assert Instant.parse(exact) == instant


@pytest.mark.parametrize("text", ["garbage", "", None, 3, "2026-13-01T00:00:00Z"])
def test_what_is_not_an_instant(text: object) -> None:
    assert Instant.parse(text) is None


def test_instants_compare_by_value_beyond_microseconds() -> None:
    a = Instant.parse("2026-03-01T00:00:00.1234565Z")
    b = Instant.parse("2026-03-01T00:00:00.1234566Z")
    assert a is not None
    assert b is not None
    assert a < b
    assert a.to_datetime() == b.to_datetime()  # what a datetime would have made of them
    assert Instant.parse("2026-03-01T00:00:00.5Z") == Instant.parse("2026-03-01T00:00:00.500Z")
    assert b - timedelta(microseconds=1) == Instant.parse("2026-03-01T00:00:00.1234556Z")
    assert Instant.of(datetime(2026, 3, 1, 0, 0, 0, 120_000, tzinfo=UTC)).text() == (
        "2026-03-01T00:00:00.120Z"
    )


_moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
_digits = st.text(alphabet="0123456789", max_size=4)


@given(_moments, _digits, _moments, _digits, st.integers(0, 10**12))
def test_order_and_subtraction_are_exact(
    one: datetime, more: str, two: datetime, extra: str, micros: int
) -> None:
    a = Instant.parse(one.isoformat(timespec="microseconds").replace("+00:00", more + "Z"))
    b = Instant.parse(two.isoformat(timespec="microseconds").replace("+00:00", extra + "Z"))
    assert a is not None
    assert b is not None
    assert (a < b) == (_decimal(a) < _decimal(b))
    assert (a == b) == (_decimal(a) == _decimal(b))
    moved = a - timedelta(microseconds=micros)
    assert _decimal(moved) == _decimal(a) - Decimal(micros) / 10**6
    assert Instant.parse(moved.text()) == moved


# -- the cursor ----------------------------------------------------------------------------


def test_validation_names_every_bad_field() -> None:
    bad = Cursor(
        adapter="xapi",
        field="stored",
        position="garbage",
        extra={"voided": [1], "query": "x", "query_fingerprint": 5},
    )
    with pytest.raises(ValidationError) as caught:
        validate_cursor(bad, source="cursor.json")
    fields = [p.field for p in caught.value.problems]
    assert fields == ["position", "extra.voided", "extra.query", "extra.query_fingerprint"]
    assert all(p.file == "cursor.json" for p in caught.value.problems)
    validate_cursor(make_cursor(Instant.parse("2026-03-01T00:00:00Z"), ("a",), {"b"}, None))


def test_a_cursor_belongs_to_its_query() -> None:
    query = {"endpoint": "https://lrs/xAPI/", "version": "1.0.3", "filters": {"verb": "v"}}
    cursor = make_cursor(Instant.parse("2026-03-01T00:00:00Z"), (), (), query)
    assert cursor.extra["query_fingerprint"] == fingerprint_of(query)
    assert check_query(cursor, dict(query), source=None) is True
    other = {**query, "filters": {}}
    with pytest.raises(ConfigurationError, match=r"f\.json: the cursor belongs to another query"):
        check_query(cursor, other, source="f.json")
    fresh = make_cursor(None, (), (), None)
    assert check_query(fresh, query, source=None) is True  # nothing read: nothing to skip
    legacy = Cursor(adapter="xapi", field="stored", position="2026-03-01T00:00:00.000Z")
    assert check_query(legacy, query, source=None) is False  # cannot be checked


def test_the_window_keeps_ids_at_the_cursor_instant_even_without_overlap() -> None:
    window = OverlapWindow(timedelta(0))
    at = Instant.parse("2026-03-01T00:00:00.000Z")
    assert at is not None
    window.add(at - timedelta(milliseconds=5), "old")
    window.add(at, "a")
    window.add(at, "b")
    assert window.ids() == ("a", "b")
    since = window.since()
    assert since is not None
    assert since.text() == "2026-02-28T23:59:59.999Z"


# -- the ledger ----------------------------------------------------------------------------


def test_memory_ledger_withdraws_each_id_once() -> None:
    ledger = MemoryLedger()
    assert isinstance(ledger, EvidenceLedger)
    assert ledger.withdraw("s1") == ()
    ledger.record("s1", ["xapi:s1:a", "xapi:s1:b"])
    ledger.record("s1", ["xapi:s1:b", "xapi:s1:c"])
    assert ledger.produced("s1") == ("xapi:s1:a", "xapi:s1:b", "xapi:s1:c")
    assert ledger.withdraw("s1") == ("xapi:s1:a", "xapi:s1:b", "xapi:s1:c")
    assert ledger.withdraw("s1") == ()
    assert ledger.produced("s1") == ("xapi:s1:a", "xapi:s1:b", "xapi:s1:c")


def _line(evidence_id: str, source: str, *, voided: bool = False) -> str:
    item = Evidence(
        id=evidence_id,
        learner="ann",
        competency=evidence_id.rsplit(":", 1)[1],
        success=True,
        observed_at=datetime(2026, 3, 1, tzinfo=UTC),
        source_id=source,
        voided=voided,
    )
    return item.model_dump_json(exclude_defaults=True)


def test_file_ledger_knows_what_earlier_pulls_wrote(tmp_path: Path) -> None:
    first = tmp_path / "one.jsonl"
    first.write_text(
        "\n".join(
            [
                _line("xapi:s1:a", "s1"),
                _line("xapi:s2:a", "s2"),
                _line("xapi:s2:a", "s2", voided=True),
                json.dumps({"id": "moodle:7", "learner": "x", "source_id": "s3"}),
                "",
            ]
        )
    )
    ledger = EvidenceFileLedger([first])
    assert ledger.produced("s1") == ("xapi:s1:a",)
    assert ledger.produced("s3") == ()  # not xAPI evidence
    assert ledger.withdraw("s2") == ()  # withdrawn in the file already
    assert ledger.withdraw("s1") == ("xapi:s1:a",)
    this_run = [_line("xapi:s9:b", "s9")]
    copies = list(ledger.copies(["xapi:s1:a", "xapi:s9:b"], also=[("run", this_run)]))
    assert [(c.id, c.voided) for c in copies] == [("xapi:s1:a", True), ("xapi:s9:b", True)]


def test_file_ledger_errors_name_file_and_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.jsonl"
    broken.write_text(_line("xapi:s1:a", "s1") + "\n[1]\n")
    with pytest.raises(ValidationError, match=r"broken\.jsonl:2: an evidence line"):
        EvidenceFileLedger([broken])
    with pytest.raises(ValidationError, match="file not found"):
        EvidenceFileLedger([tmp_path / "missing.jsonl"])
