from __future__ import annotations

from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from comp_adapters.errors import ConfigurationError, ValidationError
from comp_adapters.plugins import (
    ADAPTER_GROUP,
    FORMAT_GROUP,
    NO_PLUGINS_ENV,
    FileFormat,
    Origin,
    adapter_entries,
    adapter_names,
    detect_format,
    format_for_output,
    format_names,
    get_adapter,
    get_format,
    load_adapter_class,
)
from comp_adapters.protocols import Capability


def test_native_format_is_registered_and_detected(tmp_path: Path) -> None:
    assert "native" in format_names()
    native = get_format("native")
    assert isinstance(native, FileFormat)
    path = tmp_path / "fw.json"
    path.write_text('{"format": "comp-adapters/framework@1", "key": "x"}')
    assert detect_format(path).name == "native"
    assert format_for_output(tmp_path / "out.json").name == "native"


def test_undetectable_files_ask_for_a_format(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(ConfigurationError, match="give it with --from"):
        detect_format(path)
    with pytest.raises(ConfigurationError, match="give it with --to"):
        format_for_output(tmp_path / "out.xyz")
    with pytest.raises(ValidationError, match="file not found"):
        detect_format(tmp_path / "absent.json")


def test_unknown_adapter_lists_the_known_ones() -> None:
    with pytest.raises(ConfigurationError, match="unknown adapter 'nope'"):
        load_adapter_class("nope")


def test_every_registered_adapter_declares_its_capabilities() -> None:
    for name in adapter_names():
        adapter_class = load_adapter_class(name)
        assert adapter_class.name == name
        assert isinstance(adapter_class.capabilities, frozenset)
        assert adapter_class.capabilities <= set(Capability)


def test_output_format_preference_for_shared_suffixes(tmp_path: Path) -> None:
    shared = tmp_path / "out.csv"
    assert format_for_output(shared, prefer="moodle-csv").name == "moodle-csv"
    assert format_for_output(shared, prefer="canvas-csv").name == "canvas-csv"
    with pytest.raises(ConfigurationError, match="matching: canvas-csv, moodle-csv"):
        format_for_output(shared)
    assert format_for_output(tmp_path / "out.json", prefer="case").name == "case"
    assert format_for_output(tmp_path / "out.json").name == "native"


class DummyAdapter:
    """A third-party adapter as a plug-in package would register it."""

    name = "dummy"
    capabilities = frozenset({Capability.READS_FRAMEWORK})


DUMMY_FORMAT = FileFormat(
    name="dummy-txt",
    description="a plug-in format",
    suffixes=(".dummy",),
    sniff=lambda _path, head: head.startswith(b"DUMMY"),
    read=lambda _path: pytest.fail("not read in this test"),
    write=lambda *_args, **_options: None,
)


def test_entry_point_plugins_are_found(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    points = {
        ADAPTER_GROUP: [EntryPoint("dummy", f"{__name__}:DummyAdapter", ADAPTER_GROUP)],
        FORMAT_GROUP: [EntryPoint("dummy-txt", f"{__name__}:DUMMY_FORMAT", FORMAT_GROUP)],
    }
    monkeypatch.setattr("comp_adapters.plugins.entry_points", lambda group: points.get(group, []))
    assert "dummy" in adapter_names()
    assert load_adapter_class("dummy") is DummyAdapter
    assert "dummy-txt" in format_names()
    path = tmp_path / "x.dummy"
    path.write_text("DUMMY framework")
    assert detect_format(path) is DUMMY_FORMAT


def test_a_broken_plugin_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = [EntryPoint("broken", "no_such_module:Thing", ADAPTER_GROUP)]
    monkeypatch.setattr(
        "comp_adapters.plugins.entry_points",
        lambda group: broken if group == ADAPTER_GROUP else [],
    )
    assert "broken" in adapter_names()  # listing never imports
    with pytest.raises(ConfigurationError, match="cannot load adapter 'broken'"):
        load_adapter_class("broken")


# --- the registry: get_adapter checks the contract, adapter_entries never crashes -------


def _registry(monkeypatch: pytest.MonkeyPatch, **references: str) -> None:
    points = [EntryPoint(name, ref, ADAPTER_GROUP) for name, ref in references.items()]
    monkeypatch.setattr(
        "comp_adapters.plugins.entry_points",
        lambda group: points if group == ADAPTER_GROUP else [],
    )


def test_get_adapter_returns_a_class_that_keeps_the_contract(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _registry(monkeypatch, memory="tests.testing.memory_adapter:MemoryAdapter")
    from tests.testing.memory_adapter import MemoryAdapter  # noqa: PLC0415

    assert get_adapter("memory") is MemoryAdapter
    entry = next(e for e in adapter_entries() if e.name == "memory")
    assert entry.origin is Origin.PLUGIN
    assert not entry.broken
    assert entry.capabilities == frozenset(Capability)


def test_get_adapter_names_everything_a_class_lacks(monkeypatch: pytest.MonkeyPatch) -> None:
    _registry(monkeypatch, dummy=f"{__name__}:DummyAdapter")
    with pytest.raises(ConfigurationError) as caught:
        get_adapter("dummy")
    message = str(caught.value)
    assert "adapter 'dummy'" in message
    assert "settings_model" in message
    assert "from_settings" in message
    assert "read_framework() (required by reads_framework)" in message


class Misnamed:
    name = "other"
    capabilities = frozenset({"writes_everything"})


def test_get_adapter_refuses_a_wrong_name_and_unknown_capabilities(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _registry(monkeypatch, misnamed=f"{__name__}:Misnamed", notaclass=f"{__name__}:DUMMY_FORMAT")
    with pytest.raises(ConfigurationError, match=r"name = 'misnamed'.*'writes_everything'"):
        get_adapter("misnamed")
    with pytest.raises(ConfigurationError, match="does not point at a class"):
        get_adapter("notaclass")


def test_broken_plugins_are_listed_with_their_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    _registry(
        monkeypatch,
        broken="no_such_module:Thing",
        dummy=f"{__name__}:DummyAdapter",
        exploding="tests.exploding_plugin:Adapter",
    )
    entries = {entry.name: entry for entry in adapter_entries()}
    assert entries["broken"].broken
    assert "cannot load adapter 'broken'" in (entries["broken"].error or "")
    assert entries["dummy"].broken
    assert "settings_model" in (entries["dummy"].error or "")
    assert "RuntimeError: this plug-in fails on import" in (entries["exploding"].error or "")
    assert all(entries[name].origin is Origin.PLUGIN for name in ("broken", "dummy"))
    assert {n for n, e in entries.items() if e.origin is Origin.BUILTIN} >= {"moodle", "canvas"}


def test_no_plugins_variable_ignores_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    _registry(monkeypatch, dummy=f"{__name__}:DummyAdapter")
    assert "dummy" in adapter_names()
    monkeypatch.setenv(NO_PLUGINS_ENV, "1")
    assert "dummy" not in adapter_names()
    with pytest.raises(ConfigurationError, match="unknown adapter 'dummy'"):
        get_adapter("dummy")
