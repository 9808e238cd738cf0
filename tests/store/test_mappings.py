"""Id mappings: our key <-> remote id and the fingerprint of what we wrote, per target."""

from __future__ import annotations

from comp_adapters.store import Ownership, Store
from tests.store.conftest import START, Clock


def test_put_get_and_reverse_lookup(store: Store, clock: Clock) -> None:
    moodle = store.mappings("moodle")
    assert moodle.get("FW/a") is None
    moodle.put("FW/a", "101", "fp-a", run_id=3)
    found = moodle.get("FW/a")
    assert found is not None
    assert (found.target, found.key, found.remote_id, found.fingerprint) == (
        "moodle",
        "FW/a",
        "101",
        "fp-a",
    )
    assert (found.updated_at, found.run_id) == (START, 3)
    assert moodle.by_remote_id("101") == found
    assert moodle.by_remote_id("999") is None


def test_upsert_replaces_remote_id_and_fingerprint(store: Store, clock: Clock) -> None:
    canvas = store.mappings("canvas")
    canvas.put("k", "1", "fp-1")
    clock.advance(hours=1)
    canvas.put("k", "2", "fp-2")
    found = canvas.get("k")
    assert found is not None
    assert (found.remote_id, found.fingerprint, found.updated_at) == ("2", "fp-2", clock.now)
    assert canvas.by_remote_id("1") is None


def test_targets_are_separate(store: Store) -> None:
    store.mappings("moodle").put("k", "1", "fp")
    store.mappings("canvas").put("k", "A", "other")
    moodle = store.mappings("moodle").get("k")
    assert moodle is not None
    assert moodle.remote_id == "1"
    assert [m.remote_id for m in store.mappings("canvas").all()] == ["A"]
    assert store.mappings("moodle").delete("k")
    assert store.mappings("canvas").get("k") is not None


def test_many_mappings_list_and_delete(store: Store) -> None:
    target = store.mappings("case")
    items = [(f"key{n:05d}", f"id{n}", f"fp{n}") for n in range(4500)]
    assert target.put_many(items) == 4500
    listed = list(target.all())
    assert [(m.key, m.remote_id, m.fingerprint) for m in listed] == items
    assert target.delete_many(key for key, _, _ in items[:3000]) == 3000
    assert len(list(target.all())) == 1500
    assert not target.delete("key00000")


def test_ownership_tells_our_objects_from_others(store: Store) -> None:
    target = store.mappings("moodle")
    target.put("FW/a", "101", "wrote-this")
    assert target.ownership("FW/a", remote_id="101", remote_fingerprint="wrote-this") == (
        Ownership.OURS
    )
    assert target.ownership("FW/a", remote_id="101", remote_fingerprint="edited") == (
        Ownership.CHANGED_REMOTELY
    )
    assert target.ownership("FW/a", remote_id="555", remote_fingerprint="wrote-this") == (
        Ownership.OTHER_OBJECT
    )
    assert target.ownership("FW/b", remote_id="102", remote_fingerprint="x") == (Ownership.UNMAPPED)
