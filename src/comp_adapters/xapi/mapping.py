"""Pure mapping between xAPI statements and the core model, driven by a declarative config.

Statements -> :class:`~comp_adapters.core.evidence.Evidence`
    :class:`MappingConfig` (JSON or TOML) says which activities are evidence of which
    competencies (exact IRI or prefix, optionally only for some verbs or context extension
    values), which verbs are what kind of evidence with which verdict, and who the actor is
    (IFI -> learner key). :class:`StatementMapper` applies it to one parsed statement at a
    time and says what the statement is: evidence, a void, skipped (with the reason) or bad
    (with the problem). It is the hot path of every read, so it works on the parsed dicts
    directly and builds evidence without re-validating values it has checked itself.

Proficiency -> statements
    :func:`proficiency_statement` turns a computed :class:`~comp_adapters.core.Proficiency`
    into a learner-competency statement (verb ``tla/verbs/achieved``) whose id is a UUIDv5 of
    learner, competency, level and ``as_of``, so sending it twice never duplicates it.

No HTTP, no clock: instants come from the statements or are passed in.
"""

from __future__ import annotations

import hashlib
import math
import tomllib
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal, TypeGuard

import orjson
import pydantic
from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

from comp_adapters._files import read_json_file
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


def load_mapping(path: str | Path) -> MappingConfig:
    """Read a mapping config from JSON or TOML; problems name the file and field."""
    source = str(path)
    target = Path(path)
    if target.suffix.lower() == ".toml":
        try:
            with target.open("rb") as handle:
                data: Any = tomllib.load(handle)
        except FileNotFoundError:
            raise ValidationError([Problem("file not found", file=source)]) from None
        except tomllib.TOMLDecodeError as exc:
            raise ValidationError([Problem(f"invalid TOML: {exc}", file=source)]) from None
    else:
        data = read_json_file(target)
    return mapping_from_data(data, source=source)


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
                    known = self.account.get((home, name))
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

_EVIDENCE_TEMPLATE: Final[dict[str, Any]] = {
    name: (None if field.is_required() else field.get_default(call_default_factory=True))
    for name, field in Evidence.model_fields.items()
}
_EVIDENCE_FIELDS_SET: Final = frozenset(
    {"id", "learner", "competency", "kind", "score", "success", "observed_at"}
    | {"recorded_at", "source_system", "source_id", "expires_at", "visibility"}
)
_new = object.__new__
_set = object.__setattr__


def _make_evidence(values: dict[str, Any]) -> Evidence:
    """An :class:`Evidence` from values the mapper has already checked, without re-validation.

    The mapper guarantees every constraint itself (keys validated with the config, score in
    0..1 and finite, aware UTC instants, a result present, expiry after observation); the
    tests compare its output with fully validated evidence. This keeps mapping a statement
    within a fraction of the time the JSON parser needs for it.
    """
    evidence: Evidence = _new(Evidence)
    _set(evidence, "__dict__", values)
    _set(evidence, "__pydantic_fields_set__", set(_EVIDENCE_FIELDS_SET))
    _set(evidence, "__pydantic_extra__", None)
    _set(evidence, "__pydantic_private__", None)
    return evidence


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


def parse_instant(text: Any) -> datetime | None:
    """An xAPI timestamp as an aware UTC datetime (naive ones taken as UTC), else ``None``."""
    if type(text) is not str:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    offset = value.utcoffset()
    if offset is None:
        return value.replace(tzinfo=UTC)
    if offset:
        return value.astimezone(UTC)
    return value if value.tzinfo is UTC else value.replace(tzinfo=UTC)


def score_of(score: Any) -> float | None:
    """A 0..1 score from ``score.scaled``, else ``(raw - min) / (max - min)``; clamped to 0..1."""
    if type(score) is not dict:
        return None
    scaled = score.get("scaled")
    if scaled is not None and type(scaled) in (int, float):
        value = float(scaled)
    else:
        raw, low, high = score.get("raw"), score.get("min"), score.get("max")
        if not (_number(raw) and _number(low) and _number(high)) or not high > low:
            return None
        value = (raw - low) / (high - low)
    if not math.isfinite(value):
        return None
    return 0.0 if value < 0 else 1.0 if value > 1 else value


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
# One compiled verb rule: kind, success, cmi5 role, learner is the object.
_VerbRule = tuple[EvidenceKind, bool | None, str | None, bool]

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


def _scheme_variants(iri: str) -> tuple[str, ...]:
    if iri.startswith("http://"):
        return (iri, "https://" + iri.removeprefix("http://"))
    if iri.startswith("https://"):
        return (iri, "http://" + iri.removeprefix("https://"))
    return (iri,)


