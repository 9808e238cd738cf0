"""What the governance commands (``framework …``, ``audit …``) share: which store, who is
acting, the project's approval policy, and ``KEY@VERSION`` references.

- The store: ``--store URL``, else ``$COMP_ADAPTERS_STORE``, else the project's embedded
  store ``sqlite:///.comp-adapters/state.db``. Commands that only read never create one: a
  SQLite file that does not exist is an error naming it, not a new empty store.
- Who: ``--actor``, else ``$COMP_ADAPTERS_ACTOR``, else the operating-system user.
- The policy: the ``[governance]`` table of the config file (``--config``, else
  ``$COMP_ADAPTERS_CONFIG``, else ``./comp-adapters.toml``) or
  ``$COMP_ADAPTERS_GOVERNANCE_REQUIRED_APPROVALS``; deliberately no command-line flag, so
  the person releasing cannot lower it for themselves.
"""

from __future__ import annotations

import argparse
import getpass
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from comp_adapters.core.timeutil import parse_user_instant
from comp_adapters.errors import ConfigurationError
from comp_adapters.governance.approvals import ApprovalPolicy
from comp_adapters.governance.settings import GovernanceSettings
from comp_adapters.settings import build_settings, gather, load_config

if TYPE_CHECKING:
    from comp_adapters.store import Store

DEFAULT_STORE = "sqlite:///.comp-adapters/state.db"
ENV_STORE = "COMP_ADAPTERS_STORE"
ENV_ACTOR = "COMP_ADAPTERS_ACTOR"
SECTION = "governance"


def add_store_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        metavar="URL",
        help=f"the state store (default: ${ENV_STORE}, else {DEFAULT_STORE})",
    )


def add_actor_option(parser: argparse.ArgumentParser, *, what: str = "who does this") -> None:
    parser.add_argument(
        "--actor",
        metavar="WHO",
        help=f"{what} (default: ${ENV_ACTOR}, else the operating-system user)",
    )


def add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        help="config file with the [governance] table (default: comp-adapters.toml)",
    )


def store_url(args: argparse.Namespace) -> str:
    given: str | None = getattr(args, "store", None)
    return given or os.environ.get(ENV_STORE) or DEFAULT_STORE


def open_cli_store(args: argparse.Namespace, *, create: bool, reading: str | None = None) -> Store:
    """Open the store the command names; ``create=False``: a SQLite file that does not
    exist is refused instead of created (a command that reads has nothing to read).
    ``reading`` names what is to be read from it, for that error."""
    try:
        from comp_adapters.store import open_store  # noqa: PLC0415 - optional extra
        from comp_adapters.store.url import parse_store_url  # noqa: PLC0415
    except ImportError as exc:
        raise ConfigurationError(
            f"the state store needs the optional dependencies ({exc.name} is missing): "
            "pip install 'comp-adapters[store]'"
        ) from None
    url = store_url(args)
    parsed = parse_store_url(url)
    if not create and parsed.path is not None and not parsed.path.exists():
        prefix = f"{reading}: not a file, and there is " if reading else "there is "
        raise ConfigurationError(
            f"{prefix}no store at {parsed.redacted} to read from (the file {parsed.path} "
            f"does not exist): give --store or ${ENV_STORE}, or release a framework first"
        )
    return open_store(url)


def actor(args: argparse.Namespace) -> str:
    """Who is acting: ``--actor``, ``$COMP_ADAPTERS_ACTOR`` or the OS user."""
    given: str | None = getattr(args, "actor", None)
    if given is not None and given.strip():
        return given.strip()
    from_env = os.environ.get(ENV_ACTOR, "").strip()
    if from_env:
        return from_env
    try:
        user = getpass.getuser().strip()
    except (OSError, KeyError):  # no login name in the environment or the user database
        user = ""
    if not user:
        raise ConfigurationError(f"who is acting is unknown: give --actor or set ${ENV_ACTOR}")
    return user


def governance_settings(args: argparse.Namespace) -> GovernanceSettings:
    config = load_config(getattr(args, "config", None))
    return build_settings(GovernanceSettings, SECTION, gather(SECTION, config=config))


def policy(args: argparse.Namespace) -> ApprovalPolicy:
    return governance_settings(args).policy()


def now() -> datetime:
    return datetime.now(UTC)


def user_instant(text: str | None, *, option: str) -> datetime | None:
    """A date or date-time a person typed, or ``None``; errors name the option."""
    if text is None:
        return None
    try:
        return parse_user_instant(text)
    except ValueError as exc:
        raise ConfigurationError(f"{option}: {exc}") from None


def looks_like_reference(text: str) -> bool:
    """Whether ``text`` has the shape ``KEY@VERSION`` (no path separators)."""
    key, sep, label = text.rpartition("@")
    return (
        bool(sep and key and label)
        and not any(c in text for c in "/\\")
        and not any(c.isspace() for c in (text[0], text[-1]))
    )


def split_reference(text: str) -> tuple[str, str]:
    """``KEY@VERSION`` as (key, label), or a ConfigurationError showing the shape."""
    if not looks_like_reference(text):
        raise ConfigurationError(
            f"{text!r} is not a stored version: expected KEY@VERSION, e.g. SUPPORT@2.0"
        )
    key, _, label = text.rpartition("@")
    return key, label


__all__ = [
    "DEFAULT_STORE",
    "ENV_ACTOR",
    "ENV_STORE",
    "GovernanceSettings",
    "actor",
    "add_actor_option",
    "add_config_option",
    "add_store_option",
    "governance_settings",
    "looks_like_reference",
    "now",
    "open_cli_store",
    "policy",
    "split_reference",
    "store_url",
    "user_instant",
]
