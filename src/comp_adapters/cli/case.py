"""``comp-adapters case``: list the frameworks of a CASE provider, fetch one as a file.

Connection settings come from the ``[case]`` table of the config file, the environment
(``COMP_ADAPTERS_CASE_TOKEN``, ``..._CLIENT_ID``, ``..._CLIENT_SECRET``, ``..._TOKEN_URL``,
``..._SCOPE``) and the flags below; secrets are never taken from flags.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from comp_adapters._files import atomic_write
from comp_adapters.case.adapter import CaseAdapter
from comp_adapters.case.mapping import package_to_framework
from comp_adapters.case.settings import CaseSettings, load_settings
from comp_adapters.cli.core_commands import print_warnings
from comp_adapters.errors import ConfigurationError
from comp_adapters.plugins import FileFormat, get_format
from comp_adapters.settings import load_config


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    case = subparsers.add_parser(
        "case",
        help="read frameworks from an IMS CASE provider",
        description="Read frameworks from an IMS CASE provider (/ims/case/v1p0 or v1p1). "
        "Credentials: the [case] table of the config file or COMP_ADAPTERS_CASE_* variables.",
    )
    commands = case.add_subparsers(dest="case_command", metavar="COMMAND", required=True)

    listing = commands.add_parser("list", help="list the provider's frameworks (CFDocuments)")
    _connection_flags(listing)
    listing.add_argument("--json", action="store_true", help="print JSON lines")
    listing.set_defaults(handler=cmd_list)

    get = commands.add_parser(
        "get",
        help="fetch one framework (CFPackage) and write it to a file",
        description="Fetch the CFPackage of DOC_ID and write it in a format the project "
        "knows: CASE 1.1 JSON by default (validated by the official schema), or --to "
        "FORMAT; --raw writes the provider's JSON exactly as received.",
    )
    _connection_flags(get)
    get.add_argument("doc_id", metavar="DOC_ID", help="the CFDocument identifier")
    get.add_argument("-o", "--output", type=Path, required=True)
    get.add_argument("--to", dest="to_format", default="case", help="output format (default case)")
    get.add_argument(
        "--case-version", choices=("1.0", "1.1"), default="1.1", help="CASE version to write"
    )
    get.add_argument("--raw", action="store_true", help="write the provider's JSON as received")
    get.add_argument("--json", action="store_true", help="print what was written as JSON")
    get.set_defaults(handler=cmd_get)


def _help(name: str) -> str | None:
    """A flag's help: the description of its setting (one text for flag and config)."""
    return CaseSettings.model_fields[name].description


def _connection_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", metavar="URL", help=_help("url"))
    parser.add_argument("--config", type=Path, help="config file (default comp-adapters.toml)")
    parser.add_argument(
        "--version", dest="case_api_version", choices=("auto", "1.0", "1.1"), help=_help("version")
    )
    parser.add_argument("--client-id", help=_help("client_id"))
    parser.add_argument("--token-url", help=_help("token_url"))
    parser.add_argument("--scope", help=_help("scope"))
    parser.add_argument("--page-size", type=int, help=_help("page_size"))
    parser.add_argument("--allow-http", action="store_true", default=None, help=_help("allow_http"))


def _adapter(args: argparse.Namespace) -> CaseAdapter:
    flags: dict[str, Any] = {
        "url": args.url,
        "version": args.case_api_version,
        "client_id": args.client_id,
        "token_url": args.token_url,
        "scope": args.scope,
        "page_size": args.page_size,
        "allow_http": args.allow_http,
    }
    settings = load_settings(flags=flags, config=load_config(args.config))
    return CaseAdapter.from_settings(settings)


def cmd_list(args: argparse.Namespace) -> int:
    adapter = _adapter(args)
    count = 0
    for document in adapter.list_frameworks():
        count += 1
        if args.json:
            print(json.dumps(document.model_dump(mode="json", exclude_none=True)))
        else:
            version = f" v{document.version}" if document.version else ""
            status = f" [{document.adoption_status}]" if document.adoption_status else ""
            print(f"{document.identifier}  {document.title}{version}{status}")
    print_warnings(adapter.warnings)
    if not args.json:
        print(f"{count} framework{'s' if count != 1 else ''}", file=sys.stderr)
    return 0


def cmd_get(args: argparse.Namespace) -> int:
    target: FileFormat | None = None if args.raw else get_format(args.to_format)
    adapter = _adapter(args)
    if args.raw:
        data = adapter.client.get_package_data(args.doc_id)
        with atomic_write(args.output) as handle:
            handle.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        if args.json:
            print(json.dumps({"doc_id": args.doc_id, "output": str(args.output), "format": "raw"}))
        else:
            print(f"{args.doc_id} -> {args.output} (as received)")
        return 0
    if target is None:  # pragma: no cover - set above unless --raw
        raise ConfigurationError("no output format")
    package = adapter.read_package(args.doc_id)
    framework, problems = package_to_framework(package, source=f"CFPackages/{args.doc_id}")
    options = {"case_version": args.case_version} if target.name == "case" else {}
    written = target.write_reporting(framework, args.output, **options)
    print_warnings([*adapter.warnings, *problems, *written])
    if args.json:
        summary = {
            "doc_id": args.doc_id,
            "output": str(args.output),
            "format": target.name,
            "competencies": len(framework.competencies),
        }
        print(json.dumps(summary))
        return 0
    print(
        f"{args.doc_id} -> {args.output} ({target.name}): "
        f"{len(framework.competencies)} competencies"
    )
    return 0
