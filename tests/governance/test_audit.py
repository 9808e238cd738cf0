"""The audit chain: sealing entries, and locating every kind of tampering."""

from __future__ import annotations

import itertools
import json
from datetime import timedelta

import pytest

from comp_adapters.errors import ValidationError
from comp_adapters.governance import (
    GENESIS,
    AuditEntry,
    AuditKind,
    AuditRecord,
    ChainHead,
    Tampering,
    append,
    chain_head,
    draft,
    fingerprint,
    ingest_batch_record,
    release_record,
    verify,
)
from comp_adapters.governance.audit import entry_hash, entry_to_json, parse_entry_lines
from tests.governance.builders import MARCH, T0, audit_chain, v2


def problem_of(entries: list[AuditEntry], **options: object) -> tuple[str, int, int]:
    result = verify(entries, **options)  # type: ignore[arg-type]
    assert not result.ok
    assert result.problem is not None
    return result.problem.kind.value, result.problem.position, result.problem.seq


def renumbered(entry: AuditEntry, seq: int) -> AuditEntry:
    return entry.model_copy(update={"seq": seq})


def resealed(entry: AuditEntry, **changes: object) -> AuditEntry:
    """``entry`` changed and its hash recomputed (what a careful forger would do)."""
    changed = entry.model_copy(update=changes)
    fields = {
        k: getattr(changed, k) for k in ("seq", "at", "kind", "actor", "payload", "prev_hash")
    }
    return changed.model_copy(update={"hash": entry_hash(**fields)})


# -- a sound chain ---------------------------------------------------------------------------


def test_entries_link_from_the_genesis() -> None:
    entries = audit_chain()
    assert [e.seq for e in entries] == list(range(1, 9))
    assert entries[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))
    assert [e.kind for e in entries[:6]] == [
        "draft",
        "approval",
        "release",
        "applied_change",
        "attestation",
        "ingest_batch",
    ]
    result = verify(entries, head=entries[-1].head)
    assert result.ok
    assert result.checked == 8
    assert result.head == entries[-1].head
    assert verify([]).ok


def test_the_hash_is_sha256_of_the_canonical_entry() -> None:
    entry = audit_chain()[0]
    document = {
        "chain": "comp-adapters/audit@1",
        "seq": entry.seq,
        "at": "2026-02-01T09:00:00Z",
        "kind": entry.kind,
        "actor": entry.actor,
        "payload": entry.payload,
        "prev_hash": GENESIS,
    }
    assert entry.hash == fingerprint(document)


@pytest.mark.parametrize(
    "change",
    [
        {"seq": 2},
        {"at": T0 + timedelta(microseconds=1)},
        {"kind": "release"},
        {"actor": "mallory"},
        {"payload": {"framework": "SUPPORT"}},
        {"prev_hash": "1" * 64},
    ],
)
def test_every_field_is_covered_by_the_hash(change: dict[str, object]) -> None:
    entry = audit_chain()[0]
    fields = {k: getattr(entry, k) for k in ("seq", "at", "kind", "actor", "payload", "prev_hash")}
    assert entry_hash(**{**fields, **change}) != entry.hash  # type: ignore[arg-type]


def test_records_hold_what_the_issue_asks_for() -> None:
    entries = audit_chain()
    release = entries[2].payload
    assert release["version"] == "2.0"
    assert release["rationale"] == "split comm"
    assert release["content_hash"] == entries[0].payload["content_hash"]
    assert release["approvals"][0]["actor"] == "bob"  # type: ignore[index]
    assert entries[1].payload == {
        "framework": "SUPPORT",
        "version": "2.0",
        "content_hash": release["content_hash"],
    }
    change = entries[3].payload
    assert (change["target"], change["key"], change["before"]) == (
        "moodle-prod",
        "comm.written",
        None,
    )
    assert change["version"] == "SUPPORT@2.0"
    assert entries[4].payload["note"] == "observed on call"
    assert entries[5].payload == {
        "source": "lrs",
        "cursor_before": {"since": "2026-02-01T00:00:00Z"},
        "cursor_after": {"since": "2026-02-01T01:00:00Z"},
        "counts": {"duplicate": 0, "new": 0},
    }
    with pytest.raises(ValueError, match=r"is not released"):
        release_record(
            draft(v2(), version="3", effective_from=MARCH, rationale="r", actor="a", at=T0).version
        )


