"""Access: credentials (API keys, JWTs), scopes, the viewer policy on every answer, and that
no hidden evidence (ids, notes) and no credential ever shows."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from comp_adapters.reports.policy import Viewer
from comp_adapters.serve import ApiKeys
from comp_adapters.store import Store

from .conftest import HIDDEN, Served, build_served, make_keys

API = "/api/v1/frameworks/CS-SUPPORT"
LEARNERS = (
    "amara.okafor",
    "ben.schulz",
    "chloe.martin",
    "diego.ramos",
    "elif.kaya",
    "farah.haddad",
    "george.lee",
    "ivan.petrov",
    "hana.sato",
    "julia.nowak",
)


def status(served: Served, path: str, headers: dict[str, str] | None = None) -> int:
    return served.client.get(path, headers=headers or {}).status_code


def test_no_credential_is_401_everywhere_but_healthz(served: Served) -> None:
    document = served.client.get("/ims/case/v1p1/CFDocuments", headers=served.auth("admin"))
    identifier = document.json()["CFDocuments"][0]["identifier"]
    for path in (
        "/api/v1/frameworks",
        f"{API}/learners",
        f"{API}/learners/amara.okafor/proficiency",
        f"{API}/coverage",
        "/ims/case/v1p1/CFDocuments",
        f"/ims/case/v1p1/CFPackages/{identifier}",
        "/ims/case/v1p1/CFItems/00000000-0000-4000-8000-000000000000",
    ):
        answer = served.client.get(path)
        assert answer.status_code == 401, path
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert served.client.get("/healthz").json() == {"status": "ok"}


def test_invalid_credentials_are_401(served: Served) -> None:
    for header in (
        {"Authorization": "Bearer cak_0123456789abcdef_" + "x" * 43},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer not-a-jwt"},
        {"X-API-Key": served.keys["admin"][:-1] + "A"},
        {"Authorization": "Bearer " + served.token(aud="someone-else")},
        {"Authorization": "Bearer " + served.token(iss="https://evil.example/")},
        {"Authorization": "Bearer " + served.token(exp=int(time.time()) - 3600)},
    ):
        assert status(served, f"{API}/learners", header) == 401, header


def test_a_jwt_signed_by_another_key_is_refused(served: Served) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = served.token()
    import jwt  # noqa: PLC0415

    claims = jwt.decode(forged, options={"verify_signature": False})
    token = jwt.encode(claims, other, algorithm="RS256", headers={"kid": served.kid})
    assert status(served, f"{API}/learners", {"Authorization": f"Bearer {token}"}) == 401
    hs = jwt.encode(claims, "s" * 40, algorithm="HS256", headers={"kid": served.kid})
    assert status(served, f"{API}/learners", {"Authorization": f"Bearer {hs}"}) == 401


def test_wrong_scope_is_403(served: Served) -> None:
    assert status(served, f"{API}/learners", served.auth("case_only")) == 403
    assert status(served, "/ims/case/v1p1/CFDocuments", served.auth("prof_only")) == 403
    token = served.token(scope="case.read")
    assert status(served, f"{API}/learners", {"Authorization": f"Bearer {token}"}) == 403
    answer = served.client.get(f"{API}/learners", headers=served.auth("case_only"))
    assert 'error="insufficient_scope"' in answer.headers["WWW-Authenticate"]


def test_a_jwt_reads_as_its_subject_or_its_viewer_claim(served: Served) -> None:
    learner = {"Authorization": "Bearer " + served.token(sub="amara.okafor")}
    assert status(served, f"{API}/learners/amara.okafor/proficiency", learner) == 200
    assert status(served, f"{API}/learners/ben.schulz/proficiency", learner) == 403
    manager = {
        "Authorization": "Bearer "
        + served.token(sub="julia", comp_adapters_viewer="manager:julia.nowak")
    }
    assert status(served, f"{API}/learners/ben.schulz/proficiency", manager) == 200
    assert status(served, f"{API}/learners/elif.kaya/proficiency", manager) == 403
    listed = served.client.get(f"{API}/learners", headers=learner).json()
    assert [item["learner"] for item in listed["items"]] == ["amara.okafor"]


def test_a_manager_cannot_read_another_teams_learner(served: Served) -> None:
    for learner in ("elif.kaya", "farah.haddad", "george.lee", "hana.sato", "julia.nowak"):
        for route in ("proficiency", "gaps"):
            path = f"{API}/learners/{learner}/{route}"
            assert status(served, path, served.auth("julia")) == 403, path
    assert status(served, f"{API}/learners/nobody.at.all/proficiency", served.auth("julia")) == 403
    for learner in ("amara.okafor", "ben.schulz", "chloe.martin", "diego.ramos"):
        assert status(served, f"{API}/learners/{learner}/proficiency", served.auth("julia")) == 200
    assert status(served, f"{API}/learners/elif.kaya/proficiency", served.auth("hana")) == 200


def every_answer(served: Served, who: str) -> list[str]:
    """The bodies of every GET route this viewer may call (and the ones it may not)."""
    auth = served.auth(who)
    paths = [
        "/ims/case/v1p1/CFDocuments",
        "/api/v1/frameworks",
        f"{API}/learners?limit=1000",
        f"{API}/learners?limit=1000&as_of=2026-02-20T00:00:00Z",
        f"{API}/coverage",
    ]
    for learner in LEARNERS:
        paths.extend(
            f"{API}/learners/{learner}/{route}"
            for route in (
                "proficiency",
                "proficiency?as_of=2026-02-20T00:00:00Z",
                "gaps?include_met=true",
                "gaps?include_met=true&as_of=2026-02-20T00:00:00Z",
            )
        )
    return [served.client.get(path, headers=auth).text for path in paths]


VISIBLE_TO: dict[str, set[str]] = {
    "admin": {"ev-managers-ben"},
    "auditor": {"ev-managers-ben", "ev-learner-only-amara"},
    "julia": {"ev-managers-ben"},
    "hana": set(),
    "amara": {"ev-learner-only-amara"},
}
"""Which hidden evidence each viewer may be shown (private: nobody, auditors neither)."""


@pytest.mark.parametrize("who", sorted(VISIBLE_TO))
def test_no_hidden_evidence_in_any_answer(served: Served, who: str) -> None:
    text = "\n".join(every_answer(served, who))
    for evidence_id, spec in HIDDEN.items():
        if evidence_id in VISIBLE_TO[who]:
            continue
        assert evidence_id not in text, (who, evidence_id)
        assert spec["note"] not in text, (who, spec["note"])


def test_stored_results_do_name_the_hidden_evidence(served: Served) -> None:
    """The test above would prove nothing if the results did not rest on that evidence."""
    named = {
        i for r in served.store.latest_proficiency("CS-SUPPORT") for i in r.result.evidence_ids
    }
    assert set(HIDDEN) <= named


def test_visible_evidence_is_shown_where_allowed(served: Served) -> None:
    amara = served.client.get(
        f"{API}/learners/amara.okafor/proficiency", headers=served.auth("amara")
    ).json()
    shown = {i for p in amara["proficiency"] for i in p["evidence_ids"]}
    assert "ev-learner-only-amara" in shown
    ben = served.client.get(
        f"{API}/learners/ben.schulz/gaps?include_met=true", headers=served.auth("julia")
    ).text
    assert "MANAGERS-NOTE-BEN" in ben


def test_a_withheld_result_has_no_explanation(served: Served) -> None:
    body = served.client.get(
        f"{API}/learners/elif.kaya/proficiency", headers=served.auth("admin")
    ).json()
    [listening] = [p for p in body["proficiency"] if p["competency"] == "comm.listening"]
    assert listening["explanation"] is None
    assert "ev-private-elif" not in listening["evidence_ids"]


def test_public_frameworks_are_served_without_credential(
    store: Store, signing_key: Any, tmp_path: Path
) -> None:
    served = build_served(store, make_keys(store), signing_key, tmp_path, public=("CS-SUPPORT",))
    with served.client:
        listed = served.client.get("/ims/case/v1p1/CFDocuments")
        assert listed.status_code == 200
        identifier = listed.json()["CFDocuments"][0]["identifier"]
        assert status(served, f"/ims/case/v1p1/CFPackages/{identifier}") == 200
        assert status(served, f"{API}/learners") == 401  # proficiency is never public
        bad = {"Authorization": "Bearer cak_0123456789abcdef_" + "x" * 43}
        assert status(served, "/ims/case/v1p1/CFDocuments", bad) == 401


def test_revoked_keys_stop_working(served: Served) -> None:
    keys = ApiKeys(served.store)
    text, record = keys.add("temp", scopes=["proficiency.read"], viewer=Viewer.parse("admin"))
    assert keys.verify(text) == record
    assert keys.revoke("temp") == 1
    assert keys.verify(text) is None
    assert [k.name for k in keys.list() if k.revoked_at is not None] == ["temp"]


def test_keys_are_stored_hashed(served: Served) -> None:
    import sqlite3  # noqa: PLC0415

    path = served.store.url.path
    assert path is not None
    dump = "\n".join(sqlite3.connect(path).iterdump())
    for key in served.keys.values():
        secret = key[len("cak_0123456789abcdef_") :]
        assert secret not in dump


def test_access_log_names_the_principal_never_the_credential(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    token = served.token()
    with caplog.at_level(logging.INFO, logger="comp_adapters.serve.access"):
        served.client.get(f"{API}/learners?token=abc", headers={"Authorization": f"Bearer {token}"})
        served.client.get(f"{API}/learners", headers=served.auth("julia"))
        served.client.get(f"{API}/learners", headers={"X-API-Key": served.keys["admin"]})
    text = caplog.text
    assert '"who":"jwt:amara.okafor"' in text
    assert '"who":"key:julia"' in text
    assert "token=***" in text
    assert token not in text
    for key in served.keys.values():
        assert key not in text
        assert key[len("cak_0123456789abcdef_") :] not in text
