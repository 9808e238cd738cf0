"""Pure mapping between xAPI statements and the core model, driven by a declarative config.

Statements -> :class:`~comp_adapters.core.evidence.Evidence`
    :class:`MappingConfig` says which activities are evidence of which competencies (exact
    IRI or prefix, optionally only for some verbs or context extension values), which verbs
    are what kind of evidence with which verdict, and who the actor is (IFI -> learner key);
    :mod:`~comp_adapters.xapi.mapping_file` reads it from JSON or TOML.
    :class:`StatementMapper` applies it to one parsed statement at a time and says what
    the statement is: evidence, a void, skipped (with the reason) or bad (with the
    problem). It is the hot path of every read, so it works on the parsed dicts
    directly and builds evidence without re-validating values it has checked itself.

Proficiency -> statements
    :func:`proficiency_statement` turns a computed :class:`~comp_adapters.core.Proficiency`
    into a learner-competency statement (verb ``tla/verbs/achieved``) whose id is a UUIDv5 of
    learner, competency, level and ``as_of``, so sending it twice never duplicates it.

No HTTP, no files, no clock: instants come from the statements or are passed in.
"""

from __future__ import annotations

import hashlib
import math
import operator
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Final, Literal, TypeGuard

import orjson
import pydantic
from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

from comp_adapters.core.evidence import Evidence, EvidenceKind, LearnerKey, Visibility
from comp_adapters.core.framework import Framework
from comp_adapters.core.proficiency import Proficiency
from comp_adapters.core.scale import Key
from comp_adapters.core.timeutil import format_utc
from comp_adapters.errors import MappingError, Problem, ValidationError
from comp_adapters.xapi import wire
from comp_adapters.xapi.wire import MoveOn

# -- the declarative config ------------------------------------------------------------------


class _Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class AccountRef(_Config):
    home_page: str = Field(alias="homePage", min_length=1)
    name: str = Field(min_length=1)


class LearnerIdentity(_Config):
    """One learner and one of their xAPI identities (exactly one IFI)."""

    learner: LearnerKey
    mbox: str | None = Field(default=None, pattern=r"^mailto:\S+@\S+$")
    mbox_sha1sum: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{40}$")
    openid: str | None = None
    account: AccountRef | None = None

    @model_validator(mode="after")
    def _one_ifi(self) -> LearnerIdentity:
        given = [self.mbox, self.mbox_sha1sum, self.openid, self.account]
        if sum(value is not None for value in given) != 1:
            raise ValueError("give exactly one of mbox, mbox_sha1sum, openid, account")
        return self


class IdentityConfig(_Config):
    """How an actor's IFI becomes a learner key.

    ``learners`` lists identities one by one (an ``mbox`` entry also matches the same
    address sent as ``mbox_sha1sum``). ``account_home_pages``: an account on one of these
    home pages is the learner whose key is ``account.name`` (the usual LMS user id).
    ``unknown``: what to do with anyone else: ``skip`` (counted) or ``ifi`` (the learner
    key is the IFI itself, e.g. ``mbox:ann@example.org``).
    """

    learners: tuple[LearnerIdentity, ...] = ()
    account_home_pages: tuple[str, ...] = ()
    unknown: Literal["skip", "ifi"] = "skip"
    push_home_page: str | None = None
    """For writing statements: the account home page of learners with no listed identity."""


class ActivityRule(_Config):
    """Statements about this activity (exact ``id`` or IRI ``prefix``) are evidence of these
    competencies. ``verbs`` restricts the rule to some verbs; ``when`` to statements whose
    context extensions have these values. ``mastery_score``/``move_on`` are the cmi5 launch
    data of an AU (used when the statements themselves do not carry them)."""

    id: str | None = Field(default=None, min_length=1)
    prefix: str | None = Field(default=None, min_length=1)
    competencies: tuple[Key, ...] = Field(min_length=1)
    verbs: tuple[str, ...] = ()
    when: dict[str, JsonValue] = Field(default_factory=dict)
    kind: EvidenceKind | None = None
    mastery_score: float | None = Field(default=None, ge=0, le=1)
    move_on: MoveOn | None = None

    @model_validator(mode="after")
    def _one_target(self) -> ActivityRule:
        if (self.id is None) == (self.prefix is None):
            raise ValueError("an activity rule needs exactly one of id or prefix")
        return self


class VerbRule(_Config):
    """Statements with one of these verbs are evidence of this ``kind``.

    ``success`` is the verb's own verdict, used when the statement says nothing better: a
    cmi5 masteryScore judged against ``score.scaled`` wins, then ``result.success``, then a
    TLA ``confidence`` sign. ``cmi5`` names the verb's role in cmi5 moveOn rules.
    ``learner_is_object``: the learner is the statement's object (the learner-competency
    profile's *granted* template) and the competency is found in the context activities.
    """

    verbs: tuple[str, ...] = Field(min_length=1)
    kind: EvidenceKind
    success: bool | None = None
    cmi5: Literal["passed", "failed", "completed"] | None = None
    learner_is_object: bool = False


def _verb(
    names: Iterable[str],
    base: str,
    kind: EvidenceKind,
    success: bool | None,
    cmi5: Literal["passed", "failed", "completed"] | None = None,
    *,
    learner_is_object: bool = False,
) -> VerbRule:
    return VerbRule(
        verbs=tuple(base + name for name in names),
        kind=kind,
        success=success,
        cmi5=cmi5,
        learner_is_object=learner_is_object,
    )


