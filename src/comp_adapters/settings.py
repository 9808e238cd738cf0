"""Connection settings for adapters: a TOML config file, then environment, then flags.

A config file (``--config``, else ``$COMP_ADAPTERS_CONFIG``, else ``./comp-adapters.toml``
when present) holds one table per adapter::

    [moodle]
    url = "https://moodle.example.org"
    token_env = "MOODLE_TOKEN"   # read the secret from this variable instead

Environment variables ``COMP_ADAPTERS_<ADAPTER>_<NAME>`` override the file, command-line
flags override both. Secrets are better kept out of files: any ``<name>_env`` entry names
the variable to read ``<name>`` from; secrets have no command-line flag on purpose (command
lines end up in shell histories and process lists). Values are never echoed in errors.

Settings shared by every adapter (:data:`SHARED_SETTINGS`, e.g. ``ca_bundle``: a PEM file
of private CA certificates to trust) may also stand at the top of the file, before any
table, or in ``COMP_ADAPTERS_<NAME>``; an adapter's own table or variable wins::

    ca_bundle = "/etc/ssl/private/company-ca.pem"
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import pydantic

from comp_adapters.errors import ConfigurationError

DEFAULT_CONFIG = Path("comp-adapters.toml")
ENV_CONFIG = "COMP_ADAPTERS_CONFIG"
SHARED_SETTINGS = ("ca_bundle",)
"""Settings every adapter takes that may be given once for all (top level, or env)."""

Model = TypeVar("Model", bound=pydantic.BaseModel)


def load_config(path: Path | None = None) -> dict[str, Any]:
    """The parsed config file: the given one, ``$COMP_ADAPTERS_CONFIG``, or ./comp-adapters.toml."""
    explicit = path or (Path(os.environ[ENV_CONFIG]) if os.environ.get(ENV_CONFIG) else None)
    candidate = explicit or DEFAULT_CONFIG
    if not candidate.exists():
        if explicit is not None:
            raise ConfigurationError(f"config file {candidate} not found")
        return {}
    try:
        with candidate.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{candidate}: invalid TOML: {exc}") from None


def _env_prefix(section: str) -> str:
    return f"COMP_ADAPTERS_{section.upper().replace('-', '_')}_"


def _known_sections() -> list[str]:
    """Every registered adapter name: ``COMP_ADAPTERS_MEMORY_RO_TOKEN`` belongs to the
    adapter ``memory-ro``, not to ``memory`` (whose prefix it also starts with)."""
    from comp_adapters.plugins import adapter_names  # noqa: PLC0415 - plugins imports us

    try:
        return adapter_names()
    except Exception:  # noqa: BLE001 - a broken plug-in table must not break settings
        return []


def gather(
    section: str,
    *,
    flags: Mapping[str, Any] | None = None,
    config: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Merge one adapter's settings: config file < environment < non-None flags."""
    environ = os.environ if environ is None else environ
    table = dict((config or {}).get(section, {}))
    shared: dict[str, Any] = {}
    for name in SHARED_SETTINGS:
        value = (config or {}).get(name)
        if value is not None and not isinstance(value, dict):
            shared[name] = value
        variable = f"COMP_ADAPTERS_{name.upper()}"
        if environ.get(variable):
            shared[name] = environ[variable]
    merged: dict[str, Any] = {}
    for name, value in table.items():
        if name.endswith("_env") and isinstance(value, str):
            target = name.removesuffix("_env")
            if value not in environ:
                raise ConfigurationError(
                    f"[{section}] {name} names ${value}, which is not set in the environment"
                )
            merged[target] = environ[value]
        else:
            merged.setdefault(name, value)
    merged = {**shared, **merged}
    prefix = _env_prefix(section)
    longer = [
        other_prefix
        for other_prefix in map(_env_prefix, _known_sections())
        if other_prefix.startswith(prefix) and other_prefix != prefix
    ]
    merged.update(
        {
            variable.removeprefix(prefix).lower(): value
            for variable, value in environ.items()
            if variable.startswith(prefix)
            and value != ""
            and not any(variable.startswith(other) for other in longer)
        }
    )
    merged.update({name: value for name, value in (flags or {}).items() if value is not None})
    return merged


def build_settings(model: type[Model], section: str, values: Mapping[str, Any]) -> Model:
    """Validate merged settings into ``model``; errors name the setting, never its value."""
    try:
        return model.model_validate(dict(values))
    except pydantic.ValidationError as exc:
        prefix = f"COMP_ADAPTERS_{section.upper().replace('-', '_')}_"
        lines = []
        for item in exc.errors(include_url=False, include_input=False):
            name = ".".join(str(part) for part in item["loc"])
            if _is_secret(model, name):
                hint = (
                    f" (set ${prefix}{name.upper()}, or [{section}] {name}_env naming the "
                    "variable that holds it; secrets have no command-line flag)"
                )
            else:
                hint = f" (set [{section}] {name}, ${prefix}{name.upper()} or its option)"
            message = "missing" if item["type"] == "missing" else item["msg"]
            lines.append(f"{section} setting {name!r}: {message}{hint}")
        raise ConfigurationError("; ".join(lines)) from None


def _is_secret(model: type[pydantic.BaseModel], name: str) -> bool:
    """Whether the setting ``name`` holds a secret (a :class:`pydantic.SecretStr`)."""
    found = model.model_fields.get(name)
    return found is not None and "SecretStr" in str(found.annotation)


class AdapterSettings(pydantic.BaseModel):
    """Base of every adapter's settings: unknown keys are refused (a misspelt key is an
    error naming it, never silently ignored) and settings never change once built.

    Secrets are :class:`pydantic.SecretStr` fields: they show as ``**********`` in reprs
    and errors, have no command-line flag, and are read from the environment (directly or
    through a ``<name>_env`` entry naming the variable). A field's ``description`` is the
    help text of its flag and its entry in the config reference.
    """

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


def adapter_settings(
    model: type[Model],
    section: str,
    *,
    flags: Mapping[str, Any] | None = None,
    config: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Model:
    """One adapter's settings, merged in the documented order and validated into ``model``:
    config table < ``COMP_ADAPTERS_<SECTION>_*`` < non-``None`` flags."""
    return build_settings(
        model, section, gather(section, flags=flags, config=config, environ=environ)
    )
