"""The contract kit: pytest mixin classes that give any adapter the whole contract suite.

An adapter's test module subclasses the mixins of its capabilities and provides fixtures
(the way fsspec's abstract test classes work); every test of the mixin then runs against
that adapter, HTTP or not::

    class TestJsonDirContract(WritesFrameworkContract, ReadsFrameworkContract, HygieneContract):
        @pytest.fixture
        def contract_adapter(self, tmp_path): ...

Fixtures, by mixin (``Adapter`` is the adapter under test; all function-scoped):

``contract_adapter`` (every mixin)
    The adapter under test, over a fresh target, built the way users build it
    (``Adapter.from_settings(settings, session=...)``).
``contract_connect`` (default: returns ``contract_adapter``)
    ``() -> Adapter``: a new adapter over the *same* target, as a re-run in a new process
    builds it. Override it when an adapter keeps state between calls.
``contract_framework`` (WritesFramework, WritesProficiency, Hygiene of writers)
    The :class:`~comp_adapters.core.framework.Framework` to push (or results are for).
``contract_reset`` (WritesFramework, WritesProficiency)
    ``() -> None``: put the target back to the state ``contract_adapter`` started from.
``contract_snapshot`` (WritesFramework, WritesProficiency)
    ``() -> Hashable``: the target's whole state in a comparable form that exposes
    duplicates (a sorted tuple of records, not a set of keys).
``contract_comparable`` (WritesFramework; default: the JSON of ``framework.canonical()``)
    ``(Framework) -> object``: what of a framework the target holds, so that the round trip
    compares like with like (a target that drops ``tags`` removes them here).
``contract_framework_key`` (ReadsFramework; default: ``contract_framework.key``)
    A key the target of ``contract_adapter`` holds.
``contract_missing_key`` (ReadsFramework; default ``"contract-kit-no-such-framework"``)
    A key the target does not hold.
``contract_withdrawn_ids`` (ReadsEvidence; default: none)
    Ids of evidence the source has withdrawn (voided).
``contract_position_order`` (ReadsEvidence; default: the position text itself)
    ``(str) -> object``: a sort key for cursor positions, in the source's own ordering.
``contract_proficiencies`` (WritesProficiency, Hygiene of proficiency writers)
    Results for ``contract_framework`` the target does not show yet.
``contract_secret`` and ``contract_settings`` (Hygiene)
    The plain value of a secret given in ``contract_settings`` (the settings
    ``contract_adapter`` was built from).
``contract_failure`` (Hygiene)
    ``() -> object``: makes the adapter fail (e.g. the remote refuses the credentials).
``contract_connect_http`` (HttpCrashContract)
    ``(requests.Session) -> Adapter``: an adapter over the same target whose transport is
    the given session (:class:`~comp_adapters.testing.faults.CrashingSession`).
``contract_foreign_link`` (ForeignLinkContract)
    ``() -> object``: makes the adapter meet a link to another origin; it must refuse it.

Crash tests need no HTTP: the one apply engine journals each change once the target
confirmed it, so a :class:`~comp_adapters.testing.faults.CrashingJournal` "kills" an apply
after its k-th write, for every k. HTTP adapters add :class:`HttpCrashContract`, which
kills the k-th request instead.
"""

# ruff: noqa: S101 - the kit is test code: its checks are pytest assertions

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Hashable, Iterator
from typing import Any

import pytest

from comp_adapters.core.framework import Framework
from comp_adapters.errors import CompAdaptersError, StalePlanError
from comp_adapters.protocols import (
    Capability,
    Cursor,
    EvidenceBatch,
    ReadsEvidence,
    ReadsFramework,
    WritesFramework,
    WritesProficiency,
)
from comp_adapters.sync.journal import Journal, MemoryJournal
from comp_adapters.sync.plan import Plan
from comp_adapters.testing.faults import CrashingJournal, CrashingSession, SimulatedCrash

Run = Callable[[Journal], None]


def assert_noops_say_why(plan: Plan) -> None:
    """Every change of ``plan`` that writes nothing carries its reason."""
    silent = [change.id for change in plan.changes if not change.writes and not change.reason]
    assert not silent, f"NOOP changes without a reason: {', '.join(silent)}"


