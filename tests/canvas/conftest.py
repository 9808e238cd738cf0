"""Shared fixtures: a fake Canvas registered on ``responses`` and adapters that talk to it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import responses

from comp_adapters.canvas import CanvasAdapter, CanvasClient, CanvasSettings
from comp_adapters.canvas import connect as connect_settings
from comp_adapters.core.framework import Framework
from comp_adapters.native import load_framework

from .fake_canvas import BASE, TOKEN, FakeCanvas

FIXTURES = Path(__file__).parent / "fixtures"
EXAMPLE = Path(__file__).parents[2] / "examples" / "customer-support" / "framework.json"

MakeAdapter = Callable[..., CanvasAdapter]


@pytest.fixture
def fake() -> Iterator[FakeCanvas]:
    canvas = FakeCanvas()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        canvas.register(rsps)
        yield canvas


def settings_for(
    *, context: str = "account:1", token: str = TOKEN, **options: Any
) -> CanvasSettings:
    """Settings for the fake: no pauses between polls or retries."""
    kind, _, ident = context.partition(":")
    options.setdefault("poll_interval", 0)
    options.setdefault("retry_backoff", 0)
    return CanvasSettings(url=BASE, token=token, **{kind: ident}, **options)


def connect(
    *, context: str = "account:1", session: requests.Session | None = None, token: str = TOKEN
) -> CanvasClient:
    """A client of the fake, built the one way clients are built."""
    return connect_settings(settings_for(context=context, token=token), session=session)


def make(
    *, context: str = "account:1", session: requests.Session | None = None, **options: Any
) -> CanvasAdapter:
    """An adapter of the fake; ``options`` are settings (strategy, parent_outcomes, ...)."""
    return CanvasAdapter.from_settings(settings_for(context=context, **options), session=session)


@pytest.fixture
def make_adapter() -> MakeAdapter:
    return make


@pytest.fixture
def example() -> Framework:
    return load_framework(EXAMPLE)
