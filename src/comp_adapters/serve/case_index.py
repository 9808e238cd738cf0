"""The CASE objects of the released frameworks, as the provider serves them.

Each framework is exported once per CASE version (the project's own writer,
:func:`~comp_adapters.case.export.framework_to_package`, strict JSON by
:func:`~comp_adapters.case.wire.dump_package`) and its objects are indexed by identifier,
so every answer is a dictionary look-up. Objects served on their own carry the link to
their document (``CFDocumentURI``; a document its ``CFPackageURI``), as the REST binding
has them; inside a package they do not (the package is the document).

CFItemTypes: a package's ``CFDefinitions.CFItemTypes`` are served as they are; an item type
named only by its items' ``CFItemType`` (what the export writes for a taxonomy term) is
served too, under a UUIDv5 of the document and the term, so ``/CFItemTypes/{id}`` answers
for every type a package uses.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from comp_adapters.case.export import framework_to_package
from comp_adapters.case.wire import CaseVersion, dump_package, format_case_datetime
from comp_adapters.serve.catalog import FrameworkCatalog, ReleasedFramework

VERSIONS: Mapping[str, CaseVersion] = {"v1p1": "1.1", "v1p0": "1.0"}
"""URL segment -> CASE version."""


@dataclass(frozen=True)
class CaseObjects:
    """One framework's package and objects in one CASE version."""

    released: ReleasedFramework
    version: CaseVersion
    package: dict[str, Any]
    document: dict[str, Any]
    document_link: dict[str, str]
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    associations: dict[str, dict[str, Any]] = field(default_factory=dict)
    rubrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    item_types: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def identifier(self) -> str:
        return str(self.document["identifier"])


def build_objects(
    released: ReleasedFramework,
    version: CaseVersion,
    *,
    creator: str | None = None,
    base_uri: str | None = None,
) -> CaseObjects:
    """Export ``released`` in ``version`` and index its objects."""
    package, _ = framework_to_package(
        released.framework,
        now=released.released_at,
        version=version,
        creator=creator,
        base_uri=base_uri,
    )
    data = dump_package(package, version=version, now=released.released_at)
    document = data["CFDocument"]
    link = {
        "title": document["title"],
        "identifier": document["identifier"],
        "uri": document["uri"],
    }
    objects = CaseObjects(
        released=released,
        version=version,
        package=data,
        document={**document, "CFPackageURI": dict(link)},
        document_link=link,
    )
    for item in data.get("CFItems", []):
        objects.items[item["identifier"]] = {**item, "CFDocumentURI": dict(link)}
    for association in data.get("CFAssociations", []):
        objects.associations[association["identifier"]] = {
            **association,
            "CFDocumentURI": dict(link),
        }
    for rubric in data.get("CFRubrics", []):
        objects.rubrics[rubric["identifier"]] = rubric
    for item_type in data.get("CFDefinitions", {}).get("CFItemTypes", []):
        objects.item_types[item_type["identifier"]] = item_type
    _named_item_types(objects, released)
    return objects


def _named_item_types(objects: CaseObjects, released: ReleasedFramework) -> None:
    """Item types named by items (``CFItemType``) without a definition in the package."""
    defined = {str(t["title"]) for t in objects.item_types.values()}
    namespace = uuid.UUID(objects.identifier)
    when = format_case_datetime(released.released_at)
    for item in objects.package.get("CFItems", []):
        title = item.get("CFItemType")
        if not isinstance(title, str) or title in defined:
            continue
        defined.add(title)
        identifier = str(uuid.uuid5(namespace, f"CFItemType:{title}"))
        objects.item_types[identifier] = {
            "identifier": identifier,
            "uri": f"urn:uuid:{identifier}",
            "title": title,
            "description": title,
            "hierarchyCode": "1",
            "lastChangeDateTime": when,
        }


class CaseIndex:
    """Every released framework's CASE objects, per version, built on first use."""

    def __init__(
        self,
        catalog: FrameworkCatalog,
        *,
        creator: str | None = None,
        base_uri: str | None = None,
    ) -> None:
        self.catalog = catalog
        self.creator = creator
        self.base_uri = base_uri
        self._built: dict[tuple[str, CaseVersion], CaseObjects] = {}

    def objects(self, released: ReleasedFramework, version: CaseVersion) -> CaseObjects:
        key = (released.document_id, version)
        found = self._built.get(key)
        if found is None or found.released is not released:
            found = build_objects(released, version, creator=self.creator, base_uri=self.base_uri)
            self._built[key] = found
        return found

    def all(self, version: CaseVersion) -> list[CaseObjects]:
        return [self.objects(r, version) for r in self.catalog.frameworks()]

    def document(self, identifier: str, version: CaseVersion) -> CaseObjects | None:
        released = self.catalog.by_document_id(identifier)
        return None if released is None else self.objects(released, version)

    def find(
        self, collection: str, identifier: str, version: CaseVersion
    ) -> tuple[CaseObjects, dict[str, Any]] | None:
        """The object ``identifier`` of ``collection`` (``items``, ``associations``,
        ``rubrics``, ``item_types``) and the framework holding it."""
        wanted = identifier.lower()
        for objects in self.all(version):
            found = getattr(objects, collection).get(wanted)
            if found is not None:
                return objects, found
        return None
