"""Command-line flags generated from an adapter's settings model.

Each field of an adapter's :class:`~comp_adapters.settings.AdapterSettings` subclass
becomes ``--<field>`` (underscores as dashes) with the field's ``description`` as its help,
so an adapter, built in or installed as a plug-in, contributes its own flags without any
CLI code. Booleans get ``--x/--no-x``; lists take the flag repeatedly; literals and enums
offer their choices. Secrets (:class:`pydantic.SecretStr`) get **no** flag on purpose
(command lines end up in shell histories and process lists): they come from the config file
through ``<name>_env`` or from ``COMP_ADAPTERS_<ADAPTER>_<NAME>``. Fields whose type has no
sensible flag form (tables, nested models) are set in the config file only.

Every flag defaults to ``None`` ("not given"), so
:func:`comp_adapters.settings.adapter_settings` keeps its order: config table <
environment < the flags actually given.
"""

from __future__ import annotations

import argparse
import enum
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic
from pydantic.fields import FieldInfo

from comp_adapters.errors import ConfigurationError
from comp_adapters.settings import AdapterSettings

DEST_PREFIX = "setting__"
"""Flag values land in ``args.setting__<field>``, apart from the verb's own options."""


@dataclass(frozen=True, slots=True)
class SettingFlag:
    """How one settings field is offered on the command line (``flag`` None: it is not)."""

    field: str
    flag: str | None
    kind: str
    """``value``, ``bool``, ``list``, ``secret`` (no flag) or ``config-only`` (no flag)."""
    help: str
    choices: tuple[str, ...] = ()
    convert: Callable[[str], Any] | None = None


def _unwrap_optional(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return members[0]
    return annotation


def is_secret(annotation: Any) -> bool:
    """Whether a field's type holds a secret (SecretStr/SecretBytes, possibly optional)."""
    inner = _unwrap_optional(annotation)
    return isinstance(inner, type) and issubclass(inner, pydantic.SecretStr | pydantic.SecretBytes)


def _scalar(annotation: Any) -> tuple[Callable[[str], Any] | None, tuple[str, ...]] | None:
    """The converter and choices of a scalar type, or None when it has no flag form."""
    if annotation in (str, Path, pydantic.AnyUrl, pydantic.HttpUrl):
        return str, ()
    if annotation is int:
        return int, ()
    if annotation is float:
        return float, ()
    if typing.get_origin(annotation) is typing.Literal:
        values = typing.get_args(annotation)
        if all(isinstance(v, str) for v in values):
            return str, tuple(values)
        return None
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return str, tuple(str(member.value) for member in annotation)
    if isinstance(annotation, type) and issubclass(annotation, str):
        return str, ()
    return None


def _help(info: FieldInfo, field: str, section: str) -> str:
    text = (info.description or field.replace("_", " ")).rstrip(".")
    if not info.is_required() and info.default is not None and not callable(info.default):
        default = info.default.value if isinstance(info.default, enum.Enum) else info.default
        text += f" (default: {default})"
    variable = f"COMP_ADAPTERS_{section.upper().replace('-', '_')}_{field.upper()}"
    return f"{text}; else [{section}] {field} or ${variable}"


def setting_flags(
    model: type[AdapterSettings], section: str, *, taken: frozenset[str] = frozenset()
) -> list[SettingFlag]:
    """How each field of ``model`` is offered; a flag name in ``taken`` (the verb's own
    options) becomes ``--<section>-<field>`` instead."""
    flags: list[SettingFlag] = []
    for field, info in model.model_fields.items():
        annotation = _unwrap_optional(info.annotation)
        help_text = _help(info, field, section)
        name = "--" + field.replace("_", "-")
        if name in taken:
            name = f"--{section}-{field.replace('_', '-')}"
        if is_secret(annotation):
            flags.append(SettingFlag(field, None, "secret", help_text))
            continue
        if annotation is bool:
            flags.append(SettingFlag(field, name, "bool", help_text))
            continue
        origin = typing.get_origin(annotation)
        if origin in (list, tuple, set, frozenset):
            args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
            scalar = _scalar(args[0]) if len(args) == 1 else None
            if scalar is not None:
                convert, choices = scalar
                flags.append(SettingFlag(field, name, "list", help_text, choices, convert))
                continue
        scalar = _scalar(annotation)
        if scalar is None:
            flags.append(SettingFlag(field, None, "config-only", help_text))
            continue
        convert, choices = scalar
        flags.append(SettingFlag(field, name, "value", help_text, choices, convert))
    return flags


def add_setting_flags(
    parser: argparse.ArgumentParser, model: type[AdapterSettings], section: str
) -> list[SettingFlag]:
    """Add the flags of ``model`` to ``parser`` (in a group named after the adapter)."""
    taken = frozenset(parser._option_string_actions)
    group = parser.add_argument_group(
        f"{section} settings",
        "Override the [" + section + "] table of the config file and the environment. "
        "Secrets have no flag: set them in the environment.",
    )
    flags = setting_flags(model, section, taken=taken)
    for item in flags:
        if item.flag is None:
            continue
        dest = DEST_PREFIX + item.field
        if item.kind == "bool":
            group.add_argument(
                item.flag,
                dest=dest,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=item.help,
            )
        elif item.kind == "list":
            group.add_argument(
                item.flag,
                dest=dest,
                action="append",
                default=None,
                type=item.convert or str,
                choices=item.choices or None,
                metavar=_metavar(item),
                help=item.help + " (repeatable)",
            )
        else:
            group.add_argument(
                item.flag,
                dest=dest,
                default=None,
                type=item.convert or str,
                choices=item.choices or None,
                metavar=_metavar(item),
                help=item.help,
            )
    return flags


def _metavar(item: SettingFlag) -> str | None:
    return None if item.choices else item.field.upper()


def flag_values(args: argparse.Namespace) -> dict[str, Any]:
    """The settings given as flags in ``args`` (only those given)."""
    return {
        name.removeprefix(DEST_PREFIX): value
        for name, value in vars(args).items()
        if name.startswith(DEST_PREFIX) and value is not None
    }


def parse_assignments(
    items: list[str], model: type[AdapterSettings], section: str
) -> dict[str, Any]:
    """``NAME=VALUE`` items (``--set``) as settings; secrets and unknown names are refused."""
    known = {flag.field: flag for flag in setting_flags(model, section)}
    values: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not name:
            raise ConfigurationError(f"--set {item!r}: give NAME=VALUE")
        flag = known.get(name)
        if flag is None:
            raise ConfigurationError(
                f"--set {name}: {section} has no such setting (known: {', '.join(known)})"
            )
        if flag.kind == "secret":
            raise ConfigurationError(
                f"--set {name}: secrets cannot be given on the command line; set "
                f"COMP_ADAPTERS_{section.upper().replace('-', '_')}_{name.upper()}"
            )
        if flag.kind == "list":
            values.setdefault(name, []).append(value)
        else:
            values[name] = value
    return values