class StatementMapper:
    """Applies a :class:`MappingConfig` to parsed statements, one at a time.

    Stateless except for two bounded memories: the rules resolved per activity id (a
    cache), and the cmi5 launch data (moveOn, masteryScore) of ``launched`` statements
    seen, per registration and AU, so that later verdicts in the same read can honour them.
    """

    def __init__(self, config: MappingConfig) -> None:
        self.config = config
        self._identities = IdentityMap(config.identity)
        self._verbs: dict[str, _VerbRule] = {}
        for verb_rule in (*config.verbs, *config.add_verbs):
            compiled: _VerbRule = (
                verb_rule.kind,
                verb_rule.success,
                verb_rule.cmi5,
                verb_rule.learner_is_object,
            )
            for verb in verb_rule.verbs:
                variants = _scheme_variants(verb) if config.match_http_and_https else (verb,)
                for variant in variants:
                    self._verbs[variant] = compiled
        self._exact: dict[str, list[_Rule]] = {}
        self._prefixes: list[tuple[str, _Rule]] = []
        for activity in config.activities:
            verbs: frozenset[str] | None = None
            if activity.verbs:
                verbs = frozenset(
                    variant
                    for verb in activity.verbs
                    for variant in (
                        _scheme_variants(verb) if config.match_http_and_https else (verb,)
                    )
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
        self._rules_cache: dict[str, tuple[_Rule, ...]] = {}
        self._launches: OrderedDict[tuple[Any, str], tuple[Any, Any]] = OrderedDict()
        self._source = config.source_system
        self._visibility = config.visibility
        self._respect_move_on = config.cmi5.respect_move_on
        self._normal_only = config.cmi5.normal_mode_only
        self._ignore_computed = config.ignore_computed

    # The hot path: keep it flat. Checks that every statement must pass come first (bad
    # input is reported whatever the verb), then the cheapest rejections.
    def map(self, statement: Any) -> Outcome:  # noqa: PLR0915 - one flat hot loop body
        """What ``statement`` (parsed JSON) is: evidence, a void, skipped or bad."""
        if type(statement) is not dict:
            return BAD, ("a statement must be a JSON object", None)
        sid = statement.get("id")
        if type(sid) is not str or not sid:
            if sid is not None:
                return BAD, ("statement id must be a non-empty string", "id")
            sid = content_id(statement)
        actor = statement.get("actor")
        if type(actor) is not dict:
            return BAD, ("statement has no actor", "actor")
        verb = statement.get("verb")
        if type(verb) is not dict:
            return BAD, ("statement has no verb", "verb")
        verb_id = verb.get("id")
        if type(verb_id) is not str:
            return BAD, ("statement has no verb id", "verb.id")
        obj = statement.get("object")
        if type(obj) is not dict:
            return BAD, ("statement has no object", "object")
        rule = self._verbs.get(verb_id)
        if rule is None:
            if verb_id in _VOIDED_VERBS:
                target = obj.get("id")
                if obj.get("objectType") != "StatementRef" or type(target) is not str:
                    return BAD, ("a voiding statement's object must be a StatementRef", "object")
                return VOID, target
            if verb_id in _LAUNCHED_VERBS:
                self._remember_launch(statement, obj)
            return SKIP, "verb is no evidence"
        kind, verdict, cmi5_role, learner_is_object = rule
        object_type = obj.get("objectType")
        context = statement.get("context")
        if type(context) is not dict:
            context = None

        # Who.
        if learner_is_object:
            if object_type not in ("Agent", "Group"):
                return SKIP, "object is not the learner"
            learner = self._identities.learner(obj)
        else:
            if object_type is not None and object_type != "Activity":
                return SKIP, f"object is a {object_type}"
            learner = self._identities.learner(actor)
        if learner is None:
            return SKIP, "unknown learner"

        # Which competencies.
        rules: tuple[_Rule, ...] = ()
        competencies: list[str] = []
        object_id = obj.get("id")
        if not learner_is_object and type(object_id) is str:
            rules = self._rules_for(object_id)
            for competencies_of, _, _, _, verbs, when in rules:
                if verbs is not None and verb_id not in verbs:
                    continue
                if when and not _matches(context, when):
                    continue
                competencies.extend(competencies_of)
            key = self._competency_of_iri(object_id)
            if key is not None:
                competencies.append(key)
        if context is not None and (self._search_context or self._competency_ext):
            self._context_competencies(context, competencies)
        if not competencies:
            return SKIP, "no competency for the activity"

        # The result.
        result = statement.get("result")
        score: float | None = None
        success: bool | None = None
        if type(result) is dict:
            if self._ignore_computed:
                extensions = result.get("extensions")
                if type(extensions) is dict and wire.EXPLANATION_EXT in extensions:
                    return SKIP, "computed proficiency statement"
            score = score_of(result.get("score"))
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
            mastery = extensions.get(wire.CMI5_MASTERY_SCORE_EXT)
            move_on = extensions.get(wire.CMI5_MOVE_ON_EXT)
            if self._normal_only:
                mode = extensions.get(wire.CMI5_LAUNCH_MODE_EXT)
                if mode is not None and mode != "Normal":
                    return SKIP, f"cmi5 launchMode {mode} carries no judgement"
        if cmi5_role is not None and (mastery is None or move_on is None):
            launch = self._launch_of(context, object_id)
            if launch is not None:
                if move_on is None:
                    move_on = launch[0]
                if mastery is None:
                    mastery = launch[1]
        rule_kind: EvidenceKind | None = None
        for _, kind_of, mastery_of, move_on_of, _, _ in rules:
            if rule_kind is None:
                rule_kind = kind_of
            if mastery is None:
                mastery = mastery_of
            if move_on is None:
                move_on = move_on_of
        if (
            cmi5_role is not None
            and self._respect_move_on
            and move_on is not None
            and _is_cmi5(context)
        ):
            roles = _MOVE_ON_ROLES.get(move_on)
            if roles is not None and cmi5_role not in roles:
                return SKIP, f"cmi5 moveOn {move_on}: {cmi5_role} does not count"
        if (
            score is not None
            and _number(mastery)
            and type(result) is dict
            and type(result.get("score")) is dict
            and _number(result["score"].get("scaled"))
        ):
            success = score >= mastery
        if success is None:
            confidence = extensions.get(wire.TLA_CONFIDENCE_EXT) if extensions else None
            success = verdict if not _number(confidence) else confidence >= 0
        if score is None and success is None:
            return SKIP, "no result (score or success)"

        # When.
        stored = statement.get("stored")
        observed = parse_instant(statement.get("timestamp"))
        recorded = parse_instant(stored) if stored is not None else None
        if observed is None:
            if statement.get("timestamp") is not None:
                return BAD, ("timestamp is not an ISO 8601 date-time", "timestamp")
            if recorded is None:
                return BAD, ("statement has neither timestamp nor stored", "timestamp")
            observed = recorded
        expires: datetime | None = None
        if extensions is not None and _EXPIRES_EXT in extensions:
            expires = parse_instant(extensions[_EXPIRES_EXT])
            if expires is not None and expires <= observed:
                expires = None

        evidence_kind = rule_kind or kind
        made: list[Evidence] = []
        seen: set[str] = set()
        for competency in competencies:
            if competency in seen:
                continue
            seen.add(competency)
            values = _EVIDENCE_TEMPLATE.copy()
            values["id"] = f"xapi:{sid}:{competency}"
            values["learner"] = learner
            values["competency"] = competency
            values["kind"] = evidence_kind
            values["score"] = score
            values["success"] = success
            values["observed_at"] = observed
            values["recorded_at"] = recorded
            values["source_system"] = self._source
            values["source_id"] = sid
            values["expires_at"] = expires
            values["visibility"] = self._visibility
            made.append(_make_evidence(values))
        return EVIDENCE, made

    def _rules_for(self, object_id: str) -> tuple[_Rule, ...]:
        cached = self._rules_cache.get(object_id)
        if cached is not None:
            return cached
        found: list[_Rule] = list(self._exact.get(object_id, ()))
        found.extend(rule for prefix, rule in self._prefixes if object_id.startswith(prefix))
        rules = tuple(found)
        if len(self._rules_cache) >= _CACHE_LIMIT:
            self._rules_cache.clear()
        self._rules_cache[object_id] = rules
        return rules

    def _competency_of_iri(self, iri: str) -> str | None:
        key = self._iris.get(iri)
        if key is None and self._iri_base is not None and iri.startswith(self._iri_base):
            rest = iri[len(self._iri_base) :]
            if _is_key(rest):
                return rest
        return key

    def _context_competencies(self, context: dict[str, Any], into: list[str]) -> None:
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
                                    into.append(key)
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
                            into.append(key)

    def _remember_launch(self, statement: dict[str, Any], obj: dict[str, Any]) -> None:
        context = statement.get("context")
        if type(context) is not dict:
            return
        extensions = context.get("extensions")
        if type(extensions) is not dict:
            return
        move_on = extensions.get(wire.CMI5_MOVE_ON_EXT)
        mastery = extensions.get(wire.CMI5_MASTERY_SCORE_EXT)
        if move_on is None and mastery is None:
            return
        object_id = obj.get("id")
        if type(object_id) is not str:
            return
        if len(self._launches) >= _LAUNCH_LIMIT:
            self._launches.popitem(last=False)  # O(1); dict's next(iter()) is not
        self._launches[(context.get("registration"), object_id)] = (move_on, mastery)

    def _launch_of(self, context: dict[str, Any] | None, object_id: Any) -> tuple[Any, Any] | None:
        if not self._launches or context is None or type(object_id) is not str:
            return None
        return self._launches.get((context.get("registration"), object_id))


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
    return any(type(item) is dict and item.get("id") == wire.CMI5_CATEGORY for item in category)


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
    the framework is given (``raw``/``min``/``max`` in scale points); the explanation,
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
            top = scale.max_points
            scaled = proficiency.score / top if top > 0 else None
            score = wire.OutScore(
                scaled=None if scaled is None else max(-1.0, min(1.0, round(scaled, 6))),
                raw=proficiency.score,
                min=scale.min_points if scale.min_points < top else None,
                max=top if scale.min_points < top else None,
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
