"""Common Cartridge outcomes: ``course_settings/learning_outcomes.xml`` of a Canvas export.

A sibling of :mod:`comp_adapters.canvas.mapping`, split out because it needs lxml (the
``canvas`` extra, part of ``all``). Reads the XML file itself or a whole ``.imscc``
package. Parsing is hardened: no entity expansion, no network, no DTD loading.

Structure (namespace ``http://canvas.instructure.com/xsd/cccv1p0``): ``learningOutcomes``
holds ``learningOutcomeGroup`` (title, description, vendor_guid, nested
``learningOutcomes``) and ``learningOutcome`` (title, description, calculation_method,
calculation_int, vendor_guid when the account exports guids, mastery_points,
points_possible, ratings/rating). Identifiers are opaque (``g`` + 32 hex); they become
the guid of anything without a vendor_guid.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path
from typing import Any

from comp_adapters.canvas.mapping import (
    ROOT,
    GroupNode,
    OutcomeNode,
    OutcomeTree,
    PullDefaults,
    Rating,
    framework_from_file_tree,
)
from comp_adapters.core.framework import Framework
from comp_adapters.errors import ConfigurationError, Problem, ValidationError
from comp_adapters.plugins import FileFormat

NAMESPACE = "http://canvas.instructure.com/xsd/cccv1p0"
MEMBER = "course_settings/learning_outcomes.xml"
MAX_MEMBER_BYTES = 32 * 1024 * 1024
"""Largest ``learning_outcomes.xml`` read from a package (thousands of outcomes take a few
MB); a zip bomb is refused when its member declares more or inflates past this."""
_NS = {"c": NAMESPACE}


def _lxml() -> Any:
    try:
        from lxml import etree  # noqa: PLC0415 - optional dependency
    except ImportError:
        raise ConfigurationError(
            "reading Common Cartridge outcomes needs lxml: pip install 'comp-adapters[canvas]'"
        ) from None
    return etree


def _parse(data: bytes, source: str) -> Any:
    etree = _lxml()
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        return etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if isinstance(exc.lineno, int) else None
        raise ValidationError([Problem(f"invalid XML: {exc.msg}", source, line)]) from None


def _text(element: Any, name: str) -> str | None:
    found = element.find(f"c:{name}", _NS)
    if found is None or found.text is None:
        return None
    text = str(found.text).strip()
    return text or None


def _number(element: Any, name: str, source: str, problems: list[Problem]) -> float | None:
    text = _text(element, name)
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        problems.append(Problem(f"{name} is not a number: {text!r}", source, element.sourceline))
        return None


def tree_from_cartridge_xml(data: bytes, *, source: str = "learning_outcomes.xml") -> OutcomeTree:
    """The outcome tree of a ``learning_outcomes.xml`` document."""
    root = _parse(data, source)
    if root.tag != f"{{{NAMESPACE}}}learningOutcomes":
        raise ValidationError(
            [
                Problem(
                    f"not a Canvas learning_outcomes.xml: root element is {root.tag!r}",
                    source,
                    root.sourceline,
                )
            ]
        )
    groups: list[GroupNode] = []
    outcomes: list[OutcomeNode] = []
    problems: list[Problem] = []

    def walk(container: Any, parent: str) -> None:
        for child in container:
            if not isinstance(child.tag, str):
                continue  # comments, processing instructions
            if child.tag == f"{{{NAMESPACE}}}learningOutcomeGroup":
                guid = _text(child, "vendor_guid") or str(child.get("identifier") or "")
                if not guid:
                    problems.append(Problem("group without identifier", source, child.sourceline))
                    continue
                groups.append(
                    GroupNode(
                        guid=guid,
                        title=_text(child, "title") or guid,
                        description=_text(child, "description"),
                        parent=parent,
                        line=child.sourceline,
                    )
                )
                nested = child.find("c:learningOutcomes", _NS)
                if nested is not None:
                    walk(nested, guid)
            elif child.tag == f"{{{NAMESPACE}}}learningOutcome":
                outcomes.append(_outcome(child, parent, source, problems))

    walk(root, ROOT)
    if problems:
        raise ValidationError(problems)
    return OutcomeTree(groups=tuple(groups), outcomes=tuple(outcomes))


def _outcome(element: Any, parent: str, source: str, problems: list[Problem]) -> OutcomeNode:
    guid = (
        _text(element, "vendor_guid")
        or _text(element, "external_identifier")
        or str(element.get("identifier") or "")
    )
    ratings: list[Rating] = []
    container = element.find("c:ratings", _NS)
    for rating in container.findall("c:rating", _NS) if container is not None else ():
        points = _number(rating, "points", source, problems)
        ratings.append(Rating(points or 0.0, _text(rating, "description") or ""))
    method = _text(element, "calculation_method")
    calc_int_text = _text(element, "calculation_int")
    calc_int: int | None = None
    if calc_int_text is not None:
        try:
            calc_int = int(float(calc_int_text))
        except ValueError:
            problems.append(
                Problem(
                    f"calculation_int is not a number: {calc_int_text!r}",
                    source,
                    element.sourceline,
                )
            )
    return OutcomeNode(
        guid=guid,
        title=_text(element, "title") or guid,
        description=_text(element, "description"),
        friendly_description=_text(element, "friendly_description"),
        mastery_points=_number(element, "mastery_points", source, problems),
        ratings=tuple(sorted(ratings, key=lambda r: -r.points)),
        calculation_method=method,
        calculation_int=calc_int,
        parents=(parent,),
        line=element.sourceline,
    )


def read_cartridge(path: str | Path, *, framework_key: str | None = None) -> Framework:
    """A framework from ``learning_outcomes.xml`` or from a whole ``.imscc`` course export."""
    source = str(path)
    file = Path(path)
    try:
        if zipfile.is_zipfile(file):
            with zipfile.ZipFile(file) as package:
                data = read_zip_member(package, MEMBER, source=source, limit=MAX_MEMBER_BYTES)
                source = f"{source}!{MEMBER}"
        else:
            data = file.read_bytes()
    except FileNotFoundError:
        raise ValidationError([Problem("file not found", source)]) from None
    tree = tree_from_cartridge_xml(data, source=source)
    stem = file.stem.removesuffix("learning_outcomes").strip("_-.") or "canvas-course-outcomes"
    return framework_from_file_tree(
        tree, source=source, name=stem, defaults=PullDefaults(), framework_key=framework_key
    )


def read_zip_member(package: zipfile.ZipFile, name: str, *, source: str, limit: int) -> bytes:
    """One member of a zip file, refused (never inflated) beyond ``limit`` bytes: the
    declared size is checked first, then the bytes as they inflate, in small reads."""
    try:
        info = package.getinfo(name)
    except KeyError:
        raise ValidationError(
            [Problem(f"the package has no {name} (no outcomes exported)", source)]
        ) from None
    too_big = Problem(
        f"{name} is larger than {limit // (1024 * 1024)} MB once unpacked; refused (a zip "
        "bomb, or far more outcomes than a course holds)",
        source,
    )
    if info.file_size > limit:
        raise ValidationError([too_big])
    data = bytearray()
    try:
        with package.open(info) as member:
            while chunk := member.read(64 * 1024):
                data += chunk
                if len(data) > limit:
                    raise ValidationError([too_big])
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise ValidationError([Problem(f"damaged package: {exc}", source)]) from None
    return bytes(data)


def _sniff(path: Path, head: bytes) -> bool:
    if path.suffix.lower() == ".imscc":
        return True
    return (
        path.suffix.lower() == ".xml" and b"learningOutcomes" in head and NAMESPACE.encode() in head
    )


def _write(framework: Framework, path: Path, **_options: Any) -> None:
    del framework, path
    raise ConfigurationError(
        "canvas-cartridge is read-only: write canvas-csv and import it into Canvas instead"
    )


CANVAS_CARTRIDGE = FileFormat(
    name="canvas-cartridge",
    description="Canvas Common Cartridge outcomes (learning_outcomes.xml or .imscc), read only",
    suffixes=(".imscc",),
    sniff=_sniff,
    read=read_cartridge,
    write=_write,
)
