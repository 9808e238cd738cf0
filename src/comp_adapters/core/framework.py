"""Frameworks and competencies: the hierarchy, its rules and its identifiers.

A :class:`Framework` is immutable and, once built, consistent: every parent, relation and
rule refers to a competency that exists, there are no cycles, and every scale has a
proficient level. Building one from untrusted data goes through
:func:`comp_adapters.core.validation.framework_from_data`, which reports every problem with
its location instead of stopping at the first.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from enum import StrEnum
from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

from comp_adapters.core.calculation import (
    CalculationMethod,
    check_calculation_int,
)
from comp_adapters.core.scale import Key, ProficiencyScale
from comp_adapters.core.timeutil import UtcDatetime

DescriptionFormat = Literal["plain", "html", "markdown"]
_NAVIGATION_CACHES = ("_by_key", "_children")


class RelationType(StrEnum):
    """How one competency relates to another (CASE association types, Moodle cross-refs)."""

    RELATED = "related"
    REQUIRES = "requires"
    EQUIVALENT = "equivalent"
    REPLACED_BY = "replaced_by"
    PRECEDES = "precedes"
    PART_OF = "part_of"
    EXEMPLAR = "exemplar"


class Relation(BaseModel):
    """A typed link to another competency of this framework (``key``) or outside it (``uri``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: RelationType = RelationType.RELATED
    key: Key | None = None
    uri: str | None = Field(default=None, min_length=1)
    title: str | None = None

    @model_validator(mode="after")
    def _one_target(self) -> Relation:
        if (self.key is None) == (self.uri is None):
            raise ValueError("a relation names exactly one of key (in this framework) or uri")
        return self


class RuleOutcome(StrEnum):
    """What a matching rollup rule does to the parent (Moodle's competency ``ruleoutcome``)."""

    NONE = "none"
    EVIDENCE = "evidence"
    COMPLETE = "complete"
    RECOMMEND = "recommend"


class PointsChild(BaseModel):
    """One child's weight in a points rule."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: Key
    points: int = Field(ge=0)
    required: bool = False


class RollupRule(BaseModel):
    """How a parent's proficiency follows from its direct children (Moodle's competency rules).

    ``all_children``: every direct child is proficient. ``points``: every required child is
    proficient and the points of the proficient listed children reach ``base_points``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["all_children", "points"]
    outcome: RuleOutcome = RuleOutcome.COMPLETE
    base_points: int | None = Field(default=None, ge=1)
    children: tuple[PointsChild, ...] = ()

    @model_validator(mode="after")
    def _check(self) -> RollupRule:
        if self.type == "all_children":
            if self.base_points is not None or self.children:
                raise ValueError("an all_children rule takes no base_points or children")
            return self
        if self.base_points is None:
            raise ValueError("a points rule needs base_points (an integer >= 1)")
        if not self.children:
            raise ValueError("a points rule needs at least one child")
        keys = [child.key for child in self.children]
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        if duplicates:
            raise ValueError(f"a points rule lists a child twice: {', '.join(duplicates)}")
        total = sum(child.points for child in self.children)
        if total < self.base_points:
            raise ValueError(
                f"the children's points ({total}) cannot reach base_points ({self.base_points})"
            )
        return self


