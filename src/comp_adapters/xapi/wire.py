"""xAPI payloads: vocabulary IRIs, the consumer query, lenient inbound and strict outbound models.

Inbound models are lax (``extra="allow"``: 2.0 properties such as ``contextAgents`` and
vendor fields never break a read) and keep strings as sent (``result.duration`` is compared
as a string by LRSs, so it is never normalised). The hot path of evidence mapping works on
plain parsed dicts instead of these models (see :mod:`comp_adapters.xapi.mapping`): pydantic
validation of a whole statement costs ~3x ``json.loads``, and ingesting millions of
statements must stay close to the JSON parser's speed. Outbound statements (proficiency
written back) are strict: ``extra="forbid"``, so we never send a property an LRS rejects.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator, model_validator

from comp_adapters.core.timeutil import format_utc
from comp_adapters.xapi.instant import Instant

# -- versions --------------------------------------------------------------------------------

SUPPORTED_VERSIONS = ("2.0.0", "1.0.3")
"""xAPI versions this library speaks, most preferred first."""
FALLBACK_VERSION = "1.0.3"
"""The version used with an LRS that has no About resource (every 1.0.x LRS accepts it)."""

VERSION_HEADER = "X-Experience-API-Version"
CONSISTENT_THROUGH_HEADER = "X-Experience-API-Consistent-Through"

# -- vocabulary ------------------------------------------------------------------------------

ADL_VERBS = "http://adlnet.gov/expapi/verbs/"
ADL_W3ID_VERBS = "https://w3id.org/xapi/adl/verbs/"
TLA_VERBS = "https://w3id.org/xapi/tla/verbs/"
DOD_ISD_VERBS = "https://w3id.org/xapi/dod-isd/verbs/"

VERB_VOIDED = ADL_VERBS + "voided"
VERB_PASSED = ADL_VERBS + "passed"
VERB_FAILED = ADL_VERBS + "failed"
VERB_COMPLETED = ADL_VERBS + "completed"
VERB_LAUNCHED = ADL_VERBS + "launched"
VERB_ACHIEVED = TLA_VERBS + "achieved"

TLA_COMPETENCY_TYPE = "https://w3id.org/xapi/tla/activity-types/competency"
"""The registered competency activity type (TLA profile); ADL has none."""
LEARNER_COMPETENCY_PROFILE = "https://w3id.org/xapi/learnercompetency"
TLA_CONFIDENCE_EXT = "https://w3id.org/xapi/tla/extensions/confidence"

CMI5_CATEGORY = "https://w3id.org/xapi/cmi5/context/categories/cmi5"
CMI5_MOVEON_CATEGORY = "https://w3id.org/xapi/cmi5/context/categories/moveon"
CMI5_MASTERY_SCORE_EXT = "https://w3id.org/xapi/cmi5/context/extensions/masteryscore"
CMI5_MOVE_ON_EXT = "https://w3id.org/xapi/cmi5/context/extensions/moveon"
CMI5_LAUNCH_MODE_EXT = "https://w3id.org/xapi/cmi5/context/extensions/launchmode"

COMP_ADAPTERS_EXT = "https://comp-adapters.org/xapi/extensions/"
"""Prefix of the extensions this library writes on proficiency statements."""
EXPLANATION_EXT = COMP_ADAPTERS_EXT + "explanation"
LEVEL_EXT = COMP_ADAPTERS_EXT + "level"
METHOD_EXT = COMP_ADAPTERS_EXT + "method"
EVIDENCE_EXT = COMP_ADAPTERS_EXT + "evidence"

MoveOn = Literal["Passed", "Completed", "CompletedAndPassed", "CompletedOrPassed", "NotApplicable"]
"""cmi5 moveOn values (launch data / course structure)."""

# -- the consumer query ----------------------------------------------------------------------

Format = Literal["ids", "exact", "canonical"]


class StatementQuery(BaseModel):
    """Every filter ``GET /statements`` offers a consumer (xAPI 1.0.3 Part 3 §2.1.3).

    Booleans travel as ``true``/``false`` and the agent as JSON, as the spec requires; unset
    filters are left out of the URL (LRSs reject unknown or empty parameters).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    statement_id: str | None = None
    voided_statement_id: str | None = None
    agent: dict[str, JsonValue] | None = None
    verb: str | None = None
    activity: str | None = None
    registration: str | None = None
    related_activities: bool | None = None
    related_agents: bool | None = None
    since: datetime | str | None = None
    until: datetime | str | None = None
    """An instant; text is sent exactly (every fractional digit it has, normalised to UTC),
    a ``datetime`` at millisecond precision (see :func:`format_timestamp`)."""
    limit: int | None = Field(default=None, ge=0)
    format: Format | None = None
    attachments: bool | None = None
    ascending: bool | None = None

    @field_validator("since", "until")
    @classmethod
    def _instant_text(cls, value: datetime | str | None) -> datetime | str | None:
        if isinstance(value, str):
            instant = Instant.parse(value)
            if instant is None:
                raise ValueError(f"not an ISO 8601 timestamp: {value!r}")
            return instant.text()
        return value

    def to_params(self) -> dict[str, str]:
        """Query parameters in xAPI spelling, ready for ``requests``."""
        params: dict[str, str] = {}
        names = {
            "statement_id": "statementId",
            "voided_statement_id": "voidedStatementId",
        }
        for name, value in self:
            if value is None:
                continue
            key = names.get(name, name)
            if isinstance(value, bool):
                params[key] = "true" if value else "false"
            elif isinstance(value, datetime):
                params[key] = format_timestamp(value)
            elif isinstance(value, dict):
                params[key] = json.dumps(value, separators=(",", ":"), sort_keys=True)
            else:
                params[key] = str(value)
        return params


