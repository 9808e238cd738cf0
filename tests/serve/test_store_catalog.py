"""Serving the framework versions released in the store (governance) instead of files."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from comp_adapters.native import load_framework
from comp_adapters.serve import ServeSettings, app_from_settings
from comp_adapters.serve.catalog import StoreCatalog, document_id_of
from comp_adapters.store import Store
from tests.case.conftest import assert_valid_case
from tests.case.test_roundtrip import strip_case

from .conftest import EXAMPLE, NOW, make_keys

V11 = "/ims/case/v1p1"


def release(
    store: Store, framework: Any, *, at: Any, version: str, effective_from: Any = None
) -> None:
    store.release_version(
        framework,
        rationale="for the tests",
        actor="ann",
        at=at,
        version=version,
        effective_from=effective_from,
    )


def test_the_version_in_force_is_served(store: Store, tmp_path: Path) -> None:
    framework = load_framework(EXAMPLE / "framework.json")
    release(store, framework, at=NOW - timedelta(days=30), version="1.0")
    catalog = StoreCatalog(store, clock=lambda: NOW, refresh_s=0)
    [served] = catalog.frameworks()
    assert served.framework == framework
    assert served.document_id == document_id_of(framework)
    assert catalog.by_document_id(served.document_id) is served
    later = NOW + timedelta(days=30)
    retitled = framework.model_copy(
        update={
            "title": "Customer support, 2026 edition",
            "version": "2.0",
            "effective_from": later,
        }
    )
    release(store, retitled, at=NOW - timedelta(days=1), version="2.0", effective_from=later)
    [still] = catalog.frameworks()
    assert still is served  # 2.0 is not in force yet
    catalog.clock = lambda: later
    [newer] = catalog.frameworks()
    assert newer.framework.title == "Customer support, 2026 edition"
    assert newer.document_id == served.document_id  # one framework, one CASE document


def test_comp_adapters_serve_released(store: Store, tmp_path: Path) -> None:
    framework = load_framework(EXAMPLE / "framework.json")
    release(store, framework, at=NOW - timedelta(days=30), version="1.0")
    keys = make_keys(store)
    settings = ServeSettings(
        released=True, roles=EXAMPLE / "roles.toml", people=EXAMPLE / "people.csv"
    )
    app = app_from_settings(settings, store=store, clock=lambda: NOW)
    auth = {"Authorization": f"Bearer {keys['admin']}"}
    with TestClient(app) as client:
        documents = client.get(f"{V11}/CFDocuments", headers=auth).json()["CFDocuments"]
        [document] = documents
        package = client.get(f"{V11}/CFPackages/{document['identifier']}", headers=auth).json()
        assert_valid_case(package)
        from comp_adapters.case.package_format import read_case_data  # noqa: PLC0415

        back, _ = read_case_data(package)
        assert strip_case(back) == framework
        learner = client.get(
            "/api/v1/frameworks/CS-SUPPORT/learners/diego.ramos/proficiency", headers=auth
        )
        assert learner.status_code == 200
        assert learner.json()["proficiency"]
        assert client.get("/api/v1/frameworks/CS-SUPPORT/coverage", headers=auth).status_code == 200


def test_nothing_released_serves_nothing(store: Store) -> None:
    keys = make_keys(store)
    app = app_from_settings(ServeSettings(released=True), store=store, clock=lambda: NOW)
    with TestClient(app) as client:
        answer = client.get(f"{V11}/CFDocuments", headers={"X-API-Key": keys["admin"]})
        assert answer.status_code == 200
        assert answer.json() == {"CFDocuments": []}