def assert_converges_after_journal_crash(
    run: Run, *, snapshot: Callable[[], Hashable], reset: Callable[[], None]
) -> int:
    """For every k, crash a run after its k-th write (before and after the journal
    recorded it), re-run, and compare the target with a clean run's; returns the number
    of crash points tried.

    ``run(journal)`` is a whole sync: connect, plan from what the target holds, apply with
    ``journal``. The re-run gets a journal over the same records, as a re-run over the
    store would.
    """
    reset()
    clean = CrashingJournal()
    run(clean)
    expected = snapshot()
    total = clean.count
    assert total > 0, (
        "the clean run journaled no change: apply must record each change it writes in the "
        "journal it is given (use comp_adapters.sync.apply_plan)"
    )
    tried = 0
    for after_record in (False, True):
        for k in range(1, total + 1):
            reset()
            crashing = CrashingJournal(k, after_record=after_record)
            try:
                run(crashing)
            except SimulatedCrash:
                pass
            else:
                raise AssertionError(
                    f"no crash at change {k}: the run journaled {crashing.count} change(s), "
                    f"the clean run {total}"
                )
            run(CrashingJournal(inner=crashing.inner))
            got = snapshot()
            when = "after" if after_record else "before"
            assert got == expected, (
                f"after a crash at change {k} of {total} ({when} it was journaled) and a "
                f"re-run, the target differs from a clean run:\nexpected {expected!r}\n"
                f"got      {got!r}"
            )
            tried += 1
    return tried


class _Connect:
    """The default ``contract_connect``: the adapter under test itself."""

    @pytest.fixture
    def contract_connect(self, contract_adapter: Any) -> Callable[[], Any]:
        return lambda: contract_adapter


class ReadsFrameworkContract(_Connect):
    """``read_framework`` gives the framework a key names, the same each time, and refuses
    a key the target does not hold with a clear error (not a crash)."""

    @pytest.fixture
    def contract_framework_key(self, contract_framework: Framework) -> str:
        return contract_framework.key

    @pytest.fixture
    def contract_missing_key(self) -> str:
        return "contract-kit-no-such-framework"

    def test_declares_reads_framework(self, contract_adapter: Any) -> None:
        assert Capability.READS_FRAMEWORK in contract_adapter.capabilities
        assert isinstance(contract_adapter, ReadsFramework)

    def test_reads_the_framework_a_key_names(
        self, contract_adapter: Any, contract_framework_key: str
    ) -> None:
        found = contract_adapter.read_framework(contract_framework_key)
        assert isinstance(found, Framework)
        assert found.key == contract_framework_key

    def test_reading_twice_gives_the_same_framework(
        self, contract_adapter: Any, contract_framework_key: str
    ) -> None:
        first = contract_adapter.read_framework(contract_framework_key)
        second = contract_adapter.read_framework(contract_framework_key)
        assert first.model_dump(mode="json") == second.model_dump(mode="json")

    def test_a_missing_key_is_a_clear_error(
        self, contract_adapter: Any, contract_missing_key: str
    ) -> None:
        with pytest.raises(CompAdaptersError) as caught:
            contract_adapter.read_framework(contract_missing_key)
        assert contract_missing_key in str(caught.value), "the error names the key"