class Competency(BaseModel):
    """One competency: a node of the framework's hierarchy."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: Key
    title: str = Field(min_length=1)
    description: str | None = None
    description_format: DescriptionFormat = "plain"
    parent: Key | None = None
    sequence: int | None = None
    taxonomy: str | None = None
    scale: ProficiencyScale | None = None
    calculation_method: CalculationMethod | None = None
    calculation_int: int | None = None
    rollup: RollupRule | None = None
    related: tuple[Relation, ...] = ()
    external_ids: dict[str, str] = Field(default_factory=dict)
    tags: tuple[str, ...] = ()
    properties: dict[str, JsonValue] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_int(self) -> Competency:
        if self.calculation_method is None:
            if self.calculation_int is not None:
                raise ValueError("calculation_int is set but calculation_method is not")
            return self
        problem = check_calculation_int(self.calculation_method, self.calculation_int)
        if problem:
            raise ValueError(problem)
        return self


class Framework(BaseModel):
    """A competency framework: hierarchy, scale, rules and identity.

    Competencies are held in a tuple; their order is the canonical order (parents before
    children, siblings by ``sequence``) once the framework has been through
    :func:`comp_adapters.native.dump_framework` or :meth:`canonical`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: Key
    title: str = Field(min_length=1)
    description: str | None = None
    description_format: DescriptionFormat = "plain"
    version: str | None = None
    effective_from: UtcDatetime | None = None
    effective_until: UtcDatetime | None = None
    language: str | None = None
    scale: ProficiencyScale
    calculation_method: CalculationMethod = CalculationMethod.LATEST
    calculation_int: int | None = None
    taxonomy_levels: tuple[str, ...] = ()
    competencies: tuple[Competency, ...] = ()
    external_ids: dict[str, str] = Field(default_factory=dict)
    tags: tuple[str, ...] = ()
    properties: dict[str, JsonValue] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_consistency(self) -> Framework:
        # Imported here, not at the top: validation imports this module.
        from comp_adapters.core.validation import (  # noqa: PLC0415
            check_framework,
            raise_on_errors,
        )

        raise_on_errors(check_framework(self))
        return self

    def model_copy(
        self, *, update: Mapping[str, Any] | None = None, deep: bool = False
    ) -> Framework:
        """A copy (see pydantic); the navigation caches are rebuilt for the copy's data."""
        copied = super().model_copy(update=update, deep=deep)
        for cached in _NAVIGATION_CACHES:
            copied.__dict__.pop(cached, None)
        return copied

    # -- navigation -------------------------------------------------------------------------

    @cached_property
    def _by_key(self) -> dict[str, Competency]:
        return {c.key: c for c in self.competencies}

    @cached_property
    def _children(self) -> dict[str | None, tuple[Competency, ...]]:
        position = {c.key: i for i, c in enumerate(self.competencies)}
        grouped: dict[str | None, list[Competency]] = {}
        for competency in self.competencies:
            grouped.setdefault(competency.parent, []).append(competency)
        return {
            parent: tuple(
                sorted(
                    kids,
                    key=lambda c: (c.sequence is None, c.sequence or 0, position[c.key]),
                )
            )
            for parent, kids in grouped.items()
        }

    def __contains__(self, key: object) -> bool:
        return key in self._by_key

    def get(self, key: str) -> Competency:
        """The competency with this key; ``KeyError`` naming the key if there is none."""
        try:
            return self._by_key[key]
        except KeyError:
            raise KeyError(f"no competency {key!r} in framework {self.key!r}") from None

    def children_of(self, key: str | None) -> tuple[Competency, ...]:
        """Direct children in sibling order; ``None`` gives the top-level competencies."""
        return self._children.get(key, ())

    def walk(self) -> Iterator[Competency]:
        """Every competency, depth first: parents before children, siblings in order."""
        stack = list(reversed(self.children_of(None)))
        while stack:
            competency = stack.pop()
            yield competency
            stack.extend(reversed(self.children_of(competency.key)))

    def ancestors(self, key: str) -> list[Competency]:
        """Parent, grandparent, ... up to the top level."""
        chain: list[Competency] = []
        parent = self.get(key).parent
        while parent is not None:
            competency = self.get(parent)
            chain.append(competency)
            parent = competency.parent
        return chain

    def depth(self, key: str) -> int:
        """1 for top-level competencies, 2 for their children, ..."""
        return len(self.ancestors(key)) + 1

    def scale_for(self, key: str) -> ProficiencyScale:
        """The competency's own scale, else the framework's."""
        return self.get(key).scale or self.scale

    def method_for(self, key: str) -> tuple[CalculationMethod, int | None]:
        """The calculation method and int a competency uses (its own, else the framework's)."""
        competency = self.get(key)
        if competency.calculation_method is not None:
            return competency.calculation_method, competency.calculation_int
        return self.calculation_method, self.calculation_int

    def taxonomy_for(self, key: str) -> str | None:
        """The competency's taxonomy term: its own, else the framework's term for its depth."""
        competency = self.get(key)
        if competency.taxonomy is not None:
            return competency.taxonomy
        depth = self.depth(key)
        if depth <= len(self.taxonomy_levels):
            return self.taxonomy_levels[depth - 1]
        return None

    def canonical(self) -> Framework:
        """The same framework with competencies in canonical (depth-first) order."""
        ordered = tuple(self.walk())
        if ordered == self.competencies:
            return self
        return self.model_copy(update={"competencies": ordered})
