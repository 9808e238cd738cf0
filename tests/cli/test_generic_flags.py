"""Flags generated from settings models: one per field, help from its description, none
for secrets, choices for literals and enums, repeatable lists, renamed on collision."""

from __future__ import annotations

import argparse
from enum import StrEnum
from typing import Literal

import pytest
from pydantic import Field, SecretStr

from comp_adapters.cli.settings_flags import (
    add_setting_flags,
    flag_values,
    parse_assignments,
    setting_flags,
)
from comp_adapters.errors import ConfigurationError
from comp_adapters.settings import AdapterSettings


class Mode(StrEnum):
    FAST = "fast"
    SAFE = "safe"


class Example(AdapterSettings):
    url: str = Field(description="Site root.")
    password: SecretStr | None = Field(default=None, description="The password")
    retries: int = Field(default=3, description="How often to retry")
    verify: bool = Field(default=True, description="Check certificates")
    mode: Mode = Field(default=Mode.SAFE, description="How to write")
    user_field: Literal["email", "username"] = Field(default="email", description="Match by")
    learners: tuple[str, ...] = Field(default=(), description="Learners to read")
    headers: dict[str, str] = Field(default_factory=dict, description="Extra headers")
    dry_run: str | None = Field(default=None, description="Clashes with the verb's --dry-run")


def parser() -> argparse.ArgumentParser:
    built = argparse.ArgumentParser(prog="t")
    built.add_argument("--json", action="store_true")
    built.add_argument("--dry-run", action="store_true")
    add_setting_flags(built, Example, "example")
    return built


def test_each_field_gets_the_flag_its_type_calls_for() -> None:
    flags = {flag.field: flag for flag in setting_flags(Example, "example")}
    assert flags["password"].flag is None
    assert flags["password"].kind == "secret"
    assert flags["headers"].kind == "config-only"
    assert flags["mode"].choices == ("fast", "safe")
    assert flags["user_field"].flag == "--user-field"
    assert flags["learners"].kind == "list"
    assert flags["retries"].help.startswith("How often to retry (default: 3); else [example]")
    assert "$COMP_ADAPTERS_EXAMPLE_RETRIES" in flags["retries"].help


def test_parsed_flags_are_only_those_given() -> None:
    args = parser().parse_args(
        ["--url", "https://x", "--no-verify", "--learners", "a", "--learners", "b", "--json"]
    )
    assert args.json is True
    assert flag_values(args) == {"url": "https://x", "verify": False, "learners": ["a", "b"]}
    assert flag_values(parser().parse_args([])) == {}
    settings = Example.model_validate(
        flag_values(parser().parse_args(["--url", "u", "--retries", "5", "--example-dry-run", "j"]))
    )
    assert settings.retries == 5
    assert settings.dry_run == "j"


def test_help_lists_descriptions_and_no_secret(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parser().parse_args(["--help"])
    out = capsys.readouterr().out
    assert "Site root" in out
    assert "--verify, --no-verify" in out
    assert "{fast,safe}" in out
    assert "--password" not in out
    assert "--headers" not in out
    with pytest.raises(SystemExit):
        parser().parse_args(["--mode", "reckless"])


def test_assignments_refuse_secrets_and_unknown_names() -> None:
    assert parse_assignments(["url=u", "learners=a", "learners=b"], Example, "example") == {
        "url": "u",
        "learners": ["a", "b"],
    }
    with pytest.raises(ConfigurationError, match="secrets cannot be given"):
        parse_assignments(["password=p"], Example, "example")
    with pytest.raises(ConfigurationError, match="has no such setting"):
        parse_assignments(["nope=1"], Example, "example")
    with pytest.raises(ConfigurationError, match="NAME=VALUE"):
        parse_assignments(["url"], Example, "example")
