"""The private PostgreSQL cluster of the test run: found, private, and an error when missing."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from tests.pg import PostgresCluster, load_tools_postgres


def test_the_server_binaries_are_found() -> None:
    folder = load_tools_postgres().server_bin()
    assert folder is not None
    assert (folder / "initdb").is_file()
    assert (folder / "pg_ctl").is_file()


def test_missing_postgres_is_an_error_naming_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tools = load_tools_postgres()
    monkeypatch.setattr(tools, "DEBIAN_ROOT", tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert tools.server_bin() is None
    with pytest.raises(tools.ClusterError, match=r"apt-get install postgresql"):  # noqa: SIM117
        with tools.private_cluster():
            pass


def test_the_cluster_listens_on_loopback_only_and_wants_a_password(
    postgres_cluster: PostgresCluster,
) -> None:
    with postgres_cluster.admin() as connection:
        row = connection.execute("SHOW listen_addresses").fetchone()
    assert row == ("127.0.0.1",)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(
            host="127.0.0.1",
            port=postgres_cluster.port,
            user=postgres_cluster.user,
            password="not-the-password",
            dbname="postgres",
        )


def test_each_test_gets_an_empty_database(postgres_url: str) -> None:
    with psycopg.connect(postgres_url) as connection:
        tables = connection.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
    assert tables == (0,)
