"""Fixtures that drive the adapter contract kit (``comp_adapters.testing``) for Moodle.

Every fixture is function-scoped: each test gets a fresh fake Moodle behind ``responses``
and adapters built the one way (``MoodleAdapter.from_settings``) over it. A test module
using the kit's mixins imports these names (pytest finds fixtures imported into a module)::

    from tests.moodle.contract_fixtures import *  # noqa: F403

What each one gives:

* ``contract_remote`` - the fake site (:class:`~tests.moodle.fake_moodle.FakeMoodle`),
  with the example's users ann and ben, installed for the test;
* ``contract_adapter`` - ``build(session=None) -> MoodleAdapter`` over that site (a plain
  session by default; the kit passes a ``CrashingSession`` to crash a request);
* ``contract_framework`` - the example framework (pushable to the fake: its scale is the
  fake's scale ``FOUR_LEVEL_SCALE``);
* ``contract_proficiencies`` - results for that framework whose learners are Moodle users;
* ``contract_evidence_adapter`` - ``build(session=None)`` reading the learners' evidence;
* ``contract_snapshot`` / ``contract_reset`` - the site's state in a comparable form (it
  shows duplicates) and a way to empty it, for crash convergence;
* ``contract_secret`` - the token, which must appear in no repr, plan, error or log.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator

import pytest
import requests
import responses

from comp_adapters.core.framework import Framework
from comp_adapters.core.proficiency import Proficiency
from comp_adapters.moodle.adapter import MoodleAdapter
from comp_adapters.native import load_framework
from tests.moodle.conftest import (
    EXAMPLE,
    FOUR_LEVEL_SCALE,
    FOUR_LEVELS,
    moodle_adapter,
    proficiency,
)
from tests.moodle.fake_moodle import TOKEN, FakeMoodle

Build = Callable[..., MoodleAdapter]
USERS = ("ann", "ben")


def _users(site: FakeMoodle) -> None:
    for name in USERS:
        site.add_user(name)


@pytest.fixture
def contract_remote() -> Iterator[FakeMoodle]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        site = FakeMoodle(scales={FOUR_LEVEL_SCALE: list(FOUR_LEVELS)})
        site.install(mock)
        _users(site)
        yield site


@pytest.fixture
def contract_adapter(contract_remote: FakeMoodle) -> Build:
    def build(session: requests.Session | None = None) -> MoodleAdapter:
        return moodle_adapter(session, scale_id=FOUR_LEVEL_SCALE)

    return build


@pytest.fixture
def contract_framework() -> Framework:
    return load_framework(EXAMPLE)


@pytest.fixture
def contract_proficiencies() -> list[Proficiency]:
    return [
        proficiency("ann@example.com", "product.catalogue", "proficient"),
        proficiency("ann@example.com", "product.pricing", "expert"),
        proficiency("ben@example.com", "comm.listening", "beginning"),
        proficiency("ben@example.com", "comm.written", None),
    ]


@pytest.fixture
def contract_evidence_adapter(contract_remote: FakeMoodle, contract_framework: Framework) -> Build:
    def build(session: requests.Session | None = None) -> MoodleAdapter:
        return moodle_adapter(
            session,
            framework=contract_framework,
            framework_key=contract_framework.key,
            learners=["ann@example.com", "ben@example.com"],
        )

    return build


@pytest.fixture
def contract_snapshot(contract_remote: FakeMoodle) -> Callable[[], Hashable]:
    return contract_remote.snapshot


@pytest.fixture
def contract_reset(contract_remote: FakeMoodle) -> Callable[[], None]:
    def reset() -> None:
        contract_remote.reset()
        _users(contract_remote)

    return reset


@pytest.fixture
def contract_secret() -> str:
    return TOKEN


__all__ = [
    "contract_adapter",
    "contract_evidence_adapter",
    "contract_framework",
    "contract_proficiencies",
    "contract_remote",
    "contract_reset",
    "contract_secret",
    "contract_snapshot",
]