def format_timestamp(value: datetime) -> str:
    """An instant as xAPI wants it: UTC, milliseconds, ``Z`` (e.g. ``2026-01-31T09:00:00.000Z``).

    Truncating is exact for ``stored > since`` on LRSs that store milliseconds; for the
    cursor, which must keep the precision an LRS gives (the ADL LRS stores microseconds),
    the adapter sends an exact :class:`~comp_adapters.xapi.instant.Instant` as text.
    """
    text = format_utc(value.replace(microsecond=value.microsecond // 1000 * 1000))
    head, _, tail = text.removesuffix("Z").partition(".")
    return f"{head}.{(tail or '0')[:3].ljust(3, '0')}Z"


# -- inbound (lenient) -----------------------------------------------------------------------


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)


class About(_Lenient):
    """``GET /about``: the versions the LRS speaks (and its extensions)."""

    version: list[str] = Field(default_factory=list)
    extensions: dict[str, Any] = Field(default_factory=dict)


class Account(_Lenient):
    home_page: str = Field(alias="homePage")
    name: str


class Agent(_Lenient):
    """An Agent or Group; exactly one IFI identifies it (groups may be anonymous)."""

    object_type: str | None = Field(default=None, alias="objectType")
    name: str | None = None
    mbox: str | None = None
    mbox_sha1sum: str | None = None
    openid: str | None = None
    account: Account | None = None
    member: list[Agent] | None = None


class Verb(_Lenient):
    id: str
    display: dict[str, str] | None = None


class ActivityDefinition(_Lenient):
    name: dict[str, str] | None = None
    description: dict[str, str] | None = None
    type: str | None = None
    more_info: str | None = Field(default=None, alias="moreInfo")
    extensions: dict[str, Any] | None = None


class StatementObject(_Lenient):
    """An Activity, Agent/Group, StatementRef or SubStatement (told apart by objectType)."""

    object_type: str | None = Field(default=None, alias="objectType")
    id: str | None = None
    definition: ActivityDefinition | None = None


class Score(_Lenient):
    scaled: float | None = None
    raw: float | None = None
    min: float | None = None
    max: float | None = None


class Result(_Lenient):
    score: Score | None = None
    success: bool | None = None
    completion: bool | None = None
    response: str | None = None
    duration: str | None = None
    extensions: dict[str, Any] | None = None


class Context(_Lenient):
    registration: str | None = None
    context_activities: dict[str, Any] | None = Field(default=None, alias="contextActivities")
    extensions: dict[str, Any] | None = None

    @field_validator("context_activities")
    @classmethod
    def _lists(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        # 0.95 producers send a single object where the spec wants a list.
        if value is None:
            return None
        return {k: v if isinstance(v, list) else [v] for k, v in value.items()}


class Statement(_Lenient):
    """A statement as read (1.0.x or 2.0): unknown properties kept, nothing rewritten."""

    id: str | None = None
    actor: Agent
    verb: Verb
    object: StatementObject
    result: Result | None = None
    context: Context | None = None
    timestamp: str | None = None
    stored: str | None = None
    authority: Agent | None = None
    version: str | None = None


class StatementResult(_Lenient):
    """A page of ``GET /statements``: statements and the relative ``more`` link."""

    statements: list[dict[str, Any]] = Field(default_factory=list)
    more: str | None = None


# -- outbound (strict) -----------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def to_json(self) -> dict[str, Any]:
        """The xAPI JSON form (camelCase aliases, unset members left out)."""
        data: dict[str, Any] = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        return data


class OutAccount(_Strict):
    home_page: str = Field(alias="homePage", min_length=1)
    name: str = Field(min_length=1)


class OutAgent(_Strict):
    """An Agent with exactly one IFI."""

    object_type: Literal["Agent"] = Field(default="Agent", alias="objectType")
    name: str | None = None
    mbox: str | None = Field(default=None, pattern=r"^mailto:[^@\s]+@[^@\s]+$")
    mbox_sha1sum: str | None = Field(default=None, pattern=r"^[0-9a-f]{40}$")
    openid: str | None = None
    account: OutAccount | None = None

    @model_validator(mode="after")
    def _one_ifi(self) -> OutAgent:
        given = [self.mbox, self.mbox_sha1sum, self.openid, self.account]
        if sum(value is not None for value in given) != 1:
            raise ValueError("an Agent needs exactly one of mbox, mbox_sha1sum, openid, account")
        return self


class OutVerb(_Strict):
    id: str = Field(min_length=1)
    display: dict[str, str]


class OutDefinition(_Strict):
    name: dict[str, str] | None = None
    description: dict[str, str] | None = None
    type: str | None = None


class OutActivity(_Strict):
    object_type: Literal["Activity"] = Field(default="Activity", alias="objectType")
    id: str = Field(min_length=1)
    definition: OutDefinition | None = None


class OutScore(_Strict):
    scaled: float | None = Field(default=None, ge=-1, le=1)
    raw: float | None = None
    min: float | None = None
    max: float | None = None


class OutResult(_Strict):
    score: OutScore | None = None
    success: bool | None = None
    completion: bool | None = None
    extensions: dict[str, JsonValue] | None = None


class OutContextActivities(_Strict):
    category: list[OutActivity] | None = None
    grouping: list[OutActivity] | None = None


class OutContext(_Strict):
    context_activities: OutContextActivities | None = Field(default=None, alias="contextActivities")
    extensions: dict[str, JsonValue] | None = None


class OutStatement(_Strict):
    """A statement we write: every member is one the 1.0.3 and 2.0 data models define."""

    id: str = Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
    actor: OutAgent
    verb: OutVerb
    object: OutActivity
    result: OutResult | None = None
    context: OutContext | None = None
    timestamp: str
