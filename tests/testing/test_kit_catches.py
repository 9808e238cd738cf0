"""Each clause of the contract kit fails on an adapter that breaks it.

The kit's test methods are called directly with the fixture values a broken adapter's
test module would provide; each must raise (an assertion or ``pytest.fail``). The same
methods pass for the well-behaved :class:`MemoryAdapter` (test_kit_memory.py), so what
fails here is the broken clause, not the set-up.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from comp_adapters.core import Framework, framework_from_data
from comp_adapters.errors import CompAdaptersError
from comp_adapters.protocols import Cursor, EvidenceBatch
from comp_adapters.sync import ApplyReport, Change, Journal, MemoryJournal, Plan, apply_plan
from comp_adapters.testing import (
    HygieneContract,
    ReadsEvidenceContract,
    ReadsFrameworkContract,
    WritesFrameworkContract,
    WritesProficiencyContract,
)
from tests.conftest import framework_data
from tests.testing.memory_adapter import (
    TARGETS,
    MemoryAdapter,
    MemorySettings,
    MemoryTarget,
    fill_evidence,
)
from tests.testing.test_kit_memory import SECRET, results

FAILS = (AssertionError, pytest.fail.Exception)


@pytest.fixture
def space(request: pytest.FixtureRequest) -> Iterator[str]:
    name = request.node.nodeid
    TARGETS[name] = MemoryTarget()
    yield name
    del TARGETS[name]


def build(cls: type[MemoryAdapter], space: str) -> dict[str, Any]:
    """The fixture values of test_kit_memory.py, for an adapter class."""
    settings = MemorySettings(space=space, token=SECRET)  # type: ignore[arg-type]
    adapter = cls(settings)
    return {
        "contract_adapter": adapter,
        "contract_settings": settings,
        "contract_connect": lambda: cls(settings),
        "contract_framework": framework_from_data(framework_data()),
        "contract_snapshot": adapter.remote.snapshot,
        "contract_reset": adapter.remote.records.clear,
        "contract_secret": SECRET,
        "contract_comparable": lambda f: f.canonical().model_dump(mode="json"),
        "contract_proficiencies": results(framework_from_data(framework_data())),
    }


def call(method: Any, values: dict[str, Any], **extra: Any) -> None:
    names = method.__code__.co_varnames[1 : method.__code__.co_argcount]
    method(**{name: {**values, **extra}[name] for name in names})


# --- a baseline: the same calls pass for the well-behaved adapter ----------------------


def test_the_direct_calls_pass_for_the_good_adapter(space: str) -> None:
    values = build(MemoryAdapter, space)
    kit = WritesFrameworkContract()
    call(kit.test_replan_after_apply_writes_nothing, values)
    values["contract_reset"]()
    call(kit.test_crash_after_any_change_converges, values)
    values["contract_reset"]()
    call(kit.test_a_saved_plan_applied_again_is_stale_or_harmless, values)


# --- writes frameworks ------------------------------------------------------------------


class BlindReader(MemoryAdapter):
    """Plans against nothing: it never sees what it wrote, so every run writes again."""

    def plan_framework(self, framework: Framework, *, prune: bool = False) -> Plan:
        saved = self.remote.records
        self.remote.records = []
        try:
            plan = super().plan_framework(framework, prune=prune)
        finally:
            self.remote.records = saved
        return plan.model_copy(update={"state_fingerprint": self.remote.state()})


def test_replan_catches_an_adapter_that_writes_again(space: str) -> None:
    with pytest.raises(FAILS, match="re-plan after apply is not empty"):
        call(
            WritesFrameworkContract().test_replan_after_apply_writes_nothing,
            build(BlindReader, space),
        )


def test_crash_test_catches_duplicates_on_rerun(space: str) -> None:
    with pytest.raises(FAILS, match="differs from a clean run"):
        call(
            WritesFrameworkContract().test_crash_after_any_change_converges,
            build(BlindReader, space),
        )


class NoJournal(MemoryAdapter):
    """Applies with a journal of its own: a crash cannot be resumed from the caller's."""

    def apply(self, plan: Plan, *, journal: Journal | None = None) -> ApplyReport:
        return super().apply(plan, journal=MemoryJournal())


def test_crash_test_catches_an_adapter_that_ignores_the_journal(space: str) -> None:
    with pytest.raises(FAILS, match="journaled no change"):
        call(
            WritesFrameworkContract().test_crash_after_any_change_converges, build(NoJournal, space)
        )


