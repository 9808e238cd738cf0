"""The contract kit run against the in-memory adapter, which keeps every clause: the
kit's mixins pass when fed fixtures (the way a real adapter's tests use them)."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from datetime import UTC, datetime

import pytest

from comp_adapters.core import Framework, framework_from_data
from comp_adapters.core.proficiency import Proficiency
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

SECRET = "s3cr3t-memory-token-0123"


def results(framework: Framework) -> list[Proficiency]:
    return [
        Proficiency(
            learner=learner,
            competency=competency.key,
            score=3.0,
            level="proficient",
            proficient=True,
            method="latest",
            as_of=datetime(2026, 6, 1, tzinfo=UTC),
            explanation="kit",
        )
        for learner in ("ann", "bob")
        for competency in framework.competencies[:2]
    ]


class MemoryFixtures:
    """The fixtures the kit asks for, over a fresh in-memory target."""

    @pytest.fixture
    def contract_settings(self, request: pytest.FixtureRequest) -> Iterator[MemorySettings]:
        space = request.node.nodeid
        TARGETS[space] = MemoryTarget()
        yield MemorySettings(space=space, token=SECRET)  # type: ignore[arg-type]
        del TARGETS[space]

    @pytest.fixture
    def contract_secret(self) -> str:
        return SECRET

    @pytest.fixture
    def contract_adapter(self, contract_settings: MemorySettings) -> MemoryAdapter:
        return MemoryAdapter.from_settings(contract_settings)

    @pytest.fixture
    def contract_connect(self, contract_settings: MemorySettings) -> Callable[[], MemoryAdapter]:
        return lambda: MemoryAdapter.from_settings(contract_settings)

    @pytest.fixture
    def contract_framework(self) -> Framework:
        return framework_from_data(framework_data())

    @pytest.fixture
    def contract_snapshot(self, contract_adapter: MemoryAdapter) -> Callable[[], Hashable]:
        return contract_adapter.remote.snapshot

    @pytest.fixture
    def contract_reset(self, contract_adapter: MemoryAdapter) -> Callable[[], None]:
        def reset() -> None:
            contract_adapter.remote.records.clear()

        return reset

    @pytest.fixture
    def contract_failure(self, contract_adapter: MemoryAdapter) -> Callable[[], object]:
        return contract_adapter.refuse

    @pytest.fixture
    def contract_proficiencies(self, contract_framework: Framework) -> list[Proficiency]:
        return results(contract_framework)


class TestMemoryWrites(MemoryFixtures, WritesFrameworkContract, WritesProficiencyContract):
    pass


class TestMemoryReadsFramework(MemoryFixtures, ReadsFrameworkContract):
    @pytest.fixture
    def contract_adapter(self, contract_settings: MemorySettings) -> MemoryAdapter:
        adapter = MemoryAdapter.from_settings(contract_settings)
        adapter.apply(adapter.plan_framework(framework_from_data(framework_data())))
        return adapter


class TestMemoryReadsEvidence(MemoryFixtures, ReadsEvidenceContract):
    @pytest.fixture
    def contract_adapter(self, contract_settings: MemorySettings) -> MemoryAdapter:
        adapter = MemoryAdapter.from_settings(contract_settings)
        fill_evidence(adapter.remote)
        return adapter

    @pytest.fixture
    def contract_withdrawn_ids(self) -> frozenset[str]:
        return frozenset({"e1"})


class TestMemoryHygiene(MemoryFixtures, HygieneContract):
    pass