_A, _C, _T = EvidenceKind.ASSESSMENT, EvidenceKind.CERTIFICATION, EvidenceKind.ATTESTATION
DEFAULT_VERB_RULES: Final[tuple[VerbRule, ...]] = (
    _verb(["passed"], wire.ADL_VERBS, _A, True, "passed"),
    _verb(["failed"], wire.ADL_VERBS, _A, False, "failed"),
    _verb(["completed"], wire.ADL_VERBS, EvidenceKind.COURSE_COMPLETION, True, "completed"),
    _verb(["mastered"], wire.ADL_VERBS, _A, True),
    _verb(["scored"], wire.ADL_VERBS, _A, None),
    _verb(["satisfied"], wire.ADL_W3ID_VERBS, EvidenceKind.COURSE_COMPLETION, True),
    _verb(["waived"], wire.ADL_W3ID_VERBS, _T, True),
    _verb(["achieved"], wire.TLA_VERBS, _T, True),
    _verb(["asserted"], wire.TLA_VERBS, _T, None),
    _verb(["certified", "qualified"], wire.TLA_VERBS, _C, True),
    _verb(["conferred"], wire.TLA_VERBS, _C, True, learner_is_object=True),
    _verb(["revoked", "forfeited", "expired"], wire.TLA_VERBS, _C, False),
    _verb(["achieved", "demonstrated", "qualified"], wire.DOD_ISD_VERBS, _T, True),
    _verb(["earned"], "http://id.tincanapi.com/verb/", _C, True),
)
"""Verdict verbs of the ADL, cmi5, TLA / learner-competency, DoD ISD and Tin Can vocabularies.
Engagement verbs (launched, experienced, answered ...) are no evidence by default."""


class Cmi5Config(_Config):
    """How cmi5 rules are honoured for statements in the cmi5 category."""

    respect_move_on: bool = True
    """Only the verdicts an AU's moveOn asks for count (Passed: passed/failed; Completed:
    completed; CompletedAndPassed / CompletedOrPassed: all three; NotApplicable: none)."""
    normal_mode_only: bool = True
    """Statements sent in launchMode Browse or Review carry no judgement and are skipped."""


class MappingConfig(_Config):
    """Everything that decides how statements become evidence (and proficiency statements)."""

    source_system: str = Field(default="xapi", min_length=1)
    identity: IdentityConfig = Field(default_factory=IdentityConfig)
    activities: tuple[ActivityRule, ...] = ()
    competency_iris: dict[str, Key] = Field(default_factory=dict)
    """Competency IRI -> key: matched against the object id (the TLA competency activity
    type, learner-competency statements) and, when ``search_context_activities`` is on,
    against context activities (parent, grouping, category, other)."""
    competency_iri_base: str | None = Field(default=None, min_length=1)
    """IRIs ``<base><key>`` name competency ``key`` (and proficiency statements use them)."""
    search_context_activities: bool = True
    competency_extension: str | None = None
    """A context extension whose value (an IRI or key, or a list of them) names competencies."""
    verbs: tuple[VerbRule, ...] = DEFAULT_VERB_RULES
    add_verbs: tuple[VerbRule, ...] = ()
    """Rules added to ``verbs`` (a verb listed here overrides its default rule)."""
    match_http_and_https: bool = True
    """Treat the http and https spellings of a verb IRI as the same verb (both occur)."""
    cmi5: Cmi5Config = Field(default_factory=Cmi5Config)
    visibility: Visibility = Visibility.ORGANISATION
    ignore_computed: bool = True
    """Skip proficiency statements this library wrote (so a pull never feeds on a push)."""


def mapping_from_data(data: Any, *, source: str | None = None) -> MappingConfig:
    """Validate parsed config data; every problem is reported with its field."""
    try:
        return MappingConfig.model_validate(data)
    except pydantic.ValidationError as exc:
        raise ValidationError(
            [
                Problem(
                    str(item["msg"]).removeprefix("Value error, "),
                    file=source,
                    field=".".join(str(part) for part in item["loc"]) or None,
                )
                for item in exc.errors(include_url=False)
            ]
        ) from None


