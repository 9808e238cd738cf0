"""The Python examples of docs/rules.md and docs/scaling.md run as written."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from comp_adapters.examples import example_dir
from comp_adapters.native import iter_evidence, load_framework
from tests.conftest import AS_OF

ROOT = Path(__file__).resolve().parents[1]


def blocks(page: str) -> list[str]:
    text = (ROOT / "docs" / page).read_text()
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


@pytest.mark.parametrize("page", ["rules.md", "scaling.md"])
def test_docs_python_examples_run(
    page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = blocks(page)
    assert found, f"{page} shows Python examples"
    folder = example_dir()
    shutil.copy(folder / "evidence.jsonl", tmp_path / "evidence.jsonl")
    monkeypatch.chdir(tmp_path)
    namespace = {
        "framework": load_framework(folder / "framework.json"),
        "evidence": list(iter_evidence(folder / "evidence.jsonl")),
        "as_of": AS_OF,
    }
    for block in found:
        exec(compile(block, page, "exec"), namespace)  # noqa: S102 - our own documentation