class WritesFrameworkContract(_Connect):
    """plan -> apply -> read back is the framework (as far as the target holds it);
    re-planning after an apply writes nothing; planning writes nothing; a crash after any
    write followed by a re-run converges with no duplicates; a saved plan applied again
    is refused as stale or harmless."""

    @pytest.fixture
    def contract_comparable(self) -> Callable[[Framework], object]:
        return lambda framework: framework.canonical().model_dump(mode="json")

    def _sync(self, connect: Callable[[], Any], framework: Framework) -> Run:
        def run(journal: Journal) -> None:
            adapter = connect()
            adapter.apply(adapter.plan_framework(framework), journal=journal)

        return run

    def test_declares_writes_framework(self, contract_adapter: Any) -> None:
        assert Capability.WRITES_FRAMEWORK in contract_adapter.capabilities
        assert isinstance(contract_adapter, WritesFramework)

    def test_plan_is_for_this_adapter_and_noops_say_why(
        self, contract_adapter: Any, contract_framework: Framework
    ) -> None:
        plan = contract_adapter.plan_framework(contract_framework)
        assert isinstance(plan, Plan)
        assert plan.adapter == contract_adapter.name
        assert plan.writes, "a plan against the fresh target writes the framework"
        assert_noops_say_why(plan)
        assert Plan.from_json(plan.to_json()) == plan, "a plan survives being saved"

    def test_planning_writes_nothing(
        self,
        contract_adapter: Any,
        contract_framework: Framework,
        contract_snapshot: Callable[[], Hashable],
    ) -> None:
        before = contract_snapshot()
        contract_adapter.plan_framework(contract_framework)
        contract_adapter.plan_framework(contract_framework, prune=True)
        assert contract_snapshot() == before

    def test_round_trip(
        self,
        contract_connect: Callable[[], Any],
        contract_framework: Framework,
        contract_comparable: Callable[[Framework], object],
    ) -> None:
        adapter = contract_connect()
        report = adapter.apply(adapter.plan_framework(contract_framework))
        assert report.writes > 0
        reader = contract_connect()
        assert isinstance(reader, ReadsFramework), (
            "the round trip reads the framework back: the adapter must also read frameworks "
            "(or override test_round_trip)"
        )
        back = reader.read_framework(contract_framework.key)
        assert contract_comparable(back) == contract_comparable(contract_framework)

    def test_replan_after_apply_writes_nothing(
        self, contract_connect: Callable[[], Any], contract_framework: Framework
    ) -> None:
        adapter = contract_connect()
        adapter.apply(adapter.plan_framework(contract_framework))
        again = contract_connect().plan_framework(contract_framework)
        assert again.is_empty, "re-plan after apply is not empty:\n" + again.to_table()
        assert_noops_say_why(again)
        pruned = contract_connect().plan_framework(contract_framework, prune=True)
        assert pruned.is_empty, "re-plan with prune is not empty:\n" + pruned.to_table()

    def test_crash_after_any_change_converges(
        self,
        contract_connect: Callable[[], Any],
        contract_framework: Framework,
        contract_snapshot: Callable[[], Hashable],
        contract_reset: Callable[[], None],
    ) -> None:
        run = self._sync(contract_connect, contract_framework)
        assert_converges_after_journal_crash(run, snapshot=contract_snapshot, reset=contract_reset)
        again = contract_connect().plan_framework(contract_framework)
        assert again.is_empty, "after the crash runs, re-plan is not empty:\n" + again.to_table()

    def test_a_saved_plan_applied_again_is_stale_or_harmless(
        self,
        contract_connect: Callable[[], Any],
        contract_framework: Framework,
        contract_snapshot: Callable[[], Hashable],
    ) -> None:
        adapter = contract_connect()
        plan = adapter.plan_framework(contract_framework)
        adapter.apply(plan)
        after = contract_snapshot()
        try:
            contract_connect().apply(plan, journal=MemoryJournal())
        except StalePlanError:
            return
        assert contract_snapshot() == after, (
            "a saved plan applied a second time (new journal) was neither refused as stale "
            "nor harmless: the target changed"
        )


class HttpCrashContract(WritesFrameworkContract):
    """For HTTP adapters (subclass it instead of :class:`WritesFrameworkContract`: it has
    all of its clauses): a crash at any request, after the server processed it and before
    the client saw the answer, followed by a re-run converges with no duplicates."""

    def test_crash_at_any_request_converges(
        self,
        contract_connect_http: Callable[[Any], Any],
        contract_framework: Framework,
        contract_snapshot: Callable[[], Hashable],
        contract_reset: Callable[[], None],
    ) -> None:
        def run(session: CrashingSession) -> None:
            adapter = contract_connect_http(session)
            adapter.apply(adapter.plan_framework(contract_framework))

        contract_reset()
        clean = CrashingSession()
        run(clean)
        expected = contract_snapshot()
        assert clean.count > 0, "the adapter made no request through the given session"
        for k in range(1, clean.count + 1):
            contract_reset()
            crashing = CrashingSession(crash_at=k)
            try:
                run(crashing)
            except SimulatedCrash:
                pass
            else:
                raise AssertionError(f"the run made fewer than {k} requests: no crash happened")
            run(CrashingSession())
            got = contract_snapshot()
            assert got == expected, (
                f"after a crash at request {k} of {clean.count} and a re-run, the target "
                f"differs from a clean run:\nexpected {expected!r}\ngot      {got!r}"
            )


