"""The file adapters pass the contract kit: a native framework file (written and read
back), a results file (re-publishing writes nothing) and an evidence file (the cursor
never goes back, a re-read from a cursor yields nothing already read)."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from comp_adapters.core.framework import Framework
from comp_adapters.core.proficiency import Proficiency
from comp_adapters.examples import example_dir
from comp_adapters.files.evidence_file import EvidenceFileAdapter, EvidenceFileSettings
from comp_adapters.files.framework_file import FrameworkFileAdapter, FrameworkFileSettings
from comp_adapters.files.results_file import ResultsFileAdapter, ResultsFileSettings
from comp_adapters.native import load_framework
from comp_adapters.testing import (
    ReadsEvidenceContract,
    ReadsFrameworkContract,
    WritesFrameworkContract,
    WritesProficiencyContract,
)

EXAMPLE = example_dir()


def _file_state(path: Path) -> Callable[[], Hashable]:
    return lambda: path.read_bytes() if path.exists() else None


def _remove(path: Path) -> Callable[[], None]:
    return lambda: path.unlink(missing_ok=True)


class FrameworkFileFixtures:
    @pytest.fixture
    def contract_settings(self, tmp_path: Path) -> FrameworkFileSettings:
        return FrameworkFileSettings(path=tmp_path / "out" / "framework.json", format="native")

    @pytest.fixture
    def contract_adapter(self, contract_settings: FrameworkFileSettings) -> FrameworkFileAdapter:
        return FrameworkFileAdapter.from_settings(contract_settings)

    @pytest.fixture
    def contract_connect(
        self, contract_settings: FrameworkFileSettings
    ) -> Callable[[], FrameworkFileAdapter]:
        return lambda: FrameworkFileAdapter.from_settings(contract_settings)

    @pytest.fixture
    def contract_framework(self) -> Framework:
        return load_framework(EXAMPLE / "framework.json")

    @pytest.fixture
    def contract_snapshot(self, contract_settings: FrameworkFileSettings) -> Callable[[], Hashable]:
        return _file_state(contract_settings.path)

    @pytest.fixture
    def contract_reset(self, contract_settings: FrameworkFileSettings) -> Callable[[], None]:
        return _remove(contract_settings.path)


class TestFrameworkFileWrites(FrameworkFileFixtures, WritesFrameworkContract):
    pass


class TestFrameworkFileReads(FrameworkFileFixtures, ReadsFrameworkContract):
    @pytest.fixture
    def contract_adapter(
        self, contract_settings: FrameworkFileSettings, contract_framework: Framework
    ) -> FrameworkFileAdapter:
        adapter = FrameworkFileAdapter.from_settings(contract_settings)
        adapter.apply(adapter.plan_framework(contract_framework))
        return adapter


class TestResultsFile(WritesProficiencyContract):
    @pytest.fixture
    def contract_settings(self, tmp_path: Path) -> ResultsFileSettings:
        return ResultsFileSettings(path=tmp_path / "results.json")

    @pytest.fixture
    def contract_adapter(self, contract_settings: ResultsFileSettings) -> ResultsFileAdapter:
        return ResultsFileAdapter.from_settings(contract_settings)

    @pytest.fixture
    def contract_framework(self) -> Framework:
        return load_framework(EXAMPLE / "framework.json")

    @pytest.fixture
    def contract_snapshot(self, contract_settings: ResultsFileSettings) -> Callable[[], Hashable]:
        return _file_state(contract_settings.path)

    @pytest.fixture
    def contract_reset(self, contract_settings: ResultsFileSettings) -> Callable[[], None]:
        return _remove(contract_settings.path)

    @pytest.fixture
    def contract_proficiencies(self, contract_framework: Framework) -> list[Proficiency]:
        proficient = next(level for level in contract_framework.scale.levels if level.proficient)
        leaves = [c.key for c in contract_framework.competencies if c.rollup is None][:3]
        return [
            Proficiency(
                learner=learner,
                competency=key,
                score=float(proficient.points),
                level=proficient.key,
                proficient=True,
                method="latest",
                as_of=datetime(2026, 6, 1, tzinfo=UTC),
                explanation=f"latest rating: {proficient.key}",
            )
            for learner in ("ann", "bob")
            for key in leaves
        ]


class TestEvidenceFile(ReadsEvidenceContract):
    @pytest.fixture
    def contract_adapter(self, tmp_path: Path) -> EvidenceFileAdapter:
        lines = (EXAMPLE / "evidence.jsonl").read_bytes().splitlines(keepends=True)[:40]
        path = tmp_path / "evidence.jsonl"
        path.write_bytes(b"".join(lines))
        return EvidenceFileAdapter.from_settings(EvidenceFileSettings(path=path))

    @pytest.fixture
    def contract_position_order(self) -> Callable[[str], object]:
        """Positions are byte offsets: ordered as numbers, not as text."""
        return int