def mapping_digest(config: MappingConfig) -> str:
    """SHA-256 of the mapping's canonical JSON: two mappings that map alike digest alike,
    whatever file or spelling they came from (so a cursor can record which mapping read)."""
    canonical = orjson.dumps(config.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


# -- identities ------------------------------------------------------------------------------


def mbox_sha1sum(mbox: str) -> str:
    """The ``mbox_sha1sum`` of a ``mailto:`` IRI (domain lower-cased, as LRSs compare it)."""
    return hashlib.sha1(normalise_mbox(mbox).encode(), usedforsecurity=False).hexdigest()


def normalise_mbox(mbox: str) -> str:
    """``mailto:Local@Domain`` with the domain lower-cased (the domain is case-insensitive)."""
    local, at, domain = mbox.rpartition("@")
    return f"{local}{at}{domain.lower()}" if at else mbox


def ifi_text(agent: Mapping[str, Any]) -> str | None:
    """A canonical text of an agent's IFI: ``mbox:…``, ``sha1:…``, ``openid:…``, ``account:…``."""
    mbox = agent.get("mbox")
    if isinstance(mbox, str):
        return "mbox:" + normalise_mbox(mbox).removeprefix("mailto:")
    sha1 = agent.get("mbox_sha1sum")
    if isinstance(sha1, str):
        return "sha1:" + sha1.lower()
    openid = agent.get("openid")
    if isinstance(openid, str):
        return "openid:" + openid
    account = agent.get("account")
    if isinstance(account, dict):
        home, name = account.get("homePage"), account.get("name")
        if isinstance(home, str) and isinstance(name, str):
            return f"account:{home}|{name}"
    return None


class IdentityMap:
    """IFI -> learner key and back, compiled once from :class:`IdentityConfig`."""

    def __init__(self, config: IdentityConfig) -> None:
        self.mbox: dict[str, str] = {}
        self.sha1: dict[str, str] = {}
        self.openid: dict[str, str] = {}
        self.account: dict[tuple[str, str], str] = {}
        for entry in config.learners:
            if entry.mbox is not None:
                self.mbox[normalise_mbox(entry.mbox)] = entry.learner
                self.sha1[mbox_sha1sum(entry.mbox)] = entry.learner
            elif entry.mbox_sha1sum is not None:
                self.sha1[entry.mbox_sha1sum.lower()] = entry.learner
            elif entry.openid is not None:
                self.openid[entry.openid] = entry.learner
            elif entry.account is not None:
                self.account[(entry.account.home_page, entry.account.name)] = entry.learner
        self.home_pages = frozenset(config.account_home_pages)
        self.use_ifi = config.unknown == "ifi"
        self.push_home_page = config.push_home_page
        self.agents: dict[str, dict[str, Any]] = {}
        for entry in reversed(config.learners):  # the first listed identity wins
            self.agents[entry.learner] = _agent_of(entry)

    def learner(self, agent: Any) -> str | None:
        """The learner key of an actor, or ``None`` when it is nobody we know."""
        account = agent.get("account")
        if account is not None:
            if type(account) is dict:
                home, name = account.get("homePage"), account.get("name")
                if type(home) is str and type(name) is str:
                    known = self.account.get((home, name)) if self.account else None
                    if known is not None:
                        return known
                    if home in self.home_pages and 0 < len(name) <= 255 and name.strip() == name:
                        return name
        else:
            mbox = agent.get("mbox")
            if mbox is not None:
                if type(mbox) is str:
                    known = self.mbox.get(mbox)
                    if known is None:
                        known = self.mbox.get(normalise_mbox(mbox))
                    if known is not None:
                        return known
            else:
                sha1 = agent.get("mbox_sha1sum")
                if type(sha1) is str:
                    known = self.sha1.get(sha1.lower())
                    if known is not None:
                        return known
                openid = agent.get("openid")
                if type(openid) is str:
                    known = self.openid.get(openid)
                    if known is not None:
                        return known
        if self.use_ifi:
            text = ifi_text(agent)
            if text is not None and len(text) <= 255:
                return text
        return None

    def agent(self, learner: str) -> dict[str, Any]:
        """The xAPI Agent of a learner: their first listed identity, the IFI a learner key
        made by ``unknown = "ifi"`` spells, else an account on ``push_home_page``.
        Raises :class:`MappingError` when none applies."""
        agent = self.agents.get(learner)
        if agent is not None:
            return dict(agent)
        kind, _, value = learner.partition(":")
        if self.use_ifi and value:
            if kind == "mbox":
                return {"mbox": "mailto:" + value}
            if kind == "sha1":
                return {"mbox_sha1sum": value}
            if kind == "openid":
                return {"openid": value}
            home, bar, name = value.rpartition("|")
            if kind == "account" and bar:
                return {"account": {"homePage": home, "name": name}}
        if self.push_home_page is not None:
            return {"account": {"homePage": self.push_home_page, "name": learner}}
        raise MappingError(
            f"no xAPI identity for learner {learner!r}: list it under [[identity.learners]] "
            "or set identity.push_home_page"
        )


def _agent_of(entry: LearnerIdentity) -> dict[str, Any]:
    if entry.mbox is not None:
        return {"mbox": entry.mbox}
    if entry.mbox_sha1sum is not None:
        return {"mbox_sha1sum": entry.mbox_sha1sum.lower()}
    if entry.openid is not None:
        return {"openid": entry.openid}
    assert entry.account is not None  # noqa: S101 - guaranteed by LearnerIdentity
    return {"account": {"homePage": entry.account.home_page, "name": entry.account.name}}


# -- statements -> evidence ------------------------------------------------------------------

EVIDENCE = "evidence"
VOID = "void"
SKIP = "skip"
BAD = "bad"
Outcome = tuple[str, Any]
"""What one statement is: (EVIDENCE, [Evidence, ...]), (VOID, target statement id),
(SKIP, reason) or (BAD, (message, field))."""

# The fields the mapper sets (Evidence(...) with exactly these would have them as its
# fields set); the others keep their defaults. The tests check every built Evidence against
# a validated one, field order, types and fields set included.
_FIELDS_SET: Final = {
    "id",
    "learner",
    "competency",
    "kind",
    "score",
    "success",
    "observed_at",
    "recorded_at",
    "source_system",
    "source_id",
    "expires_at",
    "visibility",
}
_new = object.__new__
_set = object.__setattr__


def _slot_setter(name: str) -> Callable[[Any, Any], None]:
    """The C setter of one of :class:`Evidence`'s slots (its member descriptor's
    ``__set__``): it costs about half of ``object.__setattr__``, which finds the descriptor
    by name on every call."""
    for klass in Evidence.__mro__:
        if name in vars(klass):
            setter: Callable[[Any, Any], None] = vars(klass)[name].__set__
            return setter
    raise TypeError(f"Evidence has no slot {name}")  # pragma: no cover - pydantic changed


_set_fields_set: Final = _slot_setter("__pydantic_fields_set__")
_set_extra: Final = _slot_setter("__pydantic_extra__")
_set_private: Final = _slot_setter("__pydantic_private__")


def evidence_id(statement_id: str, competency: str) -> str:
    """The evidence id of a statement's evidence for one competency (deterministic)."""
    return f"xapi:{statement_id}:{competency}"


STATEMENT_NAMESPACE: Final = uuid.UUID("3b0f9d62-2a8e-5c41-8d7b-6e5f4a3c2b1d")
"""UUIDv5 namespace of the ids given to statements read without one."""


def content_id(statement: Mapping[str, Any]) -> str:
    """A stable id for a statement that has none (files of statements not yet stored):
    UUIDv5 of its canonical JSON, so the same statement always gives the same evidence."""
    return str(
        uuid.uuid5(
            STATEMENT_NAMESPACE, orjson.dumps(statement, option=orjson.OPT_SORT_KEYS).decode()
        )
    )


def voided_copy(evidence: Evidence) -> Evidence:
    """The same evidence, withdrawn: the rules engine drops every copy of a voided id."""
    return evidence.model_copy(update={"voided": True})


_fromisoformat = datetime.fromisoformat


def parse_instant(text: Any) -> datetime | None:
    """An xAPI timestamp as an aware UTC datetime (naive ones taken as UTC), else ``None``."""
    if type(text) is not str:
        return None
    try:
        value = _fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo is UTC else _to_utc(value)


def _to_utc(value: datetime) -> datetime:
    """A parsed instant in UTC: naive ones are taken as UTC (1.0.3 allows them)."""
    if value.tzinfo is None or not value.utcoffset():
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def scaled_score(raw: float, low: float, high: float) -> float | None:
    """The one rule between ``score.raw`` and ``score.scaled``, used both ways:
    ``(raw - min) / (max - min)``, clamped to 0..1 (``None`` unless ``max > min``).

    Reading a statement that gives only raw/min/max, and writing a proficiency score in
    scale points, both go through it: 3.64 on a 1-4 scale is 0.88, never 3.64/4.
    """
    if not high > low:
        return None
    value = (raw - low) / (high - low)
    if not math.isfinite(value):
        return None
    return 0.0 if value < 0 else 1.0 if value > 1 else value


def score_of(score: Any) -> float | None:
    """A 0..1 score from ``score.scaled``, else :func:`scaled_score` of raw/min/max;
    clamped to 0..1."""
    if type(score) is not dict:
        return None
    scaled = score.get("scaled")
    if scaled is not None and type(scaled) in (int, float):
        value = float(scaled)
        if not math.isfinite(value):
            return None
        return 0.0 if value < 0 else 1.0 if value > 1 else value
    raw, low, high = score.get("raw"), score.get("min"), score.get("max")
    if not (_number(raw) and _number(low) and _number(high)):
        return None
    return scaled_score(raw, low, high)


def _number(value: object) -> TypeGuard[int | float]:
    return type(value) in (int, float)


# One compiled activity rule: competencies, kind, mastery score, moveOn, verbs, when.
_Rule = tuple[
    tuple[str, ...],
    EvidenceKind | None,
    float | None,
    str | None,
    frozenset[str] | None,
    tuple[tuple[str, Any], ...],
]
# What an object id resolves to, compiled once per id: the rules that hold conditions
# (verbs, when; ``None`` when there are none), the competency the id itself names, and,
# for the unconditional case, the resolved competencies (unique, in order) and the kind,
# masteryScore and moveOn of the first rule that gives each.
_Target = tuple[
    tuple[_Rule, ...] | None,
    str | None,
    tuple[str, ...],
    EvidenceKind | None,
    float | None,
    str | None,
]
_NO_TARGET: Final[_Target] = (None, None, (), None, None, None)
# One compiled verb rule: kind, success, cmi5 role, learner is the object.
_VerbRule = tuple[EvidenceKind, bool | None, str | None, bool]
# Verbs that are no evidence but mean something to the mapper (markers in the verb table).
_VOID_MARK: Final = (EvidenceKind.OTHER, None, "void", False)
_LAUNCH_MARK: Final = (EvidenceKind.OTHER, None, "launch", False)

_MOVE_ON_ROLES: Final[dict[str, frozenset[str]]] = {
    "Passed": frozenset({"passed", "failed"}),
    "Completed": frozenset({"completed"}),
    "CompletedAndPassed": frozenset({"passed", "failed", "completed"}),
    "CompletedOrPassed": frozenset({"passed", "failed", "completed"}),
    "NotApplicable": frozenset(),
}
_CONTEXT_LISTS: Final = ("parent", "grouping", "category", "other")
_EXPIRES_EXT: Final = "https://w3id.org/xapi/comp/contextextensions/expires"
_CACHE_LIMIT: Final = 50_000
_LAUNCH_LIMIT: Final = 100_000
_VOIDED_VERBS: Final = frozenset({wire.VERB_VOIDED, "https://adlnet.gov/expapi/verbs/voided"})
_LAUNCHED_VERBS: Final = frozenset({wire.VERB_LAUNCHED, "https://adlnet.gov/expapi/verbs/launched"})
# The frequent outcomes, made once.
_NO_EVIDENCE_VERB: Final[Outcome] = (SKIP, "verb is no evidence")
_UNKNOWN_LEARNER: Final[Outcome] = (SKIP, "unknown learner")
_NO_COMPETENCY: Final[Outcome] = (SKIP, "no competency for the activity")
_NOT_COMPLETED: Final[Outcome] = (SKIP, "result.completion is false (not completed)")
_COMPLETION: Final = EvidenceKind.COURSE_COMPLETION


def _scheme_variants(iri: str) -> tuple[str, ...]:
    if iri.startswith("http://"):
        return (iri, "https://" + iri.removeprefix("http://"))
    if iri.startswith("https://"):
        return (iri, "http://" + iri.removeprefix("https://"))
    return (iri,)


# Vocabulary the hot path reads, as module globals (one lookup instead of two).
_EXPLANATION_EXT: Final = wire.EXPLANATION_EXT
_CMI5_MASTERY_SCORE_EXT: Final = wire.CMI5_MASTERY_SCORE_EXT
_CMI5_MOVE_ON_EXT: Final = wire.CMI5_MOVE_ON_EXT
_CMI5_LAUNCH_MODE_EXT: Final = wire.CMI5_LAUNCH_MODE_EXT
_TLA_CONFIDENCE_EXT: Final = wire.TLA_CONFIDENCE_EXT
_CMI5_CATEGORY: Final = wire.CMI5_CATEGORY


class StatementMapper:
    """Applies a :class:`MappingConfig` to parsed statements, one at a time.

    The config is compiled once into lookup tables (verb IRI -> rule, with the http/https
    spellings; activity id -> rules). Stateless except for two bounded memories: what each
    activity id resolves to (a cache), and the cmi5 launch data (moveOn, masteryScore) of
    ``launched`` statements seen, per registration and AU, so that later verdicts in the
    same read can honour them.
    """

    def __init__(self, config: MappingConfig) -> None:
        self.config = config
        self._identities = IdentityMap(config.identity)
        both = config.match_http_and_https
        self._verbs: dict[str, _VerbRule] = {}
        for verb in _LAUNCHED_VERBS:
            self._verbs[verb] = _LAUNCH_MARK  # a configured rule for launched wins
        for verb_rule in (*config.verbs, *config.add_verbs):
            compiled: _VerbRule = (
                verb_rule.kind,
                verb_rule.success,
                verb_rule.cmi5,
                verb_rule.learner_is_object,
            )
            for verb in verb_rule.verbs:
                for variant in _scheme_variants(verb) if both else (verb,):
                    self._verbs[variant] = compiled
        for verb in _VOIDED_VERBS:
            self._verbs[verb] = _VOID_MARK  # voiding is never evidence, whatever the config
        self._verb_rule = self._verbs.get
        self._exact: dict[str, list[_Rule]] = {}
        self._prefixes: list[tuple[str, _Rule]] = []
        for activity in config.activities:
            verbs: frozenset[str] | None = None
            if activity.verbs:
                verbs = frozenset(
                    variant
                    for verb in activity.verbs
                    for variant in (_scheme_variants(verb) if both else (verb,))
                )
            rule: _Rule = (
                activity.competencies,
                activity.kind,
                activity.mastery_score,
                activity.move_on,
                verbs,
                tuple(activity.when.items()),
            )
            if activity.id is not None:
                self._exact.setdefault(activity.id, []).append(rule)
            else:
                assert activity.prefix is not None  # noqa: S101 - checked by ActivityRule
                self._prefixes.append((activity.prefix, rule))
        self._iris = dict(config.competency_iris)
        self._iri_base = config.competency_iri_base
        self._search_context = config.search_context_activities and bool(
            self._iris or self._iri_base
        )
        self._competency_ext = config.competency_extension
        self._context_wanted = self._search_context or bool(self._competency_ext)
        self._targets: dict[str, _Target] = {}
        self._launches: dict[tuple[str | None, str], tuple[Any, Any]] = {}
        # Every evidence's fields, in the model's order: copying a dict is several times
        # faster than building one, and :meth:`map` sets only what varies.
        self._template: dict[str, Any] = {
            "id": "",
            "learner": "",
            "competency": "",
            "kind": EvidenceKind.OTHER,
            "score": None,
            "level": None,
            "success": None,
            "observed_at": None,
            "recorded_at": None,
            "sequence": None,
            "source_system": config.source_system,
            "source_id": None,
            "expires_at": None,
            "voided": False,
            "visibility": config.visibility,
            "note": None,
        }
        self._respect_move_on = config.cmi5.respect_move_on
        self._normal_only = config.cmi5.normal_mode_only
        self._ignore_computed = config.ignore_computed

    # The hot path: keep it flat. Checks that every statement must pass come first (bad
    # input is reported whatever the verb), then the cheapest rejections.
    def map(self, statement: Any) -> Outcome:  # noqa: PLR0915 - one flat hot path
        """What ``statement`` (parsed JSON) is: evidence, a void, skipped or bad."""
        try:  # one C call for the members every statement has (stored ones have an id)
            sid, actor, verb, obj = _CORE(statement)
            verb_id = verb["id"]
        except (KeyError, TypeError, IndexError):
            sid = None
        if not (
            type(sid) is str
            and sid
            and type(actor) is dict
            and type(verb_id) is str
            and type(obj) is dict
        ):
            bad = _bad_core(statement)
            if bad is not None:
                return bad
            sid = None  # a statement without id (files): content_id() when needed
            actor, verb_id, obj = statement["actor"], statement["verb"]["id"], statement["object"]
        rule = self._verb_rule(verb_id)
        if rule is None:
            return _NO_EVIDENCE_VERB
        if rule is _VOID_MARK:
            target = obj.get("id")
            if obj.get("objectType") != "StatementRef" or type(target) is not str:
                return BAD, ("a voiding statement's object must be a StatementRef", "object")
            return VOID, target
        if rule is _LAUNCH_MARK:
            self._remember_launch(statement, obj)
            return _NO_EVIDENCE_VERB
        kind, verdict, cmi5_role, learner_is_object = rule
        get = statement.get
        object_type = obj.get("objectType")
        context = get("context")
        if type(context) is not dict:
            context = None

        # Who.
        if learner_is_object:
            if object_type not in ("Agent", "Group"):  # a tuple: the value may be unhashable
                return SKIP, "object is not the learner"
            learner = self._identities.learner(obj)
        else:
            if object_type is not None and object_type != "Activity":
                return SKIP, f"object is a {str(object_type)[:40]}"
            learner = self._identities.learner(actor)
        if learner is None:
            return _UNKNOWN_LEARNER

        # Which competencies.
        object_id = obj.get("id")
        if learner_is_object or type(object_id) is not str:
            target = _NO_TARGET
        else:
            target = self._targets.get(object_id) or self._target(object_id)
        conditional, own, competencies, rule_kind, rule_mastery, rule_move_on = target
        if conditional is not None:
            competencies, rule_kind, rule_mastery, rule_move_on = _match(
                conditional, own, verb_id, context
            )
        if context is not None and self._context_wanted:
            more = self._context_competencies(context)
            if more:
                competencies = tuple(dict.fromkeys((*competencies, *more)))
        if not competencies:
            return _NO_COMPETENCY

        # The result.
        result = get("result")
        score: float | None = None
        success: bool | None = None
        scaled: Any = None
        if type(result) is dict:
            if self._ignore_computed:
                extensions = result.get("extensions")
                if type(extensions) is dict and _EXPLANATION_EXT in extensions:
                    return SKIP, "computed proficiency statement"
            if kind is _COMPLETION and result.get("completion") is False:
                # "completed" whose result says it was not: no completion (DATASIM writes
                # 39 of its 70 completed statements this way), and no failure either.
                return _NOT_COMPLETED
            given_score = result.get("score")
            if type(given_score) is dict:
                scaled = given_score.get("scaled")
                # The usual case, a scaled float in range, is the score as it is.
                score = (
                    scaled
                    if type(scaled) is float and 0.0 <= scaled <= 1.0
                    else score_of(given_score)
                )
            given = result.get("success")
            if type(given) is bool:
                success = given
        extensions = context.get("extensions") if context is not None else None
        if type(extensions) is not dict:
            extensions = None

        # cmi5: launch mode, moveOn, masteryScore.
        mastery: Any = None
        move_on: Any = None
        if extensions is not None:
            mastery = extensions.get(_CMI5_MASTERY_SCORE_EXT)
            move_on = extensions.get(_CMI5_MOVE_ON_EXT)
            if self._normal_only:
                mode = extensions.get(_CMI5_LAUNCH_MODE_EXT)
                if mode is not None and mode != "Normal":
                    return SKIP, f"cmi5 launchMode {str(mode)[:20]} carries no judgement"
        if (
            cmi5_role is not None
            and (mastery is None or move_on is None)
            and self._launches
            and context is not None
        ):
            registration = context.get("registration")
            if type(registration) is not str:
                registration = None
            launch = self._launches.get((registration, object_id))
            if launch is not None:
                if move_on is None:
                    move_on = launch[0]
                if mastery is None:
                    mastery = launch[1]
        if mastery is None:
            mastery = rule_mastery
        if move_on is None:
            move_on = rule_move_on
        if (
            cmi5_role is not None
            and type(move_on) is str
            and self._respect_move_on
            and _is_cmi5(context)
        ):
            roles = _MOVE_ON_ROLES.get(move_on)
            if roles is not None and cmi5_role not in roles:
                return SKIP, f"cmi5 moveOn {move_on}: {cmi5_role} does not count"
        if (
            score is not None
            and (type(mastery) is float or type(mastery) is int)
            and (type(scaled) is float or type(scaled) is int)
        ):
            # Judged only against score.scaled (cmi5), not a score made from raw/min/max.
            success = score >= mastery
        if success is None:
            confidence = extensions.get(_TLA_CONFIDENCE_EXT) if extensions else None
            if type(confidence) is float or type(confidence) is int:
                success = confidence >= 0
            else:
                success = verdict
        if score is None and success is None:
            return SKIP, "no result (score or success)"

        # When (the usual "...Z" instants need no conversion).
        stored = get("stored")
        recorded: datetime | None = None
        if stored is not None:
            try:
                recorded = _fromisoformat(stored)
            except (TypeError, ValueError):
                pass
            else:
                if recorded.tzinfo is not UTC:
                    recorded = _to_utc(recorded)
        timestamp = get("timestamp")
        if timestamp is None:
            if recorded is None:
                return BAD, ("statement has neither timestamp nor stored", "timestamp")
            observed = recorded
        else:
            try:
                observed = _fromisoformat(timestamp)
            except (TypeError, ValueError):
                return BAD, ("timestamp is not an ISO 8601 date-time", "timestamp")
            if observed.tzinfo is not UTC:
                observed = _to_utc(observed)
        expires: datetime | None = None
        if extensions is not None and _EXPIRES_EXT in extensions:
            expires = parse_instant(extensions[_EXPIRES_EXT])
            if expires is not None and expires <= observed:
                expires = None

        if sid is None:
            sid = content_id(statement)

        # The evidence, one per competency, built without re-validation from values checked
        # above: keys validated with the config or by ``_is_key``, learner keys 1..255
        # characters, a score that is a finite float in 0..1, aware UTC instants, a result
        # present, expiry after observation. What this builds is exactly what
        # ``Evidence(...)`` would (the tests compare field by field, types and fields set
        # included, with validated copies), at a fraction of the cost: a copy of the
        # template dict with what varies set, and the four slots pydantic's own
        # ``model_construct`` sets.
        fields = self._template.copy()
        fields["learner"] = learner
        fields["kind"] = rule_kind or kind
        fields["score"] = score
        fields["success"] = success
        fields["observed_at"] = observed
        fields["recorded_at"] = recorded
        fields["source_id"] = sid
        fields["expires_at"] = expires
        made: list[Evidence] = []
        for competency in competencies:
            if made:  # the first evidence has ``fields``; the others a copy (cheaper than new)
                fields = fields.copy()
            fields["id"] = f"xapi:{sid}:{competency}"  # evidence_id(), spelled out for speed
            fields["competency"] = competency
            evidence = _new(Evidence)
            _set(evidence, "__dict__", fields)
            _set_fields_set(evidence, _FIELDS_SET.copy())
            _set_extra(evidence, None)
            _set_private(evidence, None)
            made.append(evidence)
        return EVIDENCE, made

    def _target(self, object_id: str) -> _Target:
        """Compile what ``object_id`` resolves to (then cached)."""
        rules = (
            *self._exact.get(object_id, ()),
            *(rule for prefix, rule in self._prefixes if object_id.startswith(prefix)),
        )
        own = self._competency_of_iri(object_id)
        target: _Target
        if any(rule[4] is not None or rule[5] for rule in rules):
            target = (rules, own, (), None, None, None)
        else:
            competencies, kind, mastery, move_on = _match(rules, own, "", None)
            target = (None, own, competencies, kind, mastery, move_on)
        if len(self._targets) >= _CACHE_LIMIT:
            self._targets.clear()
        self._targets[object_id] = target
        return target

    def _competency_of_iri(self, iri: str) -> str | None:
        key = self._iris.get(iri)
        if key is None and self._iri_base is not None and iri.startswith(self._iri_base):
            rest = iri[len(self._iri_base) :]
            if _is_key(rest):
                return rest
        return key

    def _context_competencies(self, context: dict[str, Any]) -> list[str]:
        """Competencies named by context activities and the competency extension."""
        found: list[str] = []
        if self._search_context:
            activities = context.get("contextActivities")
            if type(activities) is dict:
                for name in _CONTEXT_LISTS:
                    listed = activities.get(name)
                    if type(listed) is dict:  # 0.95 single object
                        listed = [listed]
                    if type(listed) is not list:
                        continue
                    for activity in listed:
                        if type(activity) is dict:
                            iri = activity.get("id")
                            if type(iri) is str:
                                key = self._competency_of_iri(iri)
                                if key is not None:
                                    found.append(key)
        if self._competency_ext:
            extensions = context.get("extensions")
            if type(extensions) is dict:
                named = extensions.get(self._competency_ext)
                for value in named if type(named) is list else [named]:
                    if type(value) is str:
                        key = self._competency_of_iri(value)
                        if key is None and _is_key(value):
                            key = value
                        if key is not None:
                            found.append(key)
        return found

    def _remember_launch(self, statement: dict[str, Any], obj: dict[str, Any]) -> None:
        context = statement.get("context")
        if type(context) is not dict:
            return
        extensions = context.get("extensions")
        if type(extensions) is not dict:
            return
        move_on = extensions.get(_CMI5_MOVE_ON_EXT)
        mastery = extensions.get(_CMI5_MASTERY_SCORE_EXT)
        if move_on is None and mastery is None:
            return
        object_id = obj.get("id")
        if type(object_id) is not str:
            return
        launches = self._launches
        if len(launches) >= _LAUNCH_LIMIT:
            # Forget the older half at once (amortised O(1); dicts keep insertion order).
            self._launches = launches = dict(list(launches.items())[_LAUNCH_LIMIT // 2 :])
        registration = context.get("registration")  # a string, or no key
        if type(registration) is not str:
            registration = None
        launches[(registration, object_id)] = (move_on, mastery)


_CORE: Final = operator.itemgetter("id", "actor", "verb", "object")


def _bad_core(statement: Any) -> Outcome | None:
    """Why a statement's id, actor, verb or object is unusable; ``None`` when they are
    fine (the id may be absent: statements in files need not have one yet)."""
    if type(statement) is not dict:
        return BAD, ("a statement must be a JSON object", None)
    sid = statement.get("id")
    if sid is not None and (type(sid) is not str or not sid):
        return BAD, ("statement id must be a non-empty string", "id")
    if type(statement.get("actor")) is not dict:
        return BAD, ("statement has no actor", "actor")
    verb = statement.get("verb")
    if type(verb) is not dict:
        return BAD, ("statement has no verb", "verb")
    if type(verb.get("id")) is not str:
        return BAD, ("statement has no verb id", "verb.id")
    if type(statement.get("object")) is not dict:
        return BAD, ("statement has no object", "object")
    return None


def _match(
    rules: tuple[_Rule, ...], own: str | None, verb_id: str, context: dict[str, Any] | None
) -> tuple[tuple[str, ...], EvidenceKind | None, float | None, str | None]:
    """The competencies (unique, in order), kind, masteryScore and moveOn that ``rules``
    give for this verb and context, then the competency the object id names itself. Kind,
    masteryScore and moveOn come from the first matching rule that sets each."""
    competencies: list[str] = []
    kind: EvidenceKind | None = None
    mastery: float | None = None
    move_on: str | None = None
    for competencies_of, kind_of, mastery_of, move_on_of, verbs, when in rules:
        if verbs is not None and verb_id not in verbs:
            continue
        if when and not _matches(context, when):
            continue
        competencies.extend(competencies_of)
        if kind is None:
            kind = kind_of
        if mastery is None:
            mastery = mastery_of
        if move_on is None:
            move_on = move_on_of
    if own is not None:
        competencies.append(own)
    return tuple(dict.fromkeys(competencies)), kind, mastery, move_on


def _matches(context: dict[str, Any] | None, when: tuple[tuple[str, Any], ...]) -> bool:
    if context is None:
        return False
    extensions = context.get("extensions")
    if type(extensions) is not dict:
        return False
    return all(extensions.get(name) == value for name, value in when)


def _is_cmi5(context: dict[str, Any] | None) -> bool:
    if context is None:
        return False
    activities = context.get("contextActivities")
    if type(activities) is not dict:
        return False
    category = activities.get("category")
    if type(category) is dict:
        category = [category]
    if type(category) is not list:
        return False
    for item in category:  # noqa: SIM110 - any() with a generator costs more than the search
        if type(item) is dict and item.get("id") == _CMI5_CATEGORY:
            return True
    return False


def _is_key(text: str) -> bool:
    return 0 < len(text) <= 100 and text.strip() == text and not any(c.isspace() for c in text)


# -- proficiency -> statements ---------------------------------------------------------------

PROFICIENCY_NAMESPACE: Final = uuid.UUID("8f4a3c2e-6b1d-5e7f-9a0b-1c2d3e4f5a6b")
"""UUIDv5 namespace of proficiency statement ids (fixed forever: ids must never change)."""


def proficiency_statement_id(proficiency: Proficiency) -> str:
    """UUIDv5 of learner, competency, level and ``as_of``: the same result, the same id."""
    name = "\n".join(
        [
            proficiency.learner,
            proficiency.competency,
            proficiency.level or "",
            format_utc(proficiency.as_of),
        ]
    )
    return str(uuid.uuid5(PROFICIENCY_NAMESPACE, name))


def competency_iri(config: MappingConfig, framework: Framework | None, competency: str) -> str:
    """The activity IRI of a competency: its ``external_ids["xapi"]``, the config's IRI map,
    else ``competency_iri_base`` + key; :class:`MappingError` when none applies."""
    if framework is not None and competency in framework:
        external = framework.get(competency).external_ids.get("xapi")
        if external:
            return external
    for iri, key in config.competency_iris.items():
        if key == competency:
            return iri
    if config.competency_iri_base is not None:
        return config.competency_iri_base + competency
    raise MappingError(
        f"no activity IRI for competency {competency!r}: set competency_iri_base, map it in "
        'competency_iris, or give it external_ids["xapi"] in the framework'
    )


def proficiency_statement(
    proficiency: Proficiency,
    *,
    config: MappingConfig,
    framework: Framework | None = None,
    identities: IdentityMap | None = None,
) -> wire.OutStatement:
    """The learner-competency statement that reports one computed proficiency.

    Verb ``tla/verbs/achieved`` (the profile's achieved/updated competency templates) with
    ``result.success`` = proficient; the score is scaled by the competency's scale when
    the framework is given (``raw``/``min``/``max`` in scale points, ``scaled`` by
    :func:`scaled_score`, the rule the reader uses); the explanation,
    level and method travel in result extensions; ``timestamp`` is ``as_of``.
    """
    agent = (identities or IdentityMap(config.identity)).agent(proficiency.learner)
    iri = competency_iri(config, framework, proficiency.competency)
    title = proficiency.competency
    score: wire.OutScore | None = None
    if framework is not None and proficiency.competency in framework:
        title = framework.get(proficiency.competency).title
        if proficiency.score is not None:
            scale = framework.scale_for(proficiency.competency)
            raw, low, top = proficiency.score, scale.min_points, scale.max_points
            scaled = scaled_score(raw, low, top)
            # raw must lie within min..max when they are given (xAPI Data 2.4.5.1): a score
            # below the scale's lowest points (a fraction of the top) travels without them.
            bounded = low < top and low <= raw <= top
            score = wire.OutScore(
                scaled=None if scaled is None else round(scaled, 6),
                raw=raw,
                min=low if bounded else None,
                max=top if bounded else None,
            )
    elif proficiency.score is not None:
        score = wire.OutScore(raw=proficiency.score)
    extensions: dict[str, JsonValue] = {
        wire.EXPLANATION_EXT: proficiency.explanation,
        wire.METHOD_EXT: proficiency.method,
    }
    if proficiency.level is not None:
        extensions[wire.LEVEL_EXT] = proficiency.level
    if proficiency.evidence_ids:
        extensions[wire.EVIDENCE_EXT] = list(proficiency.evidence_ids)
    return wire.OutStatement(
        id=proficiency_statement_id(proficiency),
        actor=wire.OutAgent.model_validate({"objectType": "Agent", **agent}),
        verb=wire.OutVerb(id=wire.VERB_ACHIEVED, display={"en-US": "achieved"}),
        object=wire.OutActivity(
            id=iri,
            definition=wire.OutDefinition(name={"en-US": title}, type=wire.TLA_COMPETENCY_TYPE),
        ),
        result=wire.OutResult(score=score, success=proficiency.proficient, extensions=extensions),
        context=wire.OutContext(
            context_activities=wire.OutContextActivities(
                category=[wire.OutActivity(id=wire.LEARNER_COMPETENCY_PROFILE)]
            ),
        ),
        timestamp=wire.format_timestamp(proficiency.as_of),
    )