class ReadsEvidenceContract:
    """Evidence reads are incremental and exact: the cursor never goes back, re-reading from
    any cursor yields no id already yielded before it, a finished read's cursor yields
    nothing more, cursors survive being saved, withdrawn ids are withdrawn."""

    @pytest.fixture
    def contract_withdrawn_ids(self) -> frozenset[str]:
        return frozenset()

    @pytest.fixture
    def contract_position_order(self) -> Callable[[str], Any]:
        return lambda position: position

    def _read(self, adapter: Any, cursor: Cursor | None = None) -> list[EvidenceBatch]:
        batches: Iterator[EvidenceBatch] = adapter.read_evidence(cursor=cursor)
        return list(batches)

    def test_declares_reads_evidence(self, contract_adapter: Any) -> None:
        assert Capability.READS_EVIDENCE in contract_adapter.capabilities
        assert isinstance(contract_adapter, ReadsEvidence)

    def test_evidence_query_is_json_and_stable(self, contract_adapter: Any) -> None:
        query = contract_adapter.evidence_query()
        assert isinstance(query, dict)
        assert json.loads(json.dumps(query)) == query
        assert contract_adapter.evidence_query() == query

    def test_cursor_never_goes_back(
        self, contract_adapter: Any, contract_position_order: Callable[[str], Any]
    ) -> None:
        batches = self._read(contract_adapter)
        assert any(batch.evidence for batch in batches), "the fixture source holds evidence"
        positions = [batch.cursor.position for batch in batches]
        for batch in batches:
            assert batch.cursor.adapter == contract_adapter.name
        started = False
        for position in positions:
            assert position is not None or not started, (
                f"a cursor position went back to the start: {positions}"
            )
            started = started or position is not None
        known = [p for p in positions if p is not None]
        assert known == sorted(known, key=contract_position_order), (
            f"cursor positions went back: {known}"
        )

    def test_rereading_from_a_cursor_yields_nothing_already_yielded(
        self, contract_adapter: Any
    ) -> None:
        batches = self._read(contract_adapter)
        yielded: set[str] = set()
        for index, batch in enumerate(batches):
            yielded.update(item.id for item in batch.evidence)
            again = {
                item.id
                for later in self._read(contract_adapter, batch.cursor)
                for item in later.evidence
            }
            repeated = sorted(again & yielded)
            assert not repeated, (
                f"reading from the cursor after batch {index} yielded ids already yielded: "
                f"{repeated[:10]}"
            )

    def test_a_finished_read_cursor_yields_nothing_more(self, contract_adapter: Any) -> None:
        batches = self._read(contract_adapter)
        last = batches[-1].cursor
        more = [item.id for batch in self._read(contract_adapter, last) for item in batch.evidence]
        assert not more, f"reading again from the last cursor yielded {more[:10]}"

    def test_a_saved_cursor_reads_the_same(self, contract_adapter: Any) -> None:
        batches = self._read(contract_adapter)
        cursor = batches[0].cursor
        restored = Cursor.model_validate_json(cursor.model_dump_json())
        assert restored == cursor

        def ids(start: Cursor) -> list[str]:
            return [e.id for b in self._read(contract_adapter, start) for e in b.evidence]

        assert ids(restored) == ids(cursor)

    def test_withdrawn_ids_are_withdrawn(
        self, contract_adapter: Any, contract_withdrawn_ids: frozenset[str]
    ) -> None:
        withdrawn: set[str] = set()
        for batch in self._read(contract_adapter):
            assert all(isinstance(item, str) for item in batch.withdrawn)
            live = {item.id for item in batch.evidence if not item.voided}
            assert not (live & withdrawn), (
                f"evidence yielded after it was withdrawn: {sorted(live & withdrawn)}"
            )
            withdrawn.update(batch.withdrawn)
        missing = sorted(contract_withdrawn_ids - withdrawn)
        assert not missing, f"withdrawn evidence never reported as withdrawn: {missing}"


