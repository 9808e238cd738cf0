"""The governance commands on a real store, through the real entry point: framework
draft / approve / release / history / show / diff of stored versions, and audit
verify / head / export / attest, with signed heads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine, delete, update

from comp_adapters.cli.main import main
from comp_adapters.governance import content_hash, generate_key_pair
from comp_adapters.governance.audit import parse_entry_lines, verify
from comp_adapters.native import dump_framework, load_framework
from comp_adapters.store import open_store
from comp_adapters.store.schema import audit_log
from comp_adapters.store.url import parse_store_url
from tests.governance.builders import JAN, JUNE, v1, v2


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder as working directory, its store the default one, Lena acting."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("COMP_ADAPTERS_STORE", raising=False)
    monkeypatch.delenv("COMP_ADAPTERS_CONFIG", raising=False)
    monkeypatch.delenv("COMP_ADAPTERS_GOVERNANCE_REQUIRED_APPROVALS", raising=False)
    monkeypatch.setenv("COMP_ADAPTERS_ACTOR", "lena@example.org")
    dump_framework(v1(version="1.0", effective_from=JAN), tmp_path / "support-1.0.json")
    two = v2().model_copy(update={"version": "2.0", "effective_from": JUNE})
    dump_framework(two, tmp_path / "support-2.0.json")
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_release_history_show_and_idempotency(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "framework", "release", "support-1.0.json", "--rationale", "first")
    assert code == 0
    digest = content_hash(load_framework("support-1.0.json"))[:12]
    assert out == (
        f"released SUPPORT@1.0 [{digest}], effective 2026-01-01T00:00:00Z, by lena@example.org "
        "(audit entry 1)\n"
    )
    assert (project / ".comp-adapters" / "state.db").is_file()  # the default store
    code, out, _ = run(capsys, "framework", "release", "support-1.0.json", "--rationale", "again")
    assert code == 0
    assert out.startswith(f"SUPPORT@1.0 [{digest}] is released already with this content")
    assert out.endswith(": nothing changed\n")

    code, out, _ = run(capsys, "framework", "history", "SUPPORT")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "Framework SUPPORT: 1 version(s)"
    assert lines[1].split() == [
        "VERSION",
        "STATUS",
        "EFFECTIVE",
        "FROM",
        "HASH",
        "AUTHOR",
        "APPROVED",
        "BY",
    ]
    assert lines[2].split() == [
        "1.0",
        "released",
        "2026-01-01T00:00:00Z",
        digest,
        "lena@example.org",
        "-",
    ]
    assert lines[4] == "    rationale: first"
    code, out, _ = run(capsys, "framework", "history", "SUPPORT", "--json")
    [record] = json.loads(out)
    assert (record["version"], record["status"], record["rationale"]) == (
        "1.0",
        "released",
        "first",
    )

    code, out, _ = run(capsys, "framework", "show", "SUPPORT@1.0")
    assert code == 0
    assert out.splitlines()[0] == "SUPPORT@1.0  released"
    assert "  competencies    4" in out.splitlines()
    code, out, _ = run(capsys, "framework", "show", "SUPPORT@1.0", "--json")
    data = json.loads(out)
    assert data["version"]["content_hash"].startswith(digest)
    assert data["framework"]["key"] == "SUPPORT"
    code, _, err = run(capsys, "framework", "show", "SUPPORT@1.0", "-o", "copy.yaml")
    assert code == 0
    assert err == "wrote SUPPORT@1.0 to copy.yaml\n"
    assert content_hash(load_framework("copy.yaml")).startswith(digest)


def test_changing_a_released_version_is_refused(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "framework", "release", "support-1.0.json", "--rationale", "a")[0] == 0
    dump_framework(v1(version="1.0", effective_from=JAN, title="Other"), project / "edited.json")
    code, out, err = run(capsys, "framework", "release", "edited.json", "--rationale", "b")
    assert code == 1
    assert out == ""
    assert err.startswith("error: SUPPORT@1.0 was released on ")
    assert "a released version never changes" in err
    code, _, err = run(capsys, "framework", "release", "support-2.0.json")
    assert code == 1
    assert "a release needs a rationale" in err


def test_the_approval_workflow_with_a_project_policy(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "comp-adapters.toml").write_text("[governance]\nrequired_approvals = 1\n")
    code, out, _ = run(capsys, "framework", "draft", "support-2.0.json", "--rationale", "split")
    assert code == 0
    assert out.startswith("drafted SUPPORT@2.0 [")
    assert "it needs 1 approval(s) by others before release" in out
    code, _, err = run(capsys, "framework", "release", "support-2.0.json")
    assert code == 1
    assert "SUPPORT@2.0 needs 1 approval by identities other than its author" in err
    code, _, err = run(capsys, "framework", "approve", "SUPPORT@2.0", "--actor", "LENA@example.org")
    assert code == 1
    assert "cannot approve it: approval must come from another identity" in err
    code, out, _ = run(capsys, "framework", "approve", "SUPPORT@2.0", "--actor", "omar")
    assert code == 0
    assert "as omar: 1 of 1 approval; release it with comp-adapters framework release" in out
    code, out, _ = run(capsys, "framework", "release", "SUPPORT@2.0")
    assert code == 0
    assert "released SUPPORT@2.0" in out
    assert "approved by omar" in out
    code, out, _ = run(capsys, "audit", "export", "-o", "-")
    kinds = [json.loads(line)["kind"] for line in out.splitlines()]
    assert kinds == ["draft", "approval", "release"]
    code, out, _ = run(capsys, "framework", "release", "SUPPORT@2.0")
    assert code == 0
    assert "is released already with this content" in out
    code, _, err = run(capsys, "framework", "release", "SUPPORT@2.0", "--rationale", "x")
    assert code == 2
    assert "names a stored draft: it is released as drafted" in err
    code, _, err = run(capsys, "framework", "approve", "SUPPORT@7", "--actor", "omar")
    assert code == 1
    assert err == "error: no version '7' of framework 'SUPPORT' in the store; it holds 2.0\n"
    code, _, err = run(capsys, "framework", "approve", "SUPPORT", "--actor", "omar")
    assert code == 2
    assert "'SUPPORT' is not a stored version: expected KEY@VERSION" in err


def test_the_policy_is_checked_and_has_no_flag(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "comp-adapters.toml").write_text("[governance]\nrequired_approvals = -1\n")
    code, _, err = run(capsys, "framework", "draft", "support-2.0.json", "--rationale", "x")
    assert code == 2
    assert "governance setting 'required_approvals'" in err
    (project / "comp-adapters.toml").write_text("[governance]\nrequired_aprovals = 1\n")
    code, _, err = run(capsys, "framework", "draft", "support-2.0.json", "--rationale", "x")
    assert code == 2
    assert "required_aprovals" in err  # a typo is an error, not a policy silently off


def test_diff_accepts_stored_versions(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "framework", "release", "support-1.0.json", "--rationale", "first")
    run(capsys, "framework", "draft", "support-2.0.json", "--rationale", "split")
    code, out, _ = run(capsys, "framework", "diff", "SUPPORT@1.0", "SUPPORT@2.0")
    assert code == 0
    assert out.splitlines()[0].startswith("Framework SUPPORT: 1.0 [")
    assert "  replaced      comm          replaced by comm.written, comm.verbal (split)" in out
    code, out, _ = run(capsys, "framework", "diff", "support-1.0.json", "SUPPORT@1.0", "--json")
    assert json.loads(out)["competencies"] == []
    code, _, err = run(capsys, "framework", "diff", "SUPPORT@1.0", "SUPPORT@3.0")
    assert code == 1
    assert err == (
        "error: SUPPORT@3.0: no version '3.0' of framework 'SUPPORT' in store "
        "sqlite+pysqlite:///.comp-adapters/state.db (it holds 1.0, 2.0)\n"
    )


def test_read_only_commands_never_create_a_store(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in (
        ["framework", "history", "SUPPORT"],
        ["framework", "show", "SUPPORT@1.0"],
        ["audit", "verify"],
        ["audit", "head"],
        ["audit", "export", "-o", "out.jsonl"],
    ):
        code, _, err = run(capsys, *argv)
        assert code == 2, argv
        assert "there is no store at sqlite+pysqlite:///.comp-adapters/state.db" in err
    assert not (project / ".comp-adapters").exists()
    assert not (project / "out.jsonl").exists()


def test_store_and_actor_from_the_environment(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{project / 'elsewhere.db'}"
    monkeypatch.setenv("COMP_ADAPTERS_STORE", url)
    monkeypatch.setenv("COMP_ADAPTERS_ACTOR", "  ci-bot ")
    code, out, _ = run(capsys, "framework", "release", "support-1.0.json", "--rationale", "x")
    assert code == 0
    assert "by ci-bot (audit entry 1)" in out
    assert (project / "elsewhere.db").is_file()
    assert not (project / ".comp-adapters").exists()
    code, out, _ = run(
        capsys, "audit", "attest", "--text", "reviewed", "--actor", "auditor", "--store", url
    )
    assert code == 0
    assert out.startswith("attested as auditor: audit entry 2 [")


def test_effective_from_and_label_flags(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dump_framework(v1(), project / "unlabelled.json")
    code, out, _ = run(
        capsys,
        "framework",
        "release",
        "unlabelled.json",
        "--rationale",
        "x",
        "--effective-from",
        "2026-02-01",
        "--label",
        "2026.1",
    )
    assert code == 0
    assert "released SUPPORT@2026.1 [" in out
    assert "effective 2026-02-01T00:00:00Z" in out
    code, _, err = run(
        capsys,
        "framework",
        "release",
        "unlabelled.json",
        "--rationale",
        "x",
        "--effective-from",
        "2026-03-01T10:00",
    )
    assert code == 2
    assert err.startswith("error: --effective-from: '2026-03-01T10:00' has no time zone")


def test_audit_verify_reports_tampering_with_exit_1(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "framework", "release", "support-1.0.json", "--rationale", "first")
    run(capsys, "framework", "draft", "support-2.0.json", "--rationale", "split")
    run(capsys, "framework", "approve", "SUPPORT@2.0", "--actor", "omar")
    run(capsys, "audit", "attest", "--text", "checked the import")
    code, out, _ = run(capsys, "audit", "verify")
    assert code == 0
    assert out.startswith("audit log intact: 4 entries, head 4:")
    code, out, _ = run(capsys, "audit", "head")
    kept = out.strip()
    assert kept.startswith("4:")
    engine = create_engine(parse_store_url("sqlite:///.comp-adapters/state.db").url)
    with engine.begin() as connection:
        connection.execute(update(audit_log).where(audit_log.c.seq == 2).values(actor="mallory"))
    code, out, _ = run(capsys, "audit", "verify")
    assert code == 1
    assert out.startswith("audit log TAMPERED: entry 2 (position 1): edited: ")
    code, out, _ = run(capsys, "audit", "verify", "--json")
    assert code == 1
    data = json.loads(out)
    assert (data["ok"], data["problem"]["kind"], data["problem"]["seq"]) == (False, "edited", 2)
    code, _, err = run(capsys, "audit", "head")
    assert code == 1
    assert "the audit log does not verify" in err
    with engine.begin() as connection:  # undo, then cut the tail
        connection.execute(
            update(audit_log).where(audit_log.c.seq == 2).values(actor="lena@example.org")
        )
        connection.execute(delete(audit_log).where(audit_log.c.seq == 4))
    engine.dispose()
    assert run(capsys, "audit", "verify")[0] == 0
    code, out, _ = run(capsys, "audit", "verify", "--head", kept)
    assert code == 1
    assert out.startswith("audit log TAMPERED: entry 4 (position 3): truncated: ")
    code, _, err = run(capsys, "audit", "verify", "--head", "4:nothex")
    assert code == 1
    assert "not a chain head '4:nothex'" in err


def test_signed_heads(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    private_pem, public_pem = generate_key_pair(password=b"s3cret")
    (project / "audit.pem").write_bytes(private_pem)
    (project / "audit.pub").write_bytes(public_pem)
    _, other_public = generate_key_pair()
    (project / "other.pub").write_bytes(other_public)
    run(capsys, "framework", "release", "support-1.0.json", "--rationale", "first")
    code, _, err = run(capsys, "audit", "head", "--sign-key", "audit.pem", "-o", "head.json")
    assert code == 2
    assert "the key is encrypted and needs its password" in err
    assert not (project / "head.json").exists()
    monkeypatch.setenv("AUDIT_KEY_PASSWORD", "s3cret")
    code, _, err = run(
        capsys,
        "audit",
        "head",
        "--sign-key",
        "audit.pem",
        "--key-password-env",
        "AUDIT_KEY_PASSWORD",
        "--actor",
        "auditor@example.org",
        "-o",
        "head.json",
    )
    assert code == 0
    assert err.startswith("wrote head 1:")
    signed = json.loads((project / "head.json").read_text())
    assert (signed["signer"], signed["head"]["seq"]) == ("auditor@example.org", 1)
    assert "s3cret" not in (project / "head.json").read_text()
    code, out, _ = run(
        capsys, "audit", "verify", "--head", "head.json", "--verify-key", "audit.pub"
    )
    assert code == 0
    assert "matches the head 1:" in out
    assert "signed by auditor@example.org" in out
    code, out, _ = run(
        capsys, "audit", "verify", "--head", "head.json", "--verify-key", "other.pub"
    )
    assert code == 1
    assert "bad_signature" in out
    signed["head"]["seq"] = 2
    (project / "forged.json").write_text(json.dumps(signed))
    code, out, _ = run(
        capsys, "audit", "verify", "--head", "forged.json", "--verify-key", "audit.pub"
    )
    assert code == 1
    assert "bad_signature" in out
    code, _, err = run(capsys, "audit", "verify", "--head", "head.json")
    assert code == 2
    assert "is a file: a signed head is checked with --verify-key" in err


def test_export_writes_json_lines_that_verify(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "framework", "release", "support-1.0.json", "--rationale", "first")
    run(capsys, "audit", "attest", "--text", "one")
    run(capsys, "audit", "attest", "--text", "two")
    code, _, err = run(capsys, "audit", "export", "-o", "log.jsonl")
    assert code == 0
    assert err == "wrote 3 audit entries to log.jsonl\n"
    lines = (project / "log.jsonl").read_text().splitlines()
    entries = parse_entry_lines(lines, source="log.jsonl")
    assert verify(entries).ok
    with open_store("sqlite:///.comp-adapters/state.db") as store:
        assert entries == store.audit_entries()
    code, out, _ = run(capsys, "audit", "verify", "--input", "log.jsonl")
    assert code == 0
    assert out.startswith("audit log intact: 3 entries, head 3:")
    edited = lines[1].replace('"one"', '"One"')
    assert edited != lines[1]
    (project / "edited.jsonl").write_text("\n".join([lines[0], edited, lines[2]]) + "\n")
    code, out, _ = run(capsys, "audit", "verify", "--input", "edited.jsonl")
    assert code == 1
    assert out.startswith("audit log TAMPERED: entry 2 (position 1): edited: ")
    (project / "broken.jsonl").write_text(lines[0] + "\n{not json\n")
    code, _, err = run(capsys, "audit", "verify", "--input", "broken.jsonl")
    assert code == 1
    assert "broken.jsonl:2" in err
    code, _, _ = run(capsys, "audit", "export", "-o", "tail.jsonl", "--after", "2")
    assert [json.loads(x)["seq"] for x in (project / "tail.jsonl").read_text().splitlines()] == [3]
    code, _, err = run(capsys, "audit", "attest", "--text", "  ")
    assert code == 2
    assert "say what is attested" in err


def test_audit_verify_on_postgresql(
    postgres_url: str, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = ["--store", postgres_url]
    assert (
        run(capsys, "framework", "release", "support-1.0.json", "--rationale", "a", *store)[0] == 0
    )
    assert run(capsys, "audit", "attest", "--text", "checked", *store)[0] == 0
    code, out, _ = run(capsys, "audit", "verify", *store)
    assert code == 0
    assert out.startswith("audit log intact: 2 entries")
    engine = create_engine(parse_store_url(postgres_url).url)
    with engine.begin() as connection:
        connection.execute(delete(audit_log).where(audit_log.c.seq == 1))
    engine.dispose()
    code, out, err = run(capsys, "audit", "verify", *store)
    assert code == 1
    assert "entry 1" in out
    assert "deleted" in out
    password = parse_store_url(postgres_url).url.password
    assert password
    assert str(password) not in out + err
