"""The native file formats: a framework as one JSON (or YAML) document, evidence as JSON lines.

Framework files are canonical when written: competencies depth first, parents before
children, free-form maps sorted, instants in UTC with ``Z``, defaults left out. Writing the
same framework twice gives the same bytes, so files diff cleanly under version control.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import pydantic

from comp_adapters._files import atomic_write, parse_json_text, read_json_file
from comp_adapters.core.evidence import Evidence
from comp_adapters.core.framework import Framework
from comp_adapters.core.proficiency import Proficiency
from comp_adapters.core.validation import framework_from_data
from comp_adapters.errors import ConfigurationError, Problem, ValidationError

FORMAT_MARK = "comp-adapters/framework@1"
"""Value of the ``format`` member that marks a native framework document."""

_FREE_FORM_MAPS = frozenset({"external_ids", "properties"})
_YAML_SUFFIXES = frozenset({".yaml", ".yml"})


def framework_schema() -> dict[str, Any]:
    """JSON Schema of the native framework document."""
    schema = Framework.model_json_schema(mode="validation")
    schema["properties"] = {
        "$schema": {"type": "string"},
        "format": {"const": FORMAT_MARK},
        **schema["properties"],
    }
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "comp_adapters framework"
    return schema


def framework_to_data(framework: Framework) -> dict[str, Any]:
    """The canonical JSON-ready form of a framework (what :func:`dump_framework` writes)."""
    data = framework.canonical().model_dump(mode="json", exclude_defaults=True)
    return {"format": FORMAT_MARK, **_sort_free_form_maps(data)}


def _sort_free_form_maps(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: (
                dict(sorted(item.items()))
                if key in _FREE_FORM_MAPS and isinstance(item, dict)
                else _sort_free_form_maps(item)
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_sort_free_form_maps(item) for item in value]
    return value


def framework_from_document(data: Any, *, source: str | None = None) -> Framework:
    """Build a framework from a parsed native document (``format``/``$schema`` allowed)."""
    if isinstance(data, dict):
        mark = data.get("format", FORMAT_MARK)
        if mark != FORMAT_MARK:
            raise ValidationError(
                [Problem(f"unknown format {mark!r}, expected {FORMAT_MARK!r}", file=source)]
            )
        data = {k: v for k, v in data.items() if k not in ("format", "$schema")}
    return framework_from_data(data, source=source)


def load_framework(path: str | Path) -> Framework:
    """Read a native framework file (JSON; YAML with the ``yaml`` extra).

    Raises :class:`~comp_adapters.errors.ValidationError` listing every problem, each
    located by file, competency key and field.
    """
    source = str(path)
    if Path(path).suffix.lower() in _YAML_SUFFIXES:
        data = _read_yaml(Path(path))
    else:
        data = read_json_file(path)
    return framework_from_document(data, source=source)


def dumps_framework(framework: Framework) -> str:
    """The canonical JSON text of a framework."""
    return json.dumps(framework_to_data(framework), indent=2, ensure_ascii=False) + "\n"


def dump_framework(framework: Framework, path: str | Path) -> None:
    """Write a framework canonically (JSON, or YAML for ``.yaml``/``.yml``), atomically."""
    target = Path(path)
    if target.suffix.lower() in _YAML_SUFFIXES:
        yaml = _yaml_module()
        text = yaml.safe_dump(framework_to_data(framework), sort_keys=False, allow_unicode=True)
    else:
        text = dumps_framework(framework)
    with atomic_write(target) as handle:
        handle.write(text)


def _yaml_module() -> Any:
    try:
        import yaml  # noqa: PLC0415 - optional dependency
    except ImportError:
        raise ConfigurationError(
            "YAML needs the optional dependency: pip install 'comp-adapters[yaml]'"
        ) from None
    return yaml


def _no_alias_loader(yaml: Any) -> Any:
    """A safe YAML loader that refuses aliases (``*name``).

    A framework file has no use for them, and a few KB of nested aliases expand to
    gigabytes (the "billion laughs"); refusing them at the first one keeps reading linear.
    """

    class NoAliasLoader(yaml.SafeLoader):  # type: ignore[misc]
        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"aliases (*{event.anchor}) are not allowed in framework files; "
                    "write the value out",
                    event.start_mark,
                )
            return super().compose_node(parent, index)

    return NoAliasLoader


def _read_yaml(path: Path) -> Any:
    yaml = _yaml_module()
    try:
        with path.open(encoding="utf-8") as handle:
            return yaml.load(handle, Loader=_no_alias_loader(yaml))
    except FileNotFoundError:
        raise ValidationError([Problem("file not found", file=str(path))]) from None
    except IsADirectoryError:
        raise ValidationError([Problem("is a folder, not a file", file=str(path))]) from None
    except RecursionError:
        raise ValidationError(
            [Problem("nested too deeply to read (more than ~900 levels)", file=str(path))]
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ValidationError(
            [Problem(f"invalid YAML: {getattr(exc, 'problem', exc)}", file=str(path), line=line)]
        ) from None


# -- evidence: JSON lines --------------------------------------------------------------------


def parse_evidence_lines(
    lines: Iterable[str],
    *,
    source: str,
    problems: list[Problem] | None = None,
) -> Iterator[Evidence]:
    """Evidence from JSON lines, one at a time (never the whole input in memory).

    Blank lines are skipped. A bad line raises :class:`ValidationError` naming ``source``
    and the line, unless ``problems`` is given: then it is appended there and skipped.
    """
    for _, item in parse_numbered_evidence_lines(lines, source=source, problems=problems):
        yield item


def parse_numbered_evidence_lines(
    lines: Iterable[str],
    *,
    source: str,
    problems: list[Problem] | None = None,
) -> Iterator[tuple[int, Evidence]]:
    """Like :func:`parse_evidence_lines`, with the line number of each evidence.

    When the first record fails and the file looks like a JSON array or a CSV file, the
    first problem says that evidence files are JSON lines.
    """
    first = True
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield number, Evidence.model_validate_json(line)
        except pydantic.ValidationError as exc:
            found = [
                Problem(
                    _evidence_message(item),
                    file=source,
                    line=number,
                    field=".".join(str(p) for p in item["loc"]) or None,
                )
                for item in exc.errors(include_url=False)
            ]
            if first:
                found = _shape_hint(line, source, number) + found
            if problems is None:
                raise ValidationError(found) from None
            problems.extend(found)
        first = False


def _shape_hint(line: str, source: str, number: int) -> list[Problem]:
    """A problem saying what the file looks like, when it is clearly not JSON lines."""
    text = line.lstrip("\ufeff").strip()
    if text.startswith("["):
        what = "a JSON array"
    elif not text.startswith("{") and ("," in text or ";" in text or "\t" in text):
        what = "a CSV file"
    else:
        return []
    return [
        Problem(
            f"this looks like {what}: evidence files are JSON lines, one JSON object per "
            "line (see docs/formats.md)",
            file=source,
            line=number,
        )
    ]


def _evidence_message(item: Any) -> str:
    if item["type"] == "json_invalid":
        return f"invalid JSON: {item['ctx'].get('error', item['msg'])}"
    if item["type"] == "extra_forbidden":
        return "unknown field"
    return str(item["msg"]).removeprefix("Value error, ")


def iter_evidence(path: str | Path, *, problems: list[Problem] | None = None) -> Iterator[Evidence]:
    """Stream evidence from a JSON-lines file; errors name the file and line (see above)."""
    for _, item in iter_numbered_evidence(path, problems=problems):
        yield item


def iter_numbered_evidence(
    path: str | Path, *, problems: list[Problem] | None = None
) -> Iterator[tuple[int, Evidence]]:
    """Like :func:`iter_evidence`, with the line number of each evidence."""
    source = str(path)
    try:
        handle = Path(path).open(encoding="utf-8")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        raise ValidationError([Problem("file not found", file=source)]) from None
    except IsADirectoryError:
        raise ValidationError([Problem("is a folder, not a file", file=source)]) from None
    with handle:
        try:
            yield from parse_numbered_evidence_lines(handle, source=source, problems=problems)
        except UnicodeDecodeError as exc:
            raise ValidationError(
                [Problem(f"not UTF-8 text (byte {exc.start})", file=source)]
            ) from None


def write_evidence_lines(evidence: Iterable[Evidence], handle: IO[str]) -> int:
    """Write evidence as JSON lines to an open text stream; returns how many were written."""
    count = 0
    for item in evidence:
        handle.write(item.model_dump_json(exclude_defaults=True))
        handle.write("\n")
        count += 1
    return count


def write_evidence(evidence: Iterable[Evidence], path: str | Path) -> int:
    """Write evidence as JSON lines, atomically; returns how many were written."""
    with atomic_write(path) as handle:
        return write_evidence_lines(evidence, handle)


# -- proficiency results ---------------------------------------------------------------------

_PROFICIENCY_LIST = pydantic.TypeAdapter(list[Proficiency])


def proficiencies_to_data(proficiencies: Iterable[Proficiency]) -> list[dict[str, Any]]:
    return [p.model_dump(mode="json") for p in proficiencies]


def _is_json_lines(text: str) -> bool:
    """Whether ``text`` holds several JSON values, one per line, rather than one document."""
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        return exc.msg == "Extra data"
    return False


def load_proficiencies(path: str | Path) -> list[Proficiency]:
    """Read computed proficiency: the output of ``compute --json``, a JSON array, or JSON lines."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ValidationError([Problem("file not found", file=source)]) from None
    if _is_json_lines(text):
        items: list[Any] = [
            parse_json_text(line, source=source, first_line=number)
            for number, line in enumerate(text.splitlines(), start=1)
            if line.strip()
        ]
    else:
        data = parse_json_text(text, source=source)
        items = data.get("proficiencies", data) if isinstance(data, dict) else data
    try:
        return _PROFICIENCY_LIST.validate_python(items)
    except pydantic.ValidationError as exc:
        raise ValidationError(
            [
                Problem(
                    str(item["msg"]),
                    file=source,
                    field=".".join(str(p) for p in item["loc"]) or None,
                )
                for item in exc.errors(include_url=False)
            ]
        ) from None
