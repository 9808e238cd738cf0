"""Installed as a plug-in, json-dir works from the comp-adapters command line (real
subprocesses, so the entry point is found the way a user's shell finds it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from comp_adapters.core import framework_from_data
from comp_adapters.native import dump_framework, load_framework

BIN = Path(sys.executable).parent / "comp-adapters"
FRAMEWORK = {
    "key": "FW",
    "title": "Plug-in framework",
    "scale": {
        "levels": [{"key": "ok", "name": "OK", "points": 1, "proficient": True}],
        "default_level": "ok",
    },
    "competencies": [{"key": "a", "title": "A"}, {"key": "b", "title": "B", "parent": "a"}],
}


def cli(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMP_ADAPTERS_")}
    return subprocess.run(
        [str(BIN), *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_adapters_lists_the_plugin(tmp_path: Path) -> None:
    done = cli("adapters", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    entry = next(e for e in json.loads(done.stdout) if e["name"] == "json-dir")
    assert entry["origin"] == "plug-in"
    assert entry["reference"] == "comp_json_dir.adapter:JsonDirAdapter"
    assert entry["capabilities"] == ["reads_framework", "writes_framework", "writes_proficiency"]
    assert [s["name"] for s in entry["settings"]] == ["dir", "create"]


def test_push_pull_and_a_saved_plan_end_to_end(tmp_path: Path) -> None:
    source = tmp_path / "fw.json"
    dump_framework(framework_from_data(FRAMEWORK), source)
    target = tmp_path / "target"

    done = cli("push", "json-dir", str(source), "--dir", str(target), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "applied 3 change(s)" in done.stdout
    assert (target / "FW" / "competencies" / "b.json").exists()

    again = cli("push", "json-dir", str(source), "--dir", str(target), "--json", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["report"] is None

    copy = tmp_path / "copy.json"
    pulled = cli(
        "pull",
        "json-dir",
        "--dir",
        str(target),
        "--framework-key",
        "FW",
        "-o",
        str(copy),
        cwd=tmp_path,
    )
    assert pulled.returncode == 0, pulled.stderr
    assert load_framework(copy) == load_framework(source)

    changed = dict(FRAMEWORK, title="Renamed")
    dump_framework(framework_from_data(changed), source)
    plan = tmp_path / "plan.json"
    dry = cli(
        "push",
        "json-dir",
        str(source),
        "--dir",
        str(target),
        "--dry-run",
        "--plan-out",
        str(plan),
        cwd=tmp_path,
    )
    assert dry.returncode == 0, dry.stderr
    assert "update" in dry.stdout
    applied = cli("apply", str(plan), "--set", f"dir={target}", "-v", cwd=tmp_path)
    assert applied.returncode == 0, applied.stderr
    assert json.loads((target / "FW" / "framework.json").read_text())["title"] == "Renamed"
    stale = cli("apply", str(plan), "--set", f"dir={target}", cwd=tmp_path)
    assert stale.returncode == 1
    assert "changed since the plan was made" in stale.stderr
    assert "Traceback" not in stale.stderr


def test_a_capability_it_lacks_is_refused_clearly(tmp_path: Path) -> None:
    done = cli(
        "evidence",
        "json-dir",
        "--dir",
        str(tmp_path),
        "-o",
        str(tmp_path / "e.jsonl"),
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert "adapter json-dir cannot evidence: it does not read evidence" in done.stderr
