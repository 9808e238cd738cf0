"""Opening a store: creation, migrations, refusing newer stores, URLs without secrets."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import column, create_engine, make_url, table, update

from comp_adapters.errors import ConfigurationError, StoreError
from comp_adapters.store import DEFAULT_URL, open_store, redact_store_url
from comp_adapters.store.migrate import head_revision
from comp_adapters.store.schema import VERSION_TABLE, metadata
from comp_adapters.store.url import parse_store_url


def _engine_url(url: str) -> str:
    return parse_store_url(url).url.render_as_string(hide_password=False)


def test_sqlite_file_and_folder_are_created_on_first_use(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "state.db"
    with open_store(f"sqlite:///{path}") as store:
        assert store.backend == "sqlite"
        assert store.revision == head_revision()
    assert path.is_file()


def test_default_url_is_a_file_in_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert DEFAULT_URL == "sqlite:///.comp-adapters/state.db"
    with open_store() as store:
        store.journal().record("plan", "c1", {})
    assert (tmp_path / ".comp-adapters" / "state.db").is_file()


def test_reopening_keeps_the_data_and_the_revision(store_url: str) -> None:
    with open_store(store_url) as first:
        first.journal().record("plan", "c1", {"id": 7})
    with open_store(store_url) as second:
        assert second.revision == head_revision()
        assert second.journal().completed("plan") == {"c1": {"id": 7}}


def test_migrated_schema_matches_the_tables_the_code_uses(store_url: str) -> None:
    open_store(store_url).close()
    engine = create_engine(_engine_url(store_url))
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "version_table": VERSION_TABLE}
            )
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()


def test_a_store_written_by_a_newer_version_is_refused(store_url: str) -> None:
    open_store(store_url).close()
    engine = create_engine(_engine_url(store_url))
    with engine.begin() as connection:
        connection.execute(
            update(table(VERSION_TABLE, column("version_num"))).values(version_num="f00d")
        )
    engine.dispose()
    with pytest.raises(StoreError) as caught:
        open_store(store_url)
    message = str(caught.value)
    assert "'f00d'" in message
    assert "newer comp-adapters" in message
    assert f"up to {head_revision()!r}" in message


def test_two_processes_creating_one_store_at_once_both_succeed(store_url: str) -> None:
    script = (
        "import sys\n"
        "from comp_adapters.store import open_store\n"
        "store = open_store(sys.argv[1])\n"
        "store.journal().record('plan', sys.argv[2], {})\n"
        "store.close()\n"
    )
    workers = [
        subprocess.Popen([sys.executable, "-c", script, store_url, f"c{n}"], stderr=subprocess.PIPE)
        for n in range(3)
    ]
    errors = [worker.communicate(timeout=120)[1] for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0, 0], errors
    with open_store(store_url) as store:
        assert set(store.journal().completed("plan")) == {"c0", "c1", "c2"}


@pytest.mark.parametrize(
    "url",
    [
        "mysql://user@host/db",
        "sqlite://",
        "sqlite:///:memory:",
        "postgresql+psycopg2://user@host/db",
        "postgresql://user@host",
        "not a url",
    ],
)
def test_unusable_urls_are_configuration_errors(url: str) -> None:
    with pytest.raises(ConfigurationError, match="store url"):
        open_store(url)


def test_postgres_urls_use_psycopg_3() -> None:
    assert parse_store_url("postgresql://u@h/db").url.drivername == "postgresql+psycopg"
    assert parse_store_url("postgres://u@h/db").url.drivername == "postgresql+psycopg"


def test_passwords_never_show() -> None:
    url = "postgresql://ann:s3cr3t-pw@db.example:5432/state?sslpassword=k3y-pw"
    shown = redact_store_url(url)
    assert "s3cr3t-pw" not in shown
    assert "k3y-pw" not in shown
    assert shown.startswith("postgresql://ann:***@db.example:5432/state")
    assert "s3cr3t-pw" not in repr(parse_store_url(url))
    with pytest.raises(ConfigurationError) as caught:
        open_store("mysql://ann:s3cr3t-pw@host/db")
    assert "s3cr3t-pw" not in str(caught.value)


def test_repr_and_errors_of_a_real_postgres_store_hide_its_password(postgres_url: str) -> None:
    password = str(make_url(postgres_url).password)
    with open_store(postgres_url) as store:
        assert password not in repr(store)
        assert password not in repr(store.journal())
    wrong = postgres_url.replace(password, password + "-wrong")
    with pytest.raises(StoreError) as caught:
        open_store(wrong)
    message = str(caught.value)
    assert "password authentication failed" in message
    assert password not in message
    assert "***" in message


def test_an_unreachable_postgres_is_a_store_error() -> None:
    import socket  # noqa: PLC0415

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(StoreError, match="opening the store failed"):
        open_store(f"postgresql://nobody:pw-9876@127.0.0.1:{port}/db")


def test_a_folder_that_cannot_be_made_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match="cannot create its folder"):
        open_store(f"sqlite:///{blocker}/sub/state.db")
