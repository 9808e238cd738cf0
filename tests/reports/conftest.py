"""Inputs of the report tests: the small framework of tests/conftest.py with the mean
method (so a result uses every piece of its evidence), the fixtures' roles and people."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from comp_adapters.core import Evidence, Framework, framework_from_data
from comp_adapters.native import iter_evidence
from comp_adapters.reports import Assignment, RoleProfiles
from comp_adapters.reports.files import load_checked_profiles, load_people
from tests.conftest import framework_data

FIXTURES = Path(__file__).parent / "fixtures"
AS_OF = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def mean_framework() -> Framework:
    return framework_from_data(framework_data(calculation_method="average"))


@pytest.fixture
def profiles(mean_framework: Framework) -> RoleProfiles:
    return load_checked_profiles(FIXTURES / "roles.toml", mean_framework)


@pytest.fixture
def people(profiles: RoleProfiles) -> list[Assignment]:
    return load_people(FIXTURES / "people_excel.csv", profiles)


@pytest.fixture
def visibility_evidence() -> list[Evidence]:
    return list(iter_evidence(FIXTURES / "evidence_visibility.jsonl"))