class NoStaleCheck(MemoryAdapter):
    """Applies a saved plan whatever the target holds now."""

    def apply(self, plan: Plan, *, journal: Journal | None = None) -> ApplyReport:
        return apply_plan(plan, self._execute, journal=journal)


def test_saved_plan_test_catches_a_missing_stale_check(space: str) -> None:
    kit = WritesFrameworkContract()
    with pytest.raises(FAILS, match="neither refused as stale"):
        call(kit.test_a_saved_plan_applied_again_is_stale_or_harmless, build(NoStaleCheck, space))


class WritesWhilePlanning(MemoryAdapter):
    def plan_framework(self, framework: Framework, *, prune: bool = False) -> Plan:
        self.remote.records.append(("log", "planned", "{}"))
        return super().plan_framework(framework, prune=prune)


def test_planning_test_catches_a_planner_that_writes(space: str) -> None:
    with pytest.raises(FAILS):
        call(
            WritesFrameworkContract().test_planning_writes_nothing,
            build(WritesWhilePlanning, space),
        )


class SilentNoops(MemoryAdapter):
    def _change(self, kind: str, key: str, want: dict[str, Any], have: Any) -> Change:
        change = super()._change(kind, key, want, have)
        return change.model_copy(update={"reason": None})


def test_noop_reasons_are_required(space: str) -> None:
    values = build(SilentNoops, space)
    with pytest.raises(FAILS, match="NOOP changes without a reason"):
        call(WritesFrameworkContract().test_replan_after_apply_writes_nothing, values)


class DropsTitles(MemoryAdapter):
    def read_framework(self, key: str) -> Framework:
        found = super().read_framework(key)
        return found.model_copy(update={"description": "changed on the way"})


def test_round_trip_catches_a_lossy_read(space: str) -> None:
    with pytest.raises(FAILS):
        call(WritesFrameworkContract().test_round_trip, build(DropsTitles, space))


# --- reads frameworks -------------------------------------------------------------------


class CrashesOnMissing(MemoryAdapter):
    def read_framework(self, key: str) -> Framework:
        frameworks = self.remote.holding("framework")
        return Framework.model_validate(frameworks[key])  # a KeyError, not a clear error


def test_missing_key_test_catches_a_raw_key_error(space: str) -> None:
    values = build(CrashesOnMissing, space)
    with pytest.raises(KeyError):
        call(
            ReadsFrameworkContract().test_a_missing_key_is_a_clear_error,
            values,
            contract_missing_key="nope",
        )


# --- reads evidence ---------------------------------------------------------------------


class Rewinds(MemoryAdapter):
    """Its cursor points one record back: re-reading yields the last record again."""

    def read_evidence(self, *, cursor: Cursor | None = None) -> Iterator[EvidenceBatch]:
        for batch in super().read_evidence(cursor=cursor):
            position = batch.cursor.position
            back = f"{max(int(position) - 1, 0):08d}" if position is not None else None
            yield EvidenceBatch(
                batch.evidence, batch.cursor.model_copy(update={"position": back}), batch.withdrawn
            )


class GoesBack(MemoryAdapter):
    def read_evidence(self, *, cursor: Cursor | None = None) -> Iterator[EvidenceBatch]:
        batches = list(super().read_evidence(cursor=cursor))
        yield from batches
        yield EvidenceBatch((), Cursor(adapter=self.name, field="n", position=None))


class ForgetsVoids(MemoryAdapter):
    def read_evidence(self, *, cursor: Cursor | None = None) -> Iterator[EvidenceBatch]:
        for batch in super().read_evidence(cursor=cursor):
            yield EvidenceBatch(batch.evidence, batch.cursor)


def evidence_values(cls: type[MemoryAdapter], space: str) -> dict[str, Any]:
    values = build(cls, space)
    fill_evidence(values["contract_adapter"].remote)
    return {**values, "contract_withdrawn_ids": frozenset({"e1"})}


def test_overlap_test_catches_a_cursor_that_repeats(space: str) -> None:
    kit = ReadsEvidenceContract()
    with pytest.raises(FAILS, match="already yielded"):
        call(
            kit.test_rereading_from_a_cursor_yields_nothing_already_yielded,
            evidence_values(Rewinds, space),
        )


def test_cursor_test_catches_a_cursor_that_goes_back(space: str) -> None:
    kit = ReadsEvidenceContract()
    values = evidence_values(GoesBack, space)
    with pytest.raises(FAILS, match="went back"):
        call(kit.test_cursor_never_goes_back, values, contract_position_order=lambda p: p)


