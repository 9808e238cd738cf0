"""Parsed evidence records to validated columns, without an Evidence object per record.

The fast half of :mod:`comp_adapters.evidence_reader`. Given a batch of dicts (each what
``orjson.loads`` made of one line), :func:`columns_of` checks every field the way
:class:`~comp_adapters.core.Evidence` does and returns the columns of the records it is
*certain* about, plus the positions of the others. Certain means: only the plain, common
spellings are accepted here (strings that are strings, numbers that are numbers, instants
``YYYY-MM-DDTHH:MM:SS[.ffffff](Z|±HH:MM)``); anything else — a wrong type, a lax spelling
pydantic would coerce, an unknown field, a missing result — is left to
``Evidence.model_validate_json`` on that line, which gives the exact value or the exact
error. So a record either yields the same row as Evidence would, or goes the slow way.

Keys (learner, competency, level) are checked once per distinct value, with the very
validators Evidence uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import compress, repeat
from operator import itemgetter
from typing import Any, Final

from pydantic import TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from comp_adapters.core.evidence import Evidence, EvidenceKind, LearnerKey, Visibility
from comp_adapters.core.scale import Key
from comp_adapters.rules.columnar import _NEVER, _NO_SEQUENCE, KINDS, _numpy

FIELDS: Final = frozenset(Evidence.model_fields)
_MISSING: Final = object()
_KIND_CODE: Final = {kind: code for code, kind in enumerate(KINDS)}
_VISIBILITIES: Final = frozenset(v.value for v in Visibility)
_TRI: Final = {None: -1, True: 1, False: 0}
_EPOCH_DAYS: Final = 719468  # days from 0000-03-01 to 1970-01-01 (civil-from-days algorithm)
assert set(_KIND_CODE) == {k.value for k in EvidenceKind}  # noqa: S101 - import-time invariant


class KeyIndex:
    """Distinct values of one key column: their codes, and which values are invalid."""

    def __init__(self, validator: TypeAdapter[Any]) -> None:
        self.codes: dict[str, int] = {}
        self.invalid: set[str] = set()
        self._validator = validator

    def codes_of(self, values: Sequence[Any]) -> Any:
        """The code of every value, -1 where it is not a valid key (non-strings included).

        Known values cost one dict look-up each; new ones are validated once, with the
        validator Evidence uses."""
        np = _numpy()
        get = self.codes.get
        try:
            found = np.fromiter(map(get, values, repeat(-1)), dtype=np.int32, count=len(values))
        except TypeError:  # an unhashable value (a list, an object): it is no key
            found = np.array([get(v, -1) if type(v) is str else -1 for v in values], dtype=np.int32)
        unknown = found < 0
        if unknown.any():
            fresh = [v for v in compress(values, unknown.tolist()) if type(v) is str]
            for value in dict.fromkeys(fresh):
                if value in self.invalid:
                    continue
                try:
                    self._validator.validate_python(value, strict=True)
                except PydanticValidationError:
                    self.invalid.add(value)
                else:
                    self.codes[value] = len(self.codes)
            found[unknown] = [
                get(v, -1) if type(v) is str else -1 for v in compress(values, unknown.tolist())
            ]
        return found

    def add(self, values: list[str]) -> Any:
        """Codes of values known to be valid (validated elsewhere), adding new ones."""
        np = _numpy()
        codes = self.codes
        return np.array([codes.setdefault(v, len(codes)) for v in values], dtype=np.int32)


@dataclass
class Indexes:
    """The key dictionaries of one table, shared by all its batches."""

    learner: KeyIndex
    competency: KeyIndex
    level: KeyIndex

    @classmethod
    def new(cls) -> Indexes:
        return cls(
            learner=KeyIndex(TypeAdapter(LearnerKey)),
            competency=KeyIndex(TypeAdapter(Key)),
            level=KeyIndex(TypeAdapter(Key)),
        )


@dataclass
class Batch:
    """Columns of the records accepted from one batch (``ids`` a list, the rest arrays;
    codes into the shared :class:`Indexes`), and the positions left to the slow path."""

    ids: list[str]
    columns: dict[str, Any]
    rejected: list[int]


def columns_of(  # noqa: PLR0915 - one check per field of Evidence, in a row
    records: Sequence[dict[str, Any]], indexes: Indexes
) -> Batch:
    """Validated columns of ``records`` (dicts), see the module docstring."""
    np = _numpy()
    n = len(records)
    bad = np.zeros(n, dtype=bool)
    by_field = _fields_of(records)
    keys: set[str] = set(by_field) if by_field is not None else set().union(*records)
    if not keys <= FIELDS:
        bad |= np.fromiter((not r.keys() <= FIELDS for r in records), dtype=bool, count=n)

    def get(name: str, default: Any = None) -> Sequence[Any]:
        if by_field is None:
            return list(map(dict.get, records, repeat(name), repeat(default)))
        found = by_field.get(name)
        return [default] * n if found is None else found

    def mark(values: Sequence[Any], wrong: Any) -> None:
        nonlocal bad
        bad |= np.fromiter(map(wrong, values), dtype=bool, count=n)

    ids = get("id")
    if set(map(type, ids)) != {str} or "" in ids:
        mark(ids, lambda v: type(v) is not str or not v)
    learner = indexes.learner.codes_of(get("learner"))
    bad |= learner < 0
    competency = indexes.competency.codes_of(get("competency"))
    bad |= competency < 0

    level = np.full(n, -1, dtype=np.int32)
    has_level = np.zeros(n, dtype=bool)
    if "level" in keys:
        levels = get("level")
        has_level = np.fromiter((v is not None for v in levels), dtype=bool, count=n)
        if has_level.any():
            level[has_level] = indexes.level.codes_of([v for v in levels if v is not None])
            bad |= has_level & (level < 0)

    kind = np.full(n, _KIND_CODE["other"], dtype=np.int8)
    if "kind" in keys:
        kinds = get("kind", "other")
        if not set(map(type, kinds)) <= {str}:
            kinds = [v if type(v) is str else "" for v in kinds]
        kind = np.fromiter(map(_KIND_CODE.get, kinds, repeat(-1)), dtype=np.int8, count=n)
        bad |= kind < 0

    score = np.full(n, np.nan)
    if "score" in keys:
        score, score_bad = _floats(np, get("score"))
        bad |= score_bad

    success = np.full(n, -1, dtype=np.int8)
    if "success" in keys:
        successes = get("success")
        if set(map(type, successes)) <= {bool, type(None)}:
            success = np.fromiter(map(_TRI.__getitem__, successes), dtype=np.int8, count=n)
        else:
            mark(successes, lambda v: v is not None and type(v) is not bool)
            success = np.fromiter((_TRI.get(v, -1) for v in successes), np.int8, n)

    voided = np.zeros(n, dtype=bool)
    if "voided" in keys:
        voids = get("voided", False)
        if set(map(type, voids)) != {bool}:
            mark(voids, lambda v: type(v) is not bool)
            voids = [v is True for v in voids]
        voided = np.array(voids, dtype=bool)

    if "visibility" in keys:
        visibility = get("visibility", "organisation")
        if not set(map(type, visibility)) <= {str} or not set(visibility) <= _VISIBILITIES:
            mark(visibility, lambda v: type(v) is not str or v not in _VISIBILITIES)
    for name in ("source_system", "source_id", "note"):
        if name in keys:
            texts = get(name)
            if not set(map(type, texts)) <= {str, type(None)}:
                mark(texts, lambda v: v is not None and type(v) is not str)

    sequence = np.full(n, _NO_SEQUENCE, dtype=np.int64)
    if "sequence" in keys:
        sequence, sequence_bad = _sequences(np, get("sequence"))
        bad |= sequence_bad

    observed, observed_bad = parse_instants(get("observed_at"))
    bad |= observed_bad
    recorded = observed
    if "recorded_at" in keys:
        recorded, recorded_bad = parse_instants(get("recorded_at"), optional=True)
        bad |= recorded_bad
        recorded = np.where(recorded == _NEVER, observed, recorded)
    expires = np.full(n, _NEVER, dtype=np.int64)
    if "expires_at" in keys:
        expires, expires_bad = parse_instants(get("expires_at"), optional=True)
        bad |= expires_bad
    # Evidence's model validator: a result is needed; expiry after observation.
    bad |= np.isnan(score) & ~has_level & (success < 0)
    bad |= expires <= observed

    good = ~bad
    kept_ids = list(ids) if not bad.any() else list(compress(ids, good.tolist()))
    return Batch(
        ids=kept_ids,
        columns={
            "learner": learner[good],
            "competency": competency[good],
            "kind": kind[good],
            "score": score[good],
            "level": level[good],
            "success": success[good],
            "observed_at": observed[good],
            "recorded_at": recorded[good],
            "expires_at": expires[good],
            "voided": voided[good],
            "sequence": sequence[good],
        },
        rejected=np.flatnonzero(bad).tolist(),
    )


def _fields_of(records: Sequence[dict[str, Any]]) -> dict[str, Sequence[Any]] | None:
    """Every field's values, read in one pass over the records, when every record has the
    same fields (the usual file: touching each dict once, not once per field, is what
    makes this faster); ``None`` otherwise. A record with as many fields as the first
    that has every field of the first (else ``KeyError``) has exactly those."""
    if not records or not records[0] or set(map(len, records)) != {len(records[0])}:
        return None
    names = tuple(records[0])
    if len(names) == 1:
        name = names[0]
        if not all(name in record for record in records):
            return None
        return {name: [record[name] for record in records]}
    try:
        rows = list(map(itemgetter(*names), records))
    except KeyError:
        return None
    return dict(zip(names, zip(*rows, strict=True), strict=True))


def _floats(np: Any, values: Sequence[Any]) -> tuple[Any, Any]:
    """Scores, NaN for ``None``, and a mask of those that are not a JSON number >= 0 (bools
    and strings, which pydantic would coerce, go the slow way)."""
    if not set(map(type, values)) <= {float, int, type(None)}:
        numeric = [v is None or type(v) in (float, int) for v in values]
        values = [v if fits else None for v, fits in zip(values, numeric, strict=True)]
        array = np.array(values, dtype=np.float64)
        return array, ~np.array(numeric, dtype=bool) | (array < 0)
    array = np.array(values, dtype=np.float64)  # orjson's integers fit in a float
    return array, array < 0


def _sequences(np: Any, values: Sequence[Any]) -> tuple[Any, Any]:
    """``sequence``: ``None`` or an integer in [-2**63, 2**63 - 1) (bools go the slow way)."""
    n = len(values)
    types = set(map(type, values))
    if types == {type(None)}:
        return np.full(n, _NO_SEQUENCE, dtype=np.int64), np.zeros(n, dtype=bool)
    ok = [v is None or (type(v) is int and -(2**63) <= v < _NO_SEQUENCE) for v in values]
    array = np.fromiter(
        (_NO_SEQUENCE if v is None or not good else v for v, good in zip(values, ok, strict=True)),
        dtype=np.int64,
        count=n,
    )
    return array, ~np.array(ok, dtype=bool)


# -- instants -------------------------------------------------------------------------------

_DIGITS: Final = (0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18)
_PUNCTUATION: Final = ((4, "-"), (7, "-"), (10, "T"), (13, ":"), (16, ":"))
_SHORTEST, _LONGEST = 20, 32  # 2026-01-01T00:00:00Z ... 2026-01-01T00:00:00.000000+00:00


def parse_instants(values: Sequence[Any], *, optional: bool = False) -> tuple[Any, Any]:
    """Microseconds since the epoch (UTC) of ISO 8601 instants, and a mask of the values
    this does not accept (anything but ``YYYY-MM-DDTHH:MM:SS[.f{1,6}](Z|±HH:MM)`` with a
    real date and time, years 2-9998; ``None`` too unless ``optional``, which gives the
    far-future "none" value)."""
    np = _numpy()
    n = len(values)
    bad = np.zeros(n, dtype=bool)
    micros = np.full(n, _NEVER, dtype=np.int64)
    if set(map(type, values)) <= {str}:
        strings = values
        present = np.ones(n, dtype=bool)
    else:
        present = np.fromiter((type(v) is str for v in values), dtype=bool, count=n)
        bad |= np.fromiter(
            (type(v) is not str and not (optional and v is None) for v in values),
            dtype=bool,
            count=n,
        )
        strings = list(compress(values, present.tolist()))
    if not strings:
        return micros, bad
    value, ok = _instants(np, strings)
    micros[present] = value
    bad[present] |= ~ok
    return micros, bad


def _instants(np: Any, strings: Sequence[str]) -> tuple[Any, Any]:
    n = len(strings)
    lengths = np.fromiter(map(len, strings), dtype=np.int64, count=n)
    ok = (lengths >= _SHORTEST) & (lengths <= _LONGEST)
    if not ok.all():
        filler = "0000-00-00T00:00:00Z"  # refused below, whatever it holds
        strings = [s if fits else filler for s, fits in zip(strings, ok.tolist(), strict=True)]
        lengths = np.where(ok, lengths, _SHORTEST)
    width = int(lengths.max())
    chars = np.array(strings, dtype=f"<U{width}").view(np.uint32).reshape(n, width)
    # The fixed part, YYYY-MM-DDTHH:MM:SS, in a few whole-array steps (one per position
    # cost ~60 NumPy calls a batch): the 14 digits, then the six numbers they make.
    digits = chars[:, _DIGITS].astype(np.int64) - 48
    ok &= ((digits >= 0) & (digits <= 9)).all(axis=1)
    year, month, day, hour, minute, second = (digits @ _digit_weights(np)).T
    marks = chars[:, [position for position, _ in _PUNCTUATION]]
    ok &= (marks == [ord(mark) for _, mark in _PUNCTUATION]).all(axis=1)
    if width == _SHORTEST:  # all as long as YYYY-MM-DDTHH:MM:SSZ: only a Z fits at the end
        ok &= chars[:, _SHORTEST - 1] == ord("Z")
        shift: Any = 0
        fraction: Any = 0
    else:
        shift, fraction = _zone_and_fraction(np, chars, lengths, width, ok)

    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_days = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
    ok &= (year >= 2) & (year <= 9998) & (month >= 1) & (month <= 12)
    safe_month = np.clip(month, 1, 12)
    ok &= (day >= 1) & (day <= month_days[safe_month] + (leap & (safe_month == 2)))
    ok &= (hour <= 23) & (minute <= 59) & (second <= 59)
    days = _days_from_civil(year, safe_month, day)
    seconds = days * 86400 + hour * 3600 + minute * 60 + second
    return (seconds - shift) * 1_000_000 + fraction, ok


def _zone_and_fraction(np: Any, chars: Any, lengths: Any, width: int, ok: Any) -> tuple[Any, Any]:
    """What follows the seconds: ``.f{1,6}`` and then ``Z`` or ``±HH:MM``. Returns the
    offset in seconds and the microseconds; clears ``ok`` (in place) where neither fits."""
    n = len(lengths)
    uniform = int(lengths.min()) == width
    rows = np.arange(n)

    def at(position: int | Any) -> Any:
        """Code points at ``position`` (from the start; an array: per row)."""
        if isinstance(position, int):
            return chars[:, position].astype(np.int64)
        return chars[rows, position].astype(np.int64)

    def from_end(k: int) -> int | Any:
        return width - k if uniform else np.maximum(lengths - k, 0)

    zulu = at(from_end(1)) == ord("Z")
    sign = at(from_end(6))
    offset = ~zulu & (lengths >= 25) & ((sign == ord("+")) | (sign == ord("-")))
    offset &= at(from_end(3)) == ord(":")
    off_digits = [at(from_end(k)) - 48 for k in (5, 4, 2, 1)]
    for value in off_digits:
        offset &= (value >= 0) & (value <= 9)
    ok &= zulu | offset
    body = np.where(zulu, lengths - 1, lengths - 6)  # end of the seconds and their fraction
    fraction_digits = body - 20
    has_fraction = (at(19) == ord(".")) & (fraction_digits >= 1) & (fraction_digits <= 6)
    ok &= (body == 19) | has_fraction
    fraction = np.zeros(n, dtype=np.int64)
    if has_fraction.any():
        for k in range(min(6, width - 20)):
            inside = k < fraction_digits
            value = at(20 + k) - 48
            ok &= ~inside | ((value >= 0) & (value <= 9))
            fraction += np.where(inside, value, 0) * 10 ** (5 - k)
    off_hour = np.where(offset, off_digits[0] * 10 + off_digits[1], 0)
    off_minute = np.where(offset, off_digits[2] * 10 + off_digits[3], 0)
    ok &= (off_hour <= 23) & (off_minute <= 59)
    shift = np.where(offset & (sign == ord("-")), -1, 1) * (off_hour * 3600 + off_minute * 60)
    return shift, fraction


def _digit_weights(np: Any) -> Any:
    """(14, 6): the digits at :data:`_DIGITS` times this are year, month, day, hour,
    minute, second (each a column)."""
    weights = np.zeros((len(_DIGITS), 6), dtype=np.int64)
    for column, (start, places) in enumerate(((0, 4), (4, 2), (6, 2), (8, 2), (10, 2), (12, 2))):
        for k in range(places):
            weights[start + k, column] = 10 ** (places - 1 - k)
    return weights


def _days_from_civil(year: Any, month: Any, day: Any) -> Any:
    """Days since 1970-01-01 of proleptic Gregorian dates (H. Hinnant's algorithm)."""
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    mp = (month + 9) % 12
    doy = (153 * mp + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - _EPOCH_DAYS
