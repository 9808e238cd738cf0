"""Shared fixtures of the server tests: the bundled example in a store, keys, a JWT issuer.

The store holds the example's evidence plus three pieces whose visibility hides them from
some viewers (private; learner-only; managers-only), computed with private evidence
counted, so stored results name evidence that the server must not show. Proficiency is
computed twice (:data:`EARLY` with part of the evidence, then :data:`NOW`) so the history
has something to say "as of".
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from comp_adapters.core.evidence import Evidence, Visibility
from comp_adapters.examples import example_dir
from comp_adapters.native import iter_evidence, load_framework
from comp_adapters.reports.policy import Policy, Viewer
from comp_adapters.serve import (
    ApiKeys,
    Authenticator,
    JwtVerifier,
    Organisation,
    ServeSettings,
    create_app,
    file_catalog,
)
from comp_adapters.serve.load import load_and_compute
from comp_adapters.store import Store, open_store

EXAMPLE = example_dir()
EARLY = datetime(2026, 1, 20, tzinfo=UTC)
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
ISSUER = "https://login.example.org/"
AUDIENCE = "comp-adapters-api"

HIDDEN: dict[str, dict[str, Any]] = {
    "ev-private-elif": {
        "learner": "elif.kaya",
        "visibility": Visibility.PRIVATE,
        "note": "PRIVATE-NOTE-ELIF",
    },
    "ev-learner-only-amara": {
        "learner": "amara.okafor",
        "visibility": Visibility.LEARNER,
        "note": "LEARNER-ONLY-NOTE-AMARA",
    },
    "ev-managers-ben": {
        "learner": "ben.schulz",
        "visibility": Visibility.MANAGERS,
        "note": "MANAGERS-NOTE-BEN",
    },
}
"""Evidence that some viewers must never see (id -> learner, visibility, note)."""


def hidden_evidence() -> list[Evidence]:
    return [
        Evidence(
            id=evidence_id,
            learner=spec["learner"],
            competency="comm.listening",
            kind="observation",
            level="expert",
            observed_at=datetime(2026, 2, 10, 9, tzinfo=UTC),
            source_system="coaching-app",
            visibility=spec["visibility"],
            note=spec["note"],
        )
        for evidence_id, spec in HIDDEN.items()
    ]


@dataclass
class Served:
    """A running app (in process) with its store and credentials."""

    app: FastAPI
    client: TestClient
    store: Store
    keys: dict[str, str]
    """Name -> API key text: admin, auditor, julia (manager of Support North), hana
    (manager of Support South), amara (learner), case_only (case.read), none (no scope
    this API has)."""
    signing_key: Any
    kid: str

    def token(self, **claims: Any) -> str:
        """A JWT of the test issuer (claims override the defaults)."""
        now = int(time.time())
        body = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "amara.okafor",
            "iat": now,
            "exp": now + 600,
            "scope": "case.read proficiency.read",
            **claims,
        }
        return jwt.encode(body, self.signing_key, algorithm="RS256", headers={"kid": self.kid})

    def auth(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[name]}"}


def fill_store(store: Store) -> None:
    framework = load_framework(EXAMPLE / "framework.json")
    evidence = list(iter_evidence(EXAMPLE / "evidence.jsonl"))
    early = [e for e in evidence if e.observed_at <= EARLY]
    counted = Policy(count_private=True)
    load_and_compute(store, framework, early, as_of=EARLY, source="early", policy=counted)
    load_and_compute(
        store,
        framework,
        [*evidence, *hidden_evidence()],
        as_of=NOW,
        source="example",
        policy=counted,
    )


def make_keys(store: Store) -> dict[str, str]:
    keys = ApiKeys(store)
    both = ("case.read", "proficiency.read")
    return {
        "admin": keys.add("hr", scopes=both, viewer=Viewer.parse("admin"))[0],
        "auditor": keys.add("audit", scopes=both, viewer=Viewer.parse("auditor"))[0],
        "julia": keys.add("julia", scopes=both, viewer=Viewer.parse("manager:julia.nowak"))[0],
        "hana": keys.add("hana", scopes=both, viewer=Viewer.parse("manager:hana.sato"))[0],
        "amara": keys.add("amara", scopes=both, viewer=Viewer.parse("learner:amara.okafor"))[0],
        "case_only": keys.add("lms", scopes=("case.read",), viewer=Viewer.parse("admin"))[0],
        "prof_only": keys.add("hris", scopes=("proficiency.read",), viewer=Viewer.parse("admin"))[
            0
        ],
    }


def jwks_of(public_key: Any, kid: str) -> dict[str, Any]:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(public_key))
    return {"keys": [{**jwk, "kid": kid, "use": "sig", "alg": "RS256"}]}


@pytest.fixture(scope="session")
def signing_key() -> Any:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def filled_store_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store file filled once per session (tests copy it)."""
    path = tmp_path_factory.mktemp("store") / "state.db"
    with open_store(f"sqlite:///{path}", clock=lambda: NOW) as store:
        fill_store(store)
    return path


def build_served(
    store: Store, keys: dict[str, str], signing_key: Any, folder: Path, **settings: Any
) -> Served:
    kid = "test-key-1"
    jwks = folder / "jwks.json"
    jwks.write_text(json.dumps(jwks_of(signing_key.public_key(), kid)))
    config = ServeSettings(
        frameworks=(EXAMPLE / "framework.json",),
        roles=EXAMPLE / "roles.toml",
        people=EXAMPLE / "people.csv",
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        jwks_file=jwks,
        **settings,
    )
    catalog = file_catalog(list(config.frameworks), public=config.public)
    organisation = Organisation.load(
        config.roles,
        config.people,
        frameworks=[r.framework for r in catalog.frameworks()],
        policy=Policy(count_private=config.count_private),
    )
    app = create_app(
        catalog=catalog,
        store=store,
        organisation=organisation,
        authenticator=Authenticator(keys=ApiKeys(store), jwt_verifier=JwtVerifier(config)),
        clock=lambda: NOW,
    )
    return Served(
        app=app,
        client=TestClient(app),
        store=store,
        keys=keys,
        signing_key=signing_key,
        kid=kid,
    )


@pytest.fixture
def store(filled_store_file: Path, tmp_path: Path) -> Iterator[Store]:
    copy = tmp_path / "state.db"
    copy.write_bytes(filled_store_file.read_bytes())
    with open_store(f"sqlite:///{copy}", clock=lambda: NOW) as opened:
        yield opened


@pytest.fixture
def served(store: Store, signing_key: Any, tmp_path: Path) -> Iterator[Served]:
    built = build_served(store, make_keys(store), signing_key, tmp_path)
    with built.client:
        yield built
