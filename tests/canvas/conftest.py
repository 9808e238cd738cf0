"""Shared fixtures: a fake Canvas registered on ``responses`` and adapters that talk to it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import responses

from comp_adapters.canvas import CanvasAdapter, CanvasClient
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


def connect(
    *, context: str = "account:1", session: requests.Session | None = None, token: str = TOKEN
) -> CanvasClient:
    """A client of the fake: no real sleeps, no jitter."""
    return CanvasClient.connect(
        BASE, token, context=context, session=session, sleep=lambda _s: None
    )


@pytest.fixture
def make_adapter() -> MakeAdapter:
    def build(
        *, context: str = "account:1", session: requests.Session | None = None, **options: Any
    ) -> CanvasAdapter:
        options.setdefault("sleep", lambda _s: None)
        return CanvasAdapter(connect(context=context, session=session), **options)

    return build


@pytest.fixture
def example() -> Framework:
    return load_framework(EXAMPLE)
