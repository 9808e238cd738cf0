"""Fixtures: a "home" server holding the credentials and a "foreign" one that must get nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hardening.servers import LocalServer, TlsSetup, serving, tls_setup


@pytest.fixture
def home() -> Iterator[LocalServer]:
    with serving() as server:
        yield server


@pytest.fixture
def foreign() -> Iterator[LocalServer]:
    with serving() as server:
        yield server


@pytest.fixture
def tls(tmp_path: Path) -> TlsSetup:
    return tls_setup(tmp_path)


@pytest.fixture
def tls_home(tls: TlsSetup) -> Iterator[LocalServer]:
    with serving(tls=tls.context) as server:
        yield server
