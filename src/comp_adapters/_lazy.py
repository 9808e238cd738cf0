"""Package names imported on first use (PEP 562), so that importing one module of a package
does not import all of it.

An adapter package re-exports its adapter, client, formats and settings for convenience,
but a command that only needs a file format (``compute`` reading Canvas CSV, ``convert``)
should not pay for the adapter, its HTTP client and ``requests``: importing
``comp_adapters.canvas.csv_format`` runs ``comp_adapters/canvas/__init__.py`` first. Each
such ``__init__`` names where its exports live and keeps the imports under
``TYPE_CHECKING`` for type checkers; ``tests/test_lazy_exports.py`` checks the two agree.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``: ``exports`` maps each exported name
    to the module defining it. A name is imported when first read, then kept in the
    package's namespace, so later reads are plain attribute reads."""

    def get_attribute(name: str) -> Any:
        module_name = exports.get(name)
        if module_name is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module_name), name)
        setattr(sys.modules[package], name, value)
        return value

    def list_names() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return get_attribute, list_names
