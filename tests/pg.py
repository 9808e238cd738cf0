"""A private PostgreSQL cluster for the test run (a pytest plugin, see tests/conftest.py).

``postgres_cluster`` (session) starts the cluster of ``tools/postgres.py``
(:func:`private_cluster`: ``initdb`` in a fresh temporary folder, the server on 127.0.0.1
only, on a free port, run as the ``postgres`` user when we are root) and stops and removes
it at the end of the run. ``postgres_url`` (per test) creates an empty database in it and
drops it afterwards, so tests never see each other's data.

Missing PostgreSQL fails the tests that need it with what to install; it never skips them.
"""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import psycopg
import pytest
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]


def load_tools_postgres() -> ModuleType:
    """``tools/postgres.py`` as a module (tools/ is a folder of scripts, not a package)."""
    name = "comp_adapters_tools_postgres"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / "postgres.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


class PostgresCluster:
    """The running cluster: URLs of its databases, and making and dropping them."""

    def __init__(self, cluster: Any) -> None:
        self._cluster = cluster
        self.port: int = cluster.port
        self.password: str = cluster.password
        self.user: str = cluster.user

    def url(self, database: str = "postgres") -> str:
        return str(self._cluster.url(database))

    def admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user=self.user,
            password=self.password,
            dbname="postgres",
            autocommit=True,
        )

    def create_database(self, name: str) -> str:
        with self.admin() as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        with self.admin() as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    tools = load_tools_postgres()
    try:
        with tools.private_cluster() as cluster:
            yield PostgresCluster(cluster)
    except tools.ClusterError as exc:
        pytest.fail(str(exc))


_numbers = itertools.count(1)


@pytest.fixture
def postgres_url(postgres_cluster: PostgresCluster) -> Iterator[str]:
    """The URL of a new, empty database of the private cluster (dropped after the test)."""
    name = f"test_{os.getpid()}_{next(_numbers)}"
    url = postgres_cluster.create_database(name)
    yield url
    with contextlib.suppress(psycopg.Error):
        postgres_cluster.drop_database(name)
