"""The contract kit against the xAPI adapter, over a fresh fake LRS for every test.

The LRS starts with a few evidence statements (one of them voided), read in pages of two so
the read has several batches and cursors; results are pushed as proficiency statements."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from pathlib import Path

import pytest
import requests

from comp_adapters.core.framework import Framework
from comp_adapters.core.proficiency import Proficiency
from comp_adapters.testing import (
    ForeignLinkContract,
    HygieneContract,
    ReadsEvidenceContract,
    WritesProficiencyContract,
)
from comp_adapters.xapi.adapter import XapiAdapter
from comp_adapters.xapi.settings import XapiSettings
from tests.xapi.conftest import account, results, statement, void
from tests.xapi.contract_fixtures import AS_OF, HOME, MAPPING_TOML, QUIZ, make_framework
from tests.xapi.fake_lrs import SECRET, FakeLrs


class TestXapiContract(
    ReadsEvidenceContract, WritesProficiencyContract, HygieneContract, ForeignLinkContract
):
    @pytest.fixture
    def lrs(self) -> Iterator[tuple[FakeLrs, frozenset[str], frozenset[str]]]:
        """A fresh LRS, the ids of the statements it starts with, and the evidence id of
        the one voided among them."""
        fake = FakeLrs().start()
        stored = [
            fake.store(statement("passed", actor=account(f"u{n}", HOME), activity=QUIZ, scaled=0.9))
            for n in range(5)
        ]
        voiding = fake.store(void(stored[1]["id"]))
        seeded = frozenset([*(s["id"] for s in stored), voiding["id"]])
        yield fake, seeded, frozenset({f"xapi:{stored[1]['id']}:q"})
        fake.stop()

    @pytest.fixture
    def contract_settings(
        self, lrs: tuple[FakeLrs, frozenset[str], frozenset[str]], tmp_path: Path
    ) -> XapiSettings:
        mapping = tmp_path / "mapping.toml"
        mapping.write_text(MAPPING_TOML)
        return lrs[0].settings(version="1.0.3", mapping=mapping, overlap_seconds=0, page_size=2)

    @pytest.fixture
    def contract_connect(self, contract_settings: XapiSettings) -> Callable[[], XapiAdapter]:
        return lambda: XapiAdapter.from_settings(contract_settings)

    @pytest.fixture
    def contract_adapter(self, contract_connect: Callable[[], XapiAdapter]) -> XapiAdapter:
        return contract_connect()

    @pytest.fixture
    def contract_withdrawn_ids(
        self, lrs: tuple[FakeLrs, frozenset[str], frozenset[str]]
    ) -> frozenset[str]:
        return lrs[2]

    @pytest.fixture
    def contract_framework(self) -> Framework:
        return make_framework()

    @pytest.fixture
    def contract_proficiencies(self) -> list[Proficiency]:
        return results(4, as_of=AS_OF)

    @pytest.fixture
    def contract_snapshot(
        self, lrs: tuple[FakeLrs, frozenset[str], frozenset[str]]
    ) -> Callable[[], Hashable]:
        fake = lrs[0]
        return lambda: tuple(
            sorted((r.statement["id"], r.statement["verb"]["id"]) for r in fake.rows)
        )

    @pytest.fixture
    def contract_reset(
        self, lrs: tuple[FakeLrs, frozenset[str], frozenset[str]]
    ) -> Callable[[], None]:
        fake, seeded, _ = lrs

        def reset() -> None:
            fake.rows[:] = [r for r in fake.rows if r.statement["id"] in seeded]

        return reset

    @pytest.fixture
    def contract_secret(self) -> str:
        return SECRET

    @pytest.fixture
    def contract_failure(self, contract_settings: XapiSettings) -> Callable[[], object]:
        """The LRS refuses an unknown key (401); the secret travels with it."""
        wrong = contract_settings.model_copy(update={"key": "not-a-key"})

        def fail() -> object:
            return list(
                XapiAdapter.from_settings(wrong, session=requests.Session()).read_evidence()
            )

        return fail

    @pytest.fixture
    def contract_foreign_link(self, contract_adapter: XapiAdapter) -> Callable[[], object]:
        client = contract_adapter.client
        assert client is not None
        return lambda: client.get_more("https://elsewhere.example.net/xAPI/statements?more=1")