def test_withdrawn_test_catches_forgotten_voids(space: str) -> None:
    kit = ReadsEvidenceContract()
    with pytest.raises(FAILS, match="never reported as withdrawn"):
        call(kit.test_withdrawn_ids_are_withdrawn, evidence_values(ForgetsVoids, space))


# --- writes proficiency -----------------------------------------------------------------


class RepublishesAlways(MemoryAdapter):
    def plan_proficiency(self, proficiencies: Any, *, framework: Framework) -> Plan:
        saved = self.remote.records
        self.remote.records = []
        try:
            plan = super().plan_proficiency(proficiencies, framework=framework)
        finally:
            self.remote.records = saved
        return plan.model_copy(update={"state_fingerprint": self.remote.state()})


def test_republish_test_catches_repeated_writes(space: str) -> None:
    values = build(RepublishesAlways, space)
    values["contract_proficiencies"] = results(values["contract_framework"])
    kit = WritesProficiencyContract()
    with pytest.raises(FAILS, match="re-publish plan is not empty"):
        call(kit.test_republish_writes_nothing, values)
    values["contract_reset"]()
    with pytest.raises(FAILS, match="differs from a clean run"):
        call(kit.test_crash_after_any_write_converges, values)


# --- hygiene ----------------------------------------------------------------------------


class LeakyRepr(MemoryAdapter):
    def __repr__(self) -> str:
        return f"LeakyRepr(token={self.settings.token.get_secret_value()})"


class LeakyTarget(MemoryAdapter):
    @property
    def target(self) -> str:
        return f"memory://{self.settings.token.get_secret_value()}@{self.settings.space}"


class LeakyLogs(MemoryAdapter):
    def plan_framework(self, framework: Framework, *, prune: bool = False) -> Plan:
        logging.getLogger("leaky").debug("token %s", self.settings.token.get_secret_value())
        return super().plan_framework(framework, prune=prune)


class LeakyError(MemoryAdapter):
    def refuse(self) -> None:
        token = self.settings.token.get_secret_value()
        raise CompAdaptersError(f"refused token {token}")


class RawError(MemoryAdapter):
    def refuse(self) -> None:
        raise RuntimeError("boom")


@pytest.mark.parametrize("cls", [LeakyRepr, LeakyTarget])
def test_repr_test_catches_leaks(space: str, cls: type[MemoryAdapter]) -> None:
    with pytest.raises(FAILS, match="the secret appears"):
        call(HygieneContract().test_secret_is_not_in_reprs_or_target, build(cls, space))


def test_log_test_catches_a_logged_secret(space: str, caplog: pytest.LogCaptureFixture) -> None:
    values = build(LeakyLogs, space)
    request = _Request(values)
    with pytest.raises(FAILS, match="the secret appears in the logs"):
        call(
            HygieneContract().test_secret_is_not_in_plans_or_logs,
            values,
            request=request,
            caplog=caplog,
        )


@pytest.mark.parametrize(
    ("cls", "message"), [(LeakyError, "the secret appears"), (RawError, "not RuntimeError")]
)
def test_error_test_catches_leaks_and_raw_errors(
    space: str, caplog: pytest.LogCaptureFixture, cls: type[MemoryAdapter], message: str
) -> None:
    values = build(cls, space)
    values["contract_failure"] = values["contract_adapter"].refuse
    with pytest.raises(FAILS, match=message):
        call(HygieneContract().test_secret_is_not_in_errors, values, caplog=caplog)


class _Request:
    """The part of pytest's ``request`` the hygiene test uses."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.values = values

    def getfixturevalue(self, name: str) -> Any:
        return self.values[name]


class IgnoresCursor(MemoryAdapter):
    """Reads everything again whatever cursor it is given."""

    def read_evidence(self, *, cursor: Cursor | None = None) -> Iterator[EvidenceBatch]:
        return super().read_evidence(cursor=None)


def test_finished_read_test_catches_an_adapter_that_ignores_its_cursor(space: str) -> None:
    kit = ReadsEvidenceContract()
    values = evidence_values(IgnoresCursor, space)
    with pytest.raises(FAILS, match="reading again from the last cursor yielded"):
        call(kit.test_a_finished_read_cursor_yields_nothing_more, values)
    with pytest.raises(FAILS, match="already yielded"):
        call(kit.test_rereading_from_a_cursor_yields_nothing_already_yielded, values)
