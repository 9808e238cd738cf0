"""Files from outside stay small: zip bombs, YAML alias bombs, deep JSON, CSV formulas."""

from __future__ import annotations

import json
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from comp_adapters._files import excel_safe_cell, read_json_file
from comp_adapters.canvas.cartridge_format import MEMBER, read_cartridge
from comp_adapters.cli.main import main
from comp_adapters.errors import FatalRemoteError, ValidationError
from comp_adapters.examples import example_dir
from comp_adapters.http import HttpTransport
from comp_adapters.native import load_framework
from tests.hardening.servers import LocalServer

EXAMPLE = example_dir() / "framework.json"


def test_a_zip_bomb_cartridge_is_refused_without_inflating_it(tmp_path: Path) -> None:
    bomb = tmp_path / "course.imscc"
    block = b"<x>" + b" " * (1024 * 1024 - 7) + b"</x>"
    with (
        zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as package,
        package.open(MEMBER, "w", force_zip64=True) as member,
    ):
        for _ in range(600):  # 600 MB of XML, about 600 KB packed
            member.write(block)
    assert bomb.stat().st_size < 2 * 1024 * 1024
    tracemalloc.start()
    try:
        with pytest.raises(ValidationError, match="larger than 32 MB once unpacked"):
            read_cartridge(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 100 * 1024 * 1024


def test_a_member_that_lies_about_its_size_is_stopped_while_inflating(tmp_path: Path) -> None:
    bomb = tmp_path / "course.imscc"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as package:
        package.writestr(MEMBER, b" " * (40 * 1024 * 1024))
    data = bytearray(bomb.read_bytes())
    # Patch the declared uncompressed size (central directory and local header) to 1 KB.
    info = zipfile.ZipFile(bomb).getinfo(MEMBER)
    real = info.file_size.to_bytes(4, "little")
    data = data.replace(real, (1024).to_bytes(4, "little"))
    bomb.write_bytes(bytes(data))
    with pytest.raises(ValidationError, match=r"larger than|damaged"):
        read_cartridge(bomb)


def test_a_yaml_alias_bomb_is_refused_at_the_first_alias(tmp_path: Path) -> None:
    lines = ['format: "comp-adapters/framework@1"', "key: FW", "title: T", 'a0: &a0 ["lol"]']
    lines += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]" for n in range(1, 12)]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    assert path.stat().st_size < 4096
    with pytest.raises(ValidationError, match=r"aliases \(\*a0\) are not allowed") as raised:
        load_framework(path)
    assert "bomb.yaml:5" in str(raised.value)


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_deep_nesting_is_a_located_error(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"deep{suffix}"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ValidationError, match="nested too deeply") as raised:
        load_framework(path)
    assert str(path) in str(raised.value)


def test_a_deep_cursor_file_is_a_located_error(tmp_path: Path) -> None:
    path = tmp_path / "cursor.json"
    path.write_text('{"a":' * 50_000 + "1" + "}" * 50_000)
    with pytest.raises(ValidationError, match=r"nested too deeply.*line 1"):
        read_json_file(path)


def test_a_deep_server_answer_is_a_remote_error_not_a_crash(home: LocalServer) -> None:
    home.route("/api/deep", lambda x: x.reply(200, "[" * 100_000 + "]" * 100_000))
    http = HttpTransport(adapter="t", base_url=home.url + "/api/", allow_http=True)
    response = http.request("GET", "deep", operation="read")
    with pytest.raises(ValueError, match="nested too deeply"):
        response.json()


def test_a_deep_evidence_line_is_a_located_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "evidence.jsonl"
    path.write_text('{"id": "x", "note": ' + "[" * 50_000 + "]" * 50_000 + "}\n")
    assert main(["validate", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"{path}:1" in err
    assert "internal error" not in err


@pytest.mark.parametrize(
    ("cell", "safe"),
    [
        ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
        ("+SUM(A1:A2)", "'+SUM(A1:A2)"),
        ("-1+1", "'-1+1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tTab", "'\tTab"),
        ("\rCR", "'\rCR"),
        ("Plain title", "Plain title"),
        ("", ""),
    ],
)
def test_excel_safe_cells(cell: str, safe: str) -> None:
    assert excel_safe_cell(cell) == safe


def formula_framework(tmp_path: Path) -> Path:
    data = json.loads(EXAMPLE.read_text())
    data["competencies"][0]["title"] = '=HYPERLINK("https://evil.example","click")'
    data["competencies"][1]["description"] = "@SUM(1+1)"
    path = tmp_path / "fw.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("fmt", ["canvas-csv", "moodle-csv"])
def test_excel_safe_csv_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    source = formula_framework(tmp_path)
    safe, plain = tmp_path / "safe.csv", tmp_path / "plain.csv"
    assert main(["convert", str(source), "-o", str(safe), "--to", fmt, "--excel-safe"]) == 0
    assert main(["convert", str(source), "-o", str(plain), "--to", fmt]) == 0
    capsys.readouterr()
    assert "'=HYPERLINK(" in safe.read_text(encoding="utf-8-sig")
    assert "'@SUM(1+1)" in safe.read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK(" not in plain.read_text()  # for an LMS import: text as it is


def test_excel_safe_is_on_by_default_with_a_bom_for_excel(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = formula_framework(tmp_path)
    out = tmp_path / "excel.csv"
    argv = ["convert", str(source), "-o", str(out), "--to", "canvas-csv", "--canvas-bom", "yes"]
    assert main(argv) == 0
    text = out.read_text(encoding="utf-8")
    assert text.startswith("\ufeff")
    assert "'=HYPERLINK(" in text
    assert main([*argv, "--no-excel-safe"]) == 0
    assert "'=HYPERLINK(" not in out.read_text(encoding="utf-8")
    capsys.readouterr()


def test_the_unused_http_error_import_is_real() -> None:
    assert issubclass(FatalRemoteError, Exception)
