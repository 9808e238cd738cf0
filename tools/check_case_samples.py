#!/usr/bin/env python3
"""Check real CASE packages: each must read into the core model and write back as a CASE
1.1 package that validates against the official CFPackage JSON Schema.

    .venv/bin/python tools/check_case_samples.py DIR_OR_FILE... [--schema SCHEMA.json]

Prints one line per package (items, associations, warnings, competencies, validation) and
exits 1 if any package fails. Needs the dev extra (jsonschema, rfc3339-validator).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import jsonschema

from comp_adapters._files import read_json_file
from comp_adapters.case.package_format import case_json, read_case_data
from comp_adapters.errors import CompAdaptersError

DEFAULT_SCHEMA = (
    Path(__file__).resolve().parent.parent
    / "tests/case/fixtures/schema/case-v1p1-cfpackage-jsonschema.json"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--schema", type=Path, default=DEFAULT_SCHEMA)
    parser.add_argument("-v", "--verbose", action="store_true", help="print every warning")
    args = parser.parse_args()
    validator = jsonschema.Draft201909Validator(
        json.loads(args.schema.read_text()),
        format_checker=jsonschema.Draft201909Validator.FORMAT_CHECKER,
    )
    files = [f for p in args.paths for f in (sorted(p.glob("*.json")) if p.is_dir() else [p])]
    failed = 0
    for path in files:
        try:
            raw = read_json_file(path)
            framework, warnings = read_case_data(raw, source=path.name)
            text, write_warnings = case_json(framework, now=datetime.now(UTC))
        except CompAdaptersError as exc:
            failed += 1
            print(f"{path.name}: FAILED to convert: {exc}")
            continue
        errors = list(validator.iter_errors(json.loads(text)))
        failed += bool(errors)
        items = len(raw.get("CFItems") or [])
        associations = len(raw.get("CFAssociations") or [])
        print(
            f"{path.name}: {items} items, {associations} associations, "
            f"{len(warnings)} read warnings, {len(write_warnings)} write warnings, "
            f"{len(framework.competencies)} competencies; CASE 1.1 output "
            + ("valid" if not errors else f"INVALID ({len(errors)} schema errors)")
        )
        for error in errors[:5]:
            print(f"    schema: {'/'.join(map(str, error.absolute_path))}: {error.message}")
        if args.verbose:
            for warning in [*warnings, *write_warnings]:
                print(f"    {warning}")
    print(f"{len(files) - failed} of {len(files)} packages convert and validate")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