class WritesProficiencyContract(_Connect):
    """Publishing results then re-planning writes nothing; planning writes nothing; a crash
    after any write followed by a re-run converges."""

    def _publish(self, connect: Callable[[], Any], results: Any, framework: Framework) -> Run:
        def run(journal: Journal) -> None:
            adapter = connect()
            adapter.apply(adapter.plan_proficiency(results, framework=framework), journal=journal)

        return run

    def test_declares_writes_proficiency(self, contract_adapter: Any) -> None:
        assert Capability.WRITES_PROFICIENCY in contract_adapter.capabilities
        assert isinstance(contract_adapter, WritesProficiency)

    def test_plan_writes_the_results_and_noops_say_why(
        self,
        contract_adapter: Any,
        contract_proficiencies: Any,
        contract_framework: Framework,
        contract_snapshot: Callable[[], Hashable],
    ) -> None:
        before = contract_snapshot()
        plan = contract_adapter.plan_proficiency(
            contract_proficiencies, framework=contract_framework
        )
        assert contract_snapshot() == before, "planning wrote to the target"
        assert plan.adapter == contract_adapter.name
        assert plan.writes, "contract_proficiencies must be results the target does not show"
        assert_noops_say_why(plan)

    def test_republish_writes_nothing(
        self,
        contract_connect: Callable[[], Any],
        contract_proficiencies: Any,
        contract_framework: Framework,
    ) -> None:
        self._publish(contract_connect, contract_proficiencies, contract_framework)(MemoryJournal())
        again = contract_connect().plan_proficiency(
            contract_proficiencies, framework=contract_framework
        )
        assert again.is_empty, "re-publish plan is not empty:\n" + again.to_table()
        assert_noops_say_why(again)

    def test_crash_after_any_write_converges(
        self,
        contract_connect: Callable[[], Any],
        contract_proficiencies: Any,
        contract_framework: Framework,
        contract_snapshot: Callable[[], Hashable],
        contract_reset: Callable[[], None],
    ) -> None:
        run = self._publish(contract_connect, contract_proficiencies, contract_framework)
        assert_converges_after_journal_crash(run, snapshot=contract_snapshot, reset=contract_reset)


class HygieneContract:
    """A secret given in settings never appears in the adapter's or the settings' repr, its
    target, its plans, its error messages or its logs."""

    def _assert_clean(self, secret: str, text: str, where: str) -> None:
        assert secret not in text, f"the secret appears in {where}: {text[:300]!r}"

    def test_secret_is_not_in_reprs_or_target(
        self, contract_adapter: Any, contract_settings: Any, contract_secret: str
    ) -> None:
        assert contract_secret, "contract_secret is the plain value of a secret setting"
        self._assert_clean(contract_secret, repr(contract_adapter), "repr(adapter)")
        self._assert_clean(contract_secret, str(contract_adapter), "str(adapter)")
        self._assert_clean(contract_secret, repr(contract_settings), "repr(settings)")
        self._assert_clean(contract_secret, str(contract_settings), "str(settings)")
        self._assert_clean(
            contract_secret, contract_settings.model_dump_json(), "settings.model_dump_json()"
        )
        self._assert_clean(contract_secret, contract_adapter.target, "adapter.target")
        assert "\n" not in contract_adapter.target, "target is one line"

    def test_secret_is_not_in_plans_or_logs(
        self,
        contract_adapter: Any,
        contract_secret: str,
        request: pytest.FixtureRequest,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        caplog.set_level(logging.DEBUG)
        texts: list[tuple[str, str]] = []
        if isinstance(contract_adapter, WritesFramework):
            framework: Framework = request.getfixturevalue("contract_framework")
            plan = contract_adapter.plan_framework(framework)
            texts += [("plan JSON", plan.to_json()), ("plan table", plan.to_table())]
        if isinstance(contract_adapter, WritesProficiency):
            results = request.getfixturevalue("contract_proficiencies")
            framework = request.getfixturevalue("contract_framework")
            plan = contract_adapter.plan_proficiency(results, framework=framework)
            texts += [("results plan JSON", plan.to_json())]
        if isinstance(contract_adapter, ReadsEvidence):
            texts.append(("evidence_query()", json.dumps(contract_adapter.evidence_query())))
        for where, text in texts:
            self._assert_clean(contract_secret, text, where)
        self._assert_clean(contract_secret, caplog.text, "the logs")

    def test_secret_is_not_in_errors(
        self,
        contract_failure: Callable[[], object],
        contract_secret: str,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        caplog.set_level(logging.DEBUG)
        with pytest.raises(Exception) as caught:  # noqa: PT011 - any error, checked below
            contract_failure()
        error: BaseException | None = caught.value
        assert isinstance(error, CompAdaptersError), (
            f"a failure is a comp_adapters error, not {type(error).__name__}: {error}"
        )
        while error is not None:
            self._assert_clean(contract_secret, str(error), f"the error {type(error).__name__}")
            self._assert_clean(contract_secret, repr(error), f"repr of {type(error).__name__}")
            error = error.__cause__ or error.__context__
        self._assert_clean(contract_secret, caplog.text, "the logs")


class ForeignLinkContract:
    """A link to another origin met in a response is refused with a clear error (the
    credentials never travel to it)."""

    def test_a_foreign_link_is_refused(self, contract_foreign_link: Callable[[], object]) -> None:
        with pytest.raises(CompAdaptersError):
            contract_foreign_link()
