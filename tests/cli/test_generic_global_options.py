"""Global options after the command name, and the documented exit-code table."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import ClassVar

import pytest

from comp_adapters.cli import main as cli_main
from comp_adapters.cli.main import EXIT_CODES, build_parser, leaf_parsers, main
from comp_adapters.core import Framework, framework_from_data
from comp_adapters.native import dump_framework
from comp_adapters.sync import Plan
from tests.conftest import framework_data
from tests.testing.memory_adapter import TARGETS, MemoryAdapter


class Buggy(MemoryAdapter):
    name: ClassVar[str] = "buggy"

    def plan_framework(self, framework: Framework, *, prune: bool = False) -> Plan:
        logging.getLogger("tests.buggy").info("planning (info)")
        raise RuntimeError("a bug in the adapter")


@pytest.fixture(autouse=True)
def registry(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr("comp_adapters.plugins.BUILTIN_ADAPTERS", {"buggy": f"{__name__}:Buggy"})
    monkeypatch.setenv("COMP_ADAPTERS_NO_PLUGINS", "1")
    monkeypatch.setenv("COMP_ADAPTERS_BUGGY_TOKEN", "t")
    monkeypatch.chdir(tmp_path)
    TARGETS.clear()


@pytest.fixture
def framework_file(tmp_path: Path) -> Path:
    path = tmp_path / "fw.json"
    dump_framework(framework_from_data(framework_data()), path)
    return path


def test_every_command_takes_the_global_options_after_its_name() -> None:
    parser = build_parser()
    leaves = leaf_parsers(parser)
    assert len(leaves) > 10
    for leaf in leaves:
        for flag in ("-v", "--verbose", "--quiet", "--debug"):
            assert flag in leaf._option_string_actions, f"{leaf.prog} lacks {flag}"


def test_options_after_the_command_count_and_before_are_kept() -> None:
    parser = build_parser()
    args = parser.parse_args(["validate", "x.json", "-v", "-v", "--debug"])
    assert (args.verbose, args.debug, args.quiet) == (2, True, False)
    args = parser.parse_args(["--debug", "-q", "validate", "x.json"])
    assert (args.verbose, args.debug, args.quiet) == (0, True, True)
    args = parser.parse_args(["compute", "-q"])
    assert args.quiet is True
    args = parser.parse_args(["-q", "compute"])
    assert args.quiet is True, "compute's own --quiet does not undo the global one"


def test_debug_after_the_command_shows_the_traceback(
    capsys: pytest.CaptureFixture[str], framework_file: Path
) -> None:
    argv = ["push", "buggy", str(framework_file), "--space", "s"]
    assert main(argv) == 70
    assert "internal error: RuntimeError: a bug in the adapter" in capsys.readouterr().err
    with pytest.raises(RuntimeError, match="a bug in the adapter"):
        main([*argv, "--debug"])


def test_verbose_after_the_command_sets_the_log_level(
    monkeypatch: pytest.MonkeyPatch, framework_file: Path
) -> None:
    levels: list[int] = []
    monkeypatch.setattr(cli_main.logging, "basicConfig", lambda **kw: levels.append(kw["level"]))
    argv = ["push", "buggy", str(framework_file), "--space", "s"]
    main([*argv, "-v"])
    main([*argv, "-vv"])
    main([*argv, "-q"])
    assert levels == [logging.INFO, logging.DEBUG, logging.ERROR]


def test_exit_codes_are_a_documented_table(capsys: pytest.CaptureFixture[str]) -> None:
    codes = [code for code, _ in EXIT_CODES]
    assert codes == [0, 1, 2, 3, 70, 130]
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for code, meaning in EXIT_CODES:
        assert f"{code:>3}  {meaning}" in out


def test_an_adapter_name_given_as_a_command_points_at_the_verbs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """What a new user tries first (issue 13): ``comp-adapters buggy`` says how to use it."""
    with pytest.raises(SystemExit) as caught:
        main(["buggy"])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "'buggy' is an adapter: give it after a verb" in err
    assert "comp-adapters push buggy FRAMEWORK_FILE" in err
    with pytest.raises(SystemExit):
        main(["nonsense"])
    assert "is an adapter" not in capsys.readouterr().err