def test_a_payload_that_is_not_json_is_refused() -> None:
    record = AuditRecord(kind=AuditKind.ATTESTATION, at=T0, actor="a", payload={"x": float("nan")})
    with pytest.raises(ValidationError, match="payload"):
        append(None, record)


def test_append_continues_from_a_kept_head() -> None:
    entries = audit_chain()
    record = ingest_batch_record(
        source="s", cursor_before=None, cursor_after=1, counts={}, actor="a", at=T0
    )
    assert append(entries[-1].head, record) == append(entries[-1], record)
    assert append(entries[-1].head, record).seq == 9
    assert AuditKind(append(None, record).kind) is AuditKind.INGEST_BATCH


# -- tampering -------------------------------------------------------------------------------


def test_an_edited_field_is_located() -> None:
    entries = audit_chain()
    entries[2] = entries[2].model_copy(
        update={"payload": {**entries[2].payload, "rationale": "nothing to see"}}
    )
    assert problem_of(entries) == ("edited", 2, 3)
    result = verify(entries)
    assert result.checked == 2
    assert result.head == entries[1].head
    assert "the release of 2026-02-01T11:00:00Z by 'alice' was changed" in str(result.problem)


def test_an_edited_actor_is_located() -> None:
    entries = audit_chain()
    entries[1] = entries[1].model_copy(update={"actor": "alice"})
    assert problem_of(entries) == ("edited", 1, 2)


def test_an_edit_with_its_own_hash_recomputed_is_located_at_that_entry() -> None:
    entries = audit_chain()
    entries[4] = resealed(entries[4], actor="mallory")
    kind, position, seq = problem_of(entries)
    assert (kind, position, seq) == ("edited", 4, 5)
    assert "entry 5 was changed and re-hashed" in verify(entries).problem.message  # type: ignore[union-attr]


def test_a_deleted_entry_is_located() -> None:
    entries = audit_chain()
    del entries[3]
    assert problem_of(entries) == ("deleted", 3, 4)
    assert verify(entries).problem.message.startswith("entry 4 is missing")  # type: ignore[union-attr]
    entries = audit_chain()
    del entries[3:6]
    assert problem_of(entries) == ("deleted", 3, 4)
    assert verify(entries).problem.message.startswith("entries 4-6 are missing")  # type: ignore[union-attr]


def test_a_deleted_entry_is_located_even_when_the_rest_is_renumbered() -> None:
    entries = audit_chain()
    del entries[3]
    entries[3:] = [renumbered(e, e.seq - 1) for e in entries[3:]]
    assert problem_of(entries) == ("deleted", 3, 4)
    assert "1 entry before" in verify(entries).problem.message  # type: ignore[union-attr]


def test_a_deleted_first_entry_is_located() -> None:
    entries = audit_chain()[1:]
    assert problem_of(entries) == ("deleted", 0, 1)
    renumbered_all = [renumbered(e, e.seq - 1) for e in entries]
    assert problem_of(renumbered_all) == ("deleted", 0, 1)


def test_two_swapped_entries_are_located() -> None:
    entries = audit_chain()
    entries[2], entries[5] = entries[5], entries[2]
    assert problem_of(entries) == ("reordered", 2, 3)
    assert "entry 3 (the release of" in verify(entries).problem.message  # type: ignore[union-attr]


def test_swapped_rows_that_kept_their_numbers_are_located() -> None:
    entries = audit_chain()
    # The store's rows 3 and 6 exchange everything but their seq column.
    entries[2], entries[5] = renumbered(entries[5], 3), renumbered(entries[2], 6)
    assert problem_of(entries) == ("reordered", 2, 3)


def test_swapped_numbers_are_located() -> None:
    entries = audit_chain()
    # Only the seq column of rows 2 and 3 is exchanged; listing by seq puts 3 first.
    entries[1], entries[2] = renumbered(entries[2], 2), renumbered(entries[1], 3)
    assert problem_of(entries) == ("reordered", 1, 2)


def test_a_repeated_entry_is_located() -> None:
    entries = audit_chain()
    entries.insert(4, entries[2])
    # Position 4 should hold entry 5, which comes one later; a copy of entry 3 is there.
    assert problem_of(entries) == ("reordered", 4, 5)
    assert "position 4 holds the release of" in verify(entries).problem.message  # type: ignore[union-attr]
    # A repeat at the end, where nothing rightful follows.
    entries = audit_chain()
    entries.append(entries[2])
    assert problem_of(entries) == ("reordered", 8, 3)
    assert "entry 3 (the release of" in verify(entries).problem.message  # type: ignore[union-attr]


