"""The contract kit (:mod:`comp_adapters.testing.kit`) run against the Canvas adapter over
the stateful fake: framework push and pull (with a crash at every request and after every
journaled change), evidence reads, mastery write-back, and hygiene."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from comp_adapters.canvas import CanvasAdapter, CanvasSettings
from comp_adapters.core.framework import Framework
from comp_adapters.core.proficiency import Proficiency
from comp_adapters.native import iter_evidence
from comp_adapters.rules import evaluate
from comp_adapters.testing import (
    ForeignLinkContract,
    HttpCrashContract,
    HygieneContract,
    ReadsEvidenceContract,
    ReadsFrameworkContract,
    WritesProficiencyContract,
)

from .conftest import EXAMPLE, make, settings_for
from .fake_canvas import TOKEN, FakeCanvas

LEARNERS = ["amara.okafor", "ben.schulz", "chloe.martin"]


class ForeignNextPage(requests.Session):
    """A session whose answers to the outcome group list point their next page at another
    server, as a tampered (or misconfigured) answer would."""

    def request(  # type: ignore[override]
        self, method: str, url: str, *args: Any, **kwargs: Any
    ) -> requests.Response:
        response = super().request(method, url, *args, **kwargs)
        if "outcome_groups" in url:
            response.headers["Link"] = (
                '<https://elsewhere.example/api/v1/accounts/1/outcome_groups?page=2>; rel="next"'
            )
        return response


class TestCanvasFrameworkContract(HttpCrashContract, ReadsFrameworkContract, ForeignLinkContract):
    """Push and pull in an account, REST strategy (the one whose writes are not idempotent)."""

    @pytest.fixture
    def contract_settings(self, fake: FakeCanvas) -> CanvasSettings:
        return settings_for(strategy="rest")

    @pytest.fixture
    def contract_adapter(self, contract_settings: CanvasSettings) -> CanvasAdapter:
        return CanvasAdapter.from_settings(contract_settings)

    @pytest.fixture
    def contract_connect(self, contract_settings: CanvasSettings) -> Callable[[], CanvasAdapter]:
        return lambda: CanvasAdapter.from_settings(contract_settings)

    @pytest.fixture
    def contract_connect_http(
        self, contract_settings: CanvasSettings
    ) -> Callable[[requests.Session], CanvasAdapter]:
        return lambda session: CanvasAdapter.from_settings(contract_settings, session=session)

    @pytest.fixture
    def contract_framework(self, example: Framework) -> Framework:
        return example

    @pytest.fixture
    def contract_framework_key(
        self, contract_adapter: CanvasAdapter, contract_framework: Framework
    ) -> str:
        contract_adapter.apply(contract_adapter.plan_framework(contract_framework))
        return contract_framework.key

    @pytest.fixture
    def contract_snapshot(self, fake: FakeCanvas) -> Callable[[], Hashable]:
        return fake.snapshot

    @pytest.fixture
    def contract_reset(self, fake: FakeCanvas) -> Callable[[], None]:
        return fake.reset

    @pytest.fixture
    def contract_comparable(self) -> Callable[[Framework], object]:
        """What Canvas holds of a framework: its key, and each competency's key, title and
        parent (level keys, tags and relations do not survive Canvas: docs/canvas.md)."""

        def held(framework: Framework) -> object:
            return (
                framework.key,
                sorted((c.key, c.title, c.parent or "") for c in framework.competencies),
            )

        return held

    @pytest.fixture
    def contract_foreign_link(
        self, fake: FakeCanvas, contract_settings: CanvasSettings
    ) -> Callable[[], object]:
        adapter = CanvasAdapter.from_settings(contract_settings, session=ForeignNextPage())
        return adapter.read_tree


class TestCanvasEvidenceContract(ReadsEvidenceContract):
    """Outcome results of a course, over more than one page (Canvas pages by 100)."""

    @pytest.fixture
    def contract_adapter(self, fake: FakeCanvas) -> CanvasAdapter:
        fake.add_user("7", login_id="amara")
        fake.add_user("8", login_id="ben")
        outcome = fake._new_outcome(
            "courses/5", {"title": "O", "vendor_guid": "RX:o1", "calculation_method": "latest"}
        )
        fake._link_outcome("courses/5", fake.root_id("courses/5"), outcome["id"])
        for i in range(150):
            fake.add_result(
                user="7" if i % 2 else "8",
                outcome_id=outcome["id"],
                score=i % 5,
                possible=4,
                when=f"2026-02-{1 + i // 24:02d}T{i % 24:02d}:00:00Z",
            )
        return make(context="course:5", framework_key="RX")


class TestCanvasMasteryContract(WritesProficiencyContract, HygieneContract):
    """Mastery written as rubric assessments in a course the framework was pushed to; the
    hygiene checks here cover framework plans, results plans, evidence and errors."""

    @pytest.fixture
    def contract_settings(self) -> CanvasSettings:
        return settings_for(context="course:5")

    @pytest.fixture
    def contract_secret(self) -> str:
        return TOKEN

    @pytest.fixture
    def contract_failure(
        self, fake: FakeCanvas, contract_adapter: CanvasAdapter
    ) -> Callable[[], object]:
        def fail() -> object:
            fake.throttle(*([429] * 10))  # more than the retries: a RateLimitedError
            return contract_adapter.read_tree()

        return fail

    @pytest.fixture
    def contract_framework(self, example: Framework) -> Framework:
        return example

    @pytest.fixture
    def contract_reset(self, fake: FakeCanvas, example: Framework) -> Callable[[], None]:
        def reset() -> None:
            fake.reset()
            for number, login in enumerate(LEARNERS, start=100):
                fake.add_user(str(number), login_id=login)
            pusher = make(context="course:5", strategy="rest")
            pusher.apply(pusher.plan_framework(example))

        return reset

    @pytest.fixture
    def contract_adapter(
        self, contract_reset: Callable[[], None], contract_settings: CanvasSettings
    ) -> CanvasAdapter:
        contract_reset()
        return CanvasAdapter.from_settings(contract_settings)

    @pytest.fixture
    def contract_connect(
        self, contract_adapter: CanvasAdapter, contract_settings: CanvasSettings
    ) -> Callable[[], CanvasAdapter]:
        return lambda: CanvasAdapter.from_settings(contract_settings)

    @pytest.fixture
    def contract_snapshot(self, fake: FakeCanvas) -> Callable[[], Hashable]:
        def snapshot() -> Hashable:
            assignments = tuple(sorted(a["name"] for a in fake.assignments.values()))
            marks = tuple(
                sorted((uid, tuple(sorted(m.values()))) for (_, uid), m in fake.assessments.items())
            )
            return (assignments, len(fake.rubrics), marks)

        return snapshot

    @pytest.fixture
    def contract_proficiencies(self, example: Framework) -> list[Proficiency]:
        evidence = list(iter_evidence(EXAMPLE.parent / "evidence.jsonl"))
        computed = evaluate(example, evidence, as_of=datetime(2026, 3, 1, tzinfo=UTC))
        return [p for p in computed if p.learner in LEARNERS]
