"""The adapter packages export their names lazily: each name is the object its module
defines, the names type checkers see are the names exported, and importing a file format
does not import the adapter, its HTTP client or ``requests``."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import comp_adapters

PACKAGES = ("canvas", "case", "moodle", "xapi")
SRC = Path(comp_adapters.__file__).parent


def _type_checking_imports(package: str) -> dict[str, str]:
    tree = ast.parse((SRC / package / "__init__.py").read_text(encoding="utf-8"))
    names: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for statement in node.body:
                assert isinstance(statement, ast.ImportFrom)
                assert statement.module
                names.update({alias.name: statement.module for alias in statement.names})
    return names


@pytest.mark.parametrize("package", PACKAGES)
def test_every_export_is_its_modules_object(package: str) -> None:
    module = importlib.import_module(f"comp_adapters.{package}")
    exports = module._EXPORTS
    assert sorted(module.__all__) == sorted(exports)
    assert _type_checking_imports(package) == exports
    for name, where in exports.items():
        assert getattr(module, name) is getattr(importlib.import_module(where), name)
        assert name in dir(module)


@pytest.mark.parametrize("package", PACKAGES)
def test_an_unknown_name_is_an_attribute_error(package: str) -> None:
    module = importlib.import_module(f"comp_adapters.{package}")
    with pytest.raises(AttributeError, match="no_such_name"):
        module.no_such_name  # noqa: B018


def test_reading_file_formats_imports_no_adapter() -> None:
    code = (
        "import sys\n"
        "import comp_adapters.canvas.csv_format, comp_adapters.case.package_format\n"
        "import comp_adapters.moodle.csv_format, comp_adapters.xapi.files\n"
        "heavy = [m for m in sys.modules if m == 'requests' or m.endswith('.adapter')]\n"
        "print(' '.join(sorted(heavy)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