def test_an_inserted_entry_is_located() -> None:
    entries = audit_chain()
    record = ingest_batch_record(
        source="lrs", cursor_before=None, cursor_after=None, counts={"new": 1}, actor="x", at=T0
    )
    forged = append(entries[3], record)  # sealed properly as entry 5, after entry 4
    as_is = [*entries[:4], forged, *entries[4:]]
    assert problem_of(as_is) == ("inserted", 4, 5)
    assert "the ingest_batch of 2026-02-01T09:00:00Z by 'x' was inserted" in (
        verify(as_is).problem.message  # type: ignore[union-attr]
    )
    # The forger renumbers what follows: still located at the inserted entry.
    renumbered_rest = [*entries[:4], forged, *(renumbered(e, e.seq + 1) for e in entries[4:])]
    assert problem_of(renumbered_rest) == ("inserted", 4, 5)


def test_a_cut_tail_is_found_against_the_kept_head() -> None:
    entries = audit_chain()
    kept = chain_head(entries)
    assert kept is not None
    cut = entries[:5]
    assert verify(cut).ok  # without a head a cut tail cannot be seen
    assert problem_of(cut, head=kept) == ("truncated", 5, 6)
    assert "entries 6-8 were removed from the end" in verify(cut, head=kept).problem.message  # type: ignore[union-attr]
    assert problem_of(cut, head=kept.hash) == ("truncated", 5, 6)
    assert problem_of([], head=kept) == ("truncated", 0, 1)
    # A head kept earlier stays valid while the chain grows.
    assert verify(entries, head=entries[4].head).ok
    assert verify(entries, head=entries[4].hash).ok


def test_a_chain_rewritten_from_an_edit_on_is_found_against_the_kept_head() -> None:
    entries = audit_chain()
    kept = entries[-1].head
    forged = entries[:2]
    for entry in entries[2:]:
        changes: dict[str, object] = {"prev_hash": forged[-1].hash}
        if entry.seq == 3:
            changes["actor"] = "mallory"
        forged.append(resealed(entry, **changes))
    assert verify(forged).ok  # internally consistent
    assert problem_of(forged, head=kept) == ("rewritten", 7, 8)
    assert problem_of(forged, head=kept.hash)[0] == "truncated"


def test_a_segment_verifies_from_its_start() -> None:
    entries = audit_chain()
    assert verify(entries[3:], start=entries[2].head).ok
    assert problem_of(entries[4:], start=entries[2].head) == ("deleted", 0, 4)


def test_results_say_what_and_where() -> None:
    entries = audit_chain()
    entries[6] = entries[6].model_copy(update={"kind": "nonsense"})
    result = verify(entries)
    assert result.problem is not None
    assert result.problem.kind is Tampering.EDITED
    assert str(result.problem).startswith("entry 7 (position 6): edited: the nonsense of")


# -- heads and JSON lines --------------------------------------------------------------------


def test_chain_heads_read_back_from_text() -> None:
    head = audit_chain()[-1].head
    assert ChainHead.parse(f" {head} ") == head
    for bad in ("3", "x:" + "a" * 64, "0:" + "a" * 64, "3:abc", "3:" + "A" * 64):
        with pytest.raises(ValidationError, match=r"expected SEQ:HASH"):
            ChainHead.parse(bad)


def test_entries_round_trip_through_json_lines() -> None:
    entries = audit_chain()
    lines = [entry_to_json(e) for e in entries]
    assert all("\n" not in line for line in lines)
    back = parse_entry_lines([*lines, ""], source="audit.jsonl")
    assert back == entries
    assert verify(back, head=entries[-1].head).ok


def test_bad_json_lines_are_located() -> None:
    line = json.loads(entry_to_json(audit_chain()[0]))
    del line["hash"]
    with pytest.raises(ValidationError) as caught:
        parse_entry_lines(["", json.dumps(line), "{"], source="audit.jsonl")
    located = [(p.file, p.line, p.field) for p in caught.value.problems]
    assert located[0] == ("audit.jsonl", 2, "hash")
    assert located[1][:2] == ("audit.jsonl", 3)
