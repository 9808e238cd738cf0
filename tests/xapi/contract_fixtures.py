"""Fixtures that drive the adapter contract kit (``comp_adapters.testing``) for xAPI.

The xAPI adapter reads evidence and writes proficiency, so the kit's
``ReadsEvidenceContract``, ``WritesProficiencyContract`` and ``HygieneContract`` apply.
Every fixture is function-scoped: each test gets a fresh fake LRS (a real HTTP server on
127.0.0.1, :class:`~tests.xapi.fake_lrs.FakeLrs`), so no test sees another's statements.
Use them from a test module with ``from tests.xapi.contract_fixtures import *`` (they are
fixtures, found by name), or list them in ``pytest_plugins``.

What each gives:

- ``xapi_lrs``: the fresh fake LRS (to inspect ``rows`` and ``requests``);
- ``make_adapter(session=None)``: an adapter over it built the one way
  (``XapiAdapter.from_settings``), ``session`` replacing the HTTP session (a
  :class:`~comp_adapters.testing.CrashingSession` for crash-at-every-request tests);
- ``adapter``: ``make_adapter()``;
- ``framework``: a framework holding the competency the results and statements use;
- ``proficiencies``: results to publish for it;
- ``add_evidence(n)``: stores ``n`` statements the mapping turns into evidence, returns
  their evidence ids; ``void_evidence(statement_id)`` stores a voiding statement;
- ``secret``: the secret the adapter was configured with (must appear in no repr, plan,
  error or log);
- ``foreign_link``: a URL on another origin, which the adapter must refuse to follow.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from comp_adapters.core.framework import Competency, Framework
from comp_adapters.core.proficiency import Proficiency
from comp_adapters.core.scale import ProficiencyScale, ScaleLevel
from comp_adapters.xapi.adapter import XapiAdapter
from tests.xapi.conftest import account, results, statement, void
from tests.xapi.fake_lrs import SECRET, FakeLrs

HOME = "https://lms.example.org"
QUIZ = "https://courses.example.org/quiz/1"
AS_OF = datetime(2026, 3, 1, tzinfo=UTC)
MAPPING_TOML = f"""
competency_iri_base = "https://competencies.example.org/"

[identity]
account_home_pages = ["{HOME}"]
push_home_page = "{HOME}"

[[activities]]
prefix = "https://courses.example.org/"
competencies = ["q"]
"""

__all__ = [
    "adapter",
    "add_evidence",
    "foreign_link",
    "framework",
    "make_adapter",
    "proficiencies",
    "secret",
    "void_evidence",
    "xapi_lrs",
]


@pytest.fixture
def xapi_lrs() -> Iterator[FakeLrs]:
    """A fresh fake LRS for this test, stopped after it."""
    fake = FakeLrs().start()
    yield fake
    fake.stop()


@pytest.fixture
def make_adapter(xapi_lrs: FakeLrs, tmp_path: Path) -> Callable[..., XapiAdapter]:
    """Build an adapter over the test's LRS from settings (optionally over ``session``)."""
    mapping = tmp_path / "contract-mapping.toml"
    mapping.write_text(MAPPING_TOML)
    settings = xapi_lrs.settings(version="1.0.3", mapping=mapping, overlap_seconds=0)

    def make(session: requests.Session | None = None) -> XapiAdapter:
        return XapiAdapter.from_settings(settings, session=session)

    return make


@pytest.fixture
def adapter(make_adapter: Callable[..., XapiAdapter]) -> XapiAdapter:
    return make_adapter()


def make_framework() -> Framework:
    """A one-competency framework (``q``, the competency of the mapping and results)."""
    scale = ProficiencyScale(
        key="two-levels",
        name="Two levels",
        levels=(
            ScaleLevel(key="not_yet", name="Not yet", points=0),
            ScaleLevel(key="proficient", name="Proficient", points=1, proficient=True),
        ),
        default_level="proficient",
    )
    return Framework(
        key="contract",
        title="Contract framework",
        scale=scale,
        competencies=(Competency(key="q", title="Q"),),
    )


@pytest.fixture
def framework() -> Framework:
    return make_framework()


@pytest.fixture
def proficiencies() -> list[Proficiency]:
    return results(6, as_of=AS_OF)


@pytest.fixture
def add_evidence(xapi_lrs: FakeLrs) -> Callable[[int], list[str]]:
    """Store ``n`` passed statements (one learner each); their evidence ids, in order."""
    counter = iter(range(1_000_000))

    def add(n: int) -> list[str]:
        ids: list[str] = []
        for _ in range(n):
            number = next(counter)
            stored = xapi_lrs.store(
                statement("passed", actor=account(f"u{number}", HOME), activity=QUIZ, scaled=0.9)
            )
            ids.append(f"xapi:{stored['id']}:q")
        return ids

    return add


@pytest.fixture
def void_evidence(xapi_lrs: FakeLrs) -> Callable[[str], None]:
    """Store a statement voiding ``statement_id`` (the part after ``xapi:`` of an id)."""

    def add_void(statement_id: str) -> None:
        xapi_lrs.store(void(statement_id))

    return add_void


@pytest.fixture
def secret() -> str:
    return SECRET


@pytest.fixture
def foreign_link() -> str:
    return "https://elsewhere.example.net/xAPI/statements?more=1"
