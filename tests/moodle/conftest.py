"""Shared fixtures: the fake Moodle behind ``responses`` and clients that reach it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import responses

from comp_adapters.core.framework import Framework
from comp_adapters.core.proficiency import Proficiency
from comp_adapters.moodle.adapter import MoodleAdapter
from comp_adapters.moodle.client import MoodleClient
from comp_adapters.moodle.settings import MoodleSettings
from comp_adapters.native import load_framework
from tests.moodle.fake_moodle import TOKEN, URL, FakeMoodle

FIXTURES = Path(__file__).parent / "fixtures"
RECORDINGS = FIXTURES / "recordings"
EXAMPLE = Path(__file__).parents[2] / "examples" / "customer-support" / "framework.json"
FOUR_LEVELS = ["Beginning", "Developing", "Proficient", "Expert"]
FOUR_LEVEL_SCALE = 5
AS_OF = datetime(2026, 3, 1, tzinfo=UTC)


def proficiency(
    learner: str, competency: str, level: str | None, why: str = "latest <b>3</b>"
) -> Proficiency:
    """A computed result as the engine gives it (the example's level keys)."""
    return Proficiency(
        learner=learner,
        competency=competency,
        score=None,
        level=level,
        proficient=level in ("proficient", "expert"),
        method="latest",
        as_of=AS_OF,
        explanation=why,
    )


def four_level_scale() -> dict[str, Any]:
    """A core scale (as data) whose level names are the items of the fake's scale
    ``FOUR_LEVEL_SCALE``: worth 1 to 4 points, proficient from the third, default it."""
    return {
        "levels": [
            {"key": name.lower(), "name": name, "points": n, "proficient": n >= 3}
            for n, name in enumerate(FOUR_LEVELS, start=1)
        ],
        "default_level": "proficient",
    }


def recording(name: str) -> dict[str, Any]:
    """A recorded call: function, form fields sent (no token), status and raw answer."""
    path = next(RECORDINGS.glob(f"{name}*.json"))
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def make_client(session: requests.Session | None = None, **options: Any) -> MoodleClient:
    return MoodleClient(
        URL, TOKEN, session=session or requests.Session(), sleep=lambda _s: None, **options
    )


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def fake(rsps: responses.RequestsMock) -> FakeMoodle:
    site = FakeMoodle(scales={FOUR_LEVEL_SCALE: list(FOUR_LEVELS)})
    site.install(rsps)
    return site


@pytest.fixture
def example() -> Framework:
    return load_framework(EXAMPLE)


def settings_for(**options: Any) -> MoodleSettings:
    """Settings of the fake site (its URL and token) with these options."""
    return MoodleSettings.model_validate({"url": URL, "token": TOKEN, **options})


def moodle_adapter(
    session: requests.Session | None = None,
    *,
    framework: Framework | None = None,
    **options: Any,
) -> MoodleAdapter:
    """An adapter built the one way (``from_settings``) over ``session`` (a plain one by
    default, which ``responses`` intercepts); ``framework`` gives evidence its level keys."""
    adapter = MoodleAdapter.from_settings(
        settings_for(**options), session=session if session is not None else requests.Session()
    )
    return adapter.with_framework(framework) if framework is not None else adapter


@pytest.fixture
def adapter_for() -> Callable[..., MoodleAdapter]:
    """``moodle_adapter`` with the fake's four-level scale as ``scale_id`` by default."""

    def build(session: requests.Session | None = None, **options: Any) -> MoodleAdapter:
        options.setdefault("scale_id", FOUR_LEVEL_SCALE)
        return moodle_adapter(session, **options)

    return build
