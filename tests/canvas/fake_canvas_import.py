"""The fake Canvas's outcomes CSV import, restating Canvas's own code step by step.

``OutcomeImport#run`` (the job: row errors end ``succeeded``; a ``DataFormatError`` or any
other exception ends ``failed`` with one error on row 1), ``Outcomes::CSVImporter`` (file
checks, separator, Ruby's CSV parser, headers, batches of 1000 rows each in a transaction,
ratings and numbers in the account's locale) and ``Outcomes::Import`` (what each row does).
Messages are Canvas's, lists printed as Ruby's ``inspect`` prints them.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from . import ruby_csv

if TYPE_CHECKING:
    from .fake_canvas import FakeCanvas, Job

REQUIRED_FIELDS = ("title", "vendor_guid", "object_type")
OPTIONAL_FIELDS = (
    "canvas_id",
    "course_id",
    "description",
    "friendly_description",
    "display_name",
    "parent_guids",
    "calculation_method",
    "calculation_int",
    "mastery_points",
    "workflow_state",
)
"""``Outcomes::CSVImporter::REQUIRED_FIELDS`` / ``OPTIONAL_FIELDS``."""
GROUP_ONLY_FIELDS = ("course_id",)
OBJECT_ONLY_FIELDS = ("calculation_method", "calculation_int", "ratings")
VALID_WORKFLOWS = (None, "", "active", "deleted")
BATCH_SIZE = 1000
NUMBER_FORMATS = {"en": (".", ","), "de": (",", "."), "nl": (",", "."), "da": (",", ".")}
"""(separator, delimiter) of ``number.format`` in the locales the tests use."""


class DataFormatError(Exception):
    """``Outcomes::Import::DataFormatError``: the import fails with this message on row 1."""


class InvalidDataError(Exception):
    """``Outcomes::Import::InvalidDataError`` (and ``CSVImporter::ParseError`` in a row)."""


class Unexpected(Exception):  # noqa: N818 - any other exception Ruby raises
    """An exception ``parse_batch`` does not rescue (a ``NoMethodError``, a refused last
    link): the batch's transaction rolls back and the import fails."""


def ruby_inspect(items: list[str]) -> str:
    """``Array#inspect`` of strings: ``["a", "b"]``."""
    return (
        "["
        + ", ".join('"' + i.replace("\\", "\\\\").replace('"', '\\"') + '"' for i in items)
        + "]"
    )


def ruby_float_text(value: float) -> str:
    """``Float#to_s`` for the numbers of the rating messages (``5.0``, ``2.5``)."""
    return repr(float(value))


def number_format(locale: str | None) -> tuple[str, str]:
    language = re.split(r"[-_]", locale or "en", maxsplit=1)[0].lower()
    return NUMBER_FORMATS.get(language, NUMBER_FORMATS["en"])


_RUBY_FLOAT = re.compile(r"[+-]?(?:\d(?:_?\d)*)?(?:\.\d(?:_?\d)*)?(?:[eE][+-]?\d+)?")


def strict_parse_float(text: str, name: str, locale: str | None) -> float:
    """``CSVImporter#strict_parse_float``: ``normalize_i18n`` (drop the locale's delimiter,
    its separator to ``.``), then Ruby's ``Float()``."""
    failure = InvalidDataError(f'Invalid value for {name}: "{text}"')
    if not text.strip():
        raise failure
    separator, delimiter = number_format(locale)
    normalized = text.replace(delimiter, "").replace(separator, ".").strip()
    if not _RUBY_FLOAT.fullmatch(normalized) or not re.search(r"\d", normalized):
        raise failure
    return float(normalized.replace("_", ""))


def i18n_n(value: Any, locale: str | None) -> str:
    """``I18n.n`` as the export writes points: integers plain, floats as Ruby prints them,
    with the locale's delimiter and separator (``1,000.0``, ``2,5``)."""
    if value is None:
        return ""
    separator, delimiter = number_format(locale)
    if isinstance(value, int) and not isinstance(value, bool):
        whole, fraction = str(value), ""
    else:
        text = repr(float(value))
        whole, _, fraction = text.partition(".")
    grouped = re.sub(r"(\d)(?=(\d{3})+$)", rf"\1{delimiter}", whole)
    return grouped + (separator + fraction if fraction else "")


def _check_encoding(row: list[ruby_csv.Cell]) -> None:
    """``CSVImporter#check_encoding``: undecodable bytes came in as surrogates."""
    for cell in row:
        if cell is not None and any(0xDC80 <= ord(ch) <= 0xDCFF for ch in cell):
            raise InvalidDataError(f"Not a valid utf-8 string: {cell!r}")


def _present(value: Any) -> bool:
    """Rails' ``present?``: not nil, not blank (whitespace is blank)."""
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, list | dict):
        return bool(value)
    return True


class ImportRun:
    """One run of ``OutcomeImport#run`` on the fake's state."""

    def __init__(self, fake: FakeCanvas, job: Job) -> None:
        self.fake = fake
        self.job = job
        self.context = job.context
        self.import_id = job.id
        self.locale = fake.default_locale(job.context)
        self.roots: dict[str, int] = {}

    # -- OutcomeImport#run / CSVImporter#parse_file --------------------------------------------

    def run(self) -> None:
        job = self.job
        try:
            self.parse_file()
        except DataFormatError as exc:
            job.errors.append([1, str(exc)])
            job.state = "failed"
            return
        except Unexpected:
            job.errors.append([1, f"An unexpected error has occurred: see error report {job.id}"])
            job.state = "failed"
            return
        job.state = "succeeded"  # row errors do not fail the import

    def parse_file(self) -> None:
        text = self.job.payload
        if ruby_csv.line_count(text) < 1:
            raise DataFormatError("File has no data")
        if text.startswith("\ufeff"):  # test_header_i18n skips a byte order mark
            text = text[1:]
        separator = ruby_csv.choose_separator(text)
        try:
            rows = ruby_csv.parse(text, separator)
            malformed = False
        except ruby_csv.MalformedCSVError:
            # Rows are read lazily, a batch of 1000 at a time: batches before the bad line
            # were imported; the one holding it never starts.
            rows, malformed = self._rows_before_error(text, separator), True
        numbered = [(row, index) for index, row in enumerate(rows, start=1)]
        batches = [numbered[i : i + BATCH_SIZE] for i in range(0, len(numbered), BATCH_SIZE)]
        if malformed and batches and len(batches[-1]) < BATCH_SIZE:
            batches.pop()
        headers: list[str] | None = None
        for batch in batches:
            if headers is None:
                headers = self.validate_headers(batch.pop(0)[0])
                if not batch:
                    raise DataFormatError("File has no outcomes data")
            saved = self.fake.state()
            try:
                errors = self.parse_batch(headers, batch)
            except Unexpected:
                self.fake.restore(saved)  # Account.transaction rolls the batch back
                raise
            self.job.errors.extend(errors)
        if malformed:
            raise DataFormatError("Invalid CSV File")
        if headers is None:
            raise DataFormatError("File has no outcomes data")

    @staticmethod
    def _rows_before_error(text: str, separator: str) -> list[list[ruby_csv.Cell]]:
        lines = re.split(r"(?<=\n)|(?<=\r)(?!\n)", text)
        good: list[list[ruby_csv.Cell]] = []
        for end in range(len(lines), 0, -1):
            try:
                good = ruby_csv.parse("".join(lines[:end]), separator)
                break
            except ruby_csv.MalformedCSVError:
                continue
        return good[:-1] if good else good

    def validate_headers(self, row: list[ruby_csv.Cell]) -> list[str]:
        end = row.index("ratings") if "ratings" in row else len(row)
        names = row[:end]
        if any(name is None for name in names):
            raise Unexpected("undefined method `to_sym' for nil")
        headers = [str(name) for name in names]
        after = [str(c) for c in row[end + 1 :] if _present(c)]
        if after:
            raise DataFormatError(f"Invalid fields after ratings: {ruby_inspect(after)}")
        missing = [f for f in REQUIRED_FIELDS if f not in headers]
        if missing:
            raise DataFormatError(f"Missing required fields: {ruby_inspect(missing)}")
        invalid = [h for h in headers if h not in REQUIRED_FIELDS + OPTIONAL_FIELDS]
        if invalid:
            raise DataFormatError(f"Invalid fields: {ruby_inspect(invalid)}")
        return headers

    def parse_batch(
        self, headers: list[str], batch: list[tuple[list[ruby_csv.Cell], int]]
    ) -> list[list[Any]]:
        from .fake_canvas import LastLinkToOutcomeNotDestroyed, ModelInvalid  # noqa: PLC0415

        errors: list[list[Any]] = []
        for row, line in batch:
            try:
                _check_encoding(row)
                if not all(not _present(c) for c in row):
                    self.import_row(headers, row)
            except InvalidDataError as exc:
                errors.append([line, str(exc)])
            except ModelInvalid as exc:  # RecordInvalid: every full message
                errors.extend(
                    [line, f"{k.replace('_', ' ').capitalize()} {v}"] for k, v in exc.errors.items()
                )
            except LastLinkToOutcomeNotDestroyed as exc:
                raise Unexpected(str(exc)) from exc
        return errors

    # -- one row, as CSVImporter.import_row reads it ------------------------------------------

    def import_row(self, headers: list[str], row: list[ruby_csv.Cell]) -> None:
        simple: dict[str, Any] = {
            h: (row[i] if i < len(row) else None) for i, h in enumerate(headers)
        }
        if len(headers) > len(row):  # row[headers.length..] is nil: drop_trailing_nils crashes
            raise Unexpected("undefined method `last' for nil")
        obj = dict(simple)
        obj["ratings"] = self.parse_ratings(list(row[len(headers) :]))
        if _present(obj.get("mastery_points")):
            obj["mastery_points"] = strict_parse_float(
                str(obj["mastery_points"]), "mastery points", self.locale
            )
        friendly = obj.get("friendly_description")
        if _present(friendly) and len(str(friendly)) > 255:
            raise InvalidDataError("Friendly description is too long (maximum is 255 characters)")
        self.import_object(obj)

    def parse_ratings(self, cells: list[ruby_csv.Cell]) -> list[dict[str, Any]]:
        while cells and cells[-1] is None:
            cells.pop()
        ratings: list[dict[str, Any]] = []
        prior: float | None = None
        for index, start in enumerate(range(0, len(cells), 2), start=1):
            points_text = cells[start]
            description = cells[start + 1] if start + 1 < len(cells) else None
            if not _present(points_text):
                raise InvalidDataError(f"Points for rating tier {index} not present")
            points = strict_parse_float(
                str(points_text), f"rating tier {index} threshold", self.locale
            )
            if prior is not None and prior < points:
                raise InvalidDataError(
                    f"Points for tier {index} must be less than points for prior tier "
                    f"({ruby_float_text(points)} is greater than {ruby_float_text(prior)})"
                )
            prior = points
            ratings.append({"points": points, "description": description})
        return ratings

    # -- Outcomes::Import ----------------------------------------------------------------------

    def import_object(self, obj: dict[str, Any]) -> None:
        for name in ("vendor_guid", "title"):
            if not _present(obj.get(name)):
                raise InvalidDataError(f'The "{name}" field is required')
        if re.search(r"\s", str(obj["vendor_guid"])):
            raise InvalidDataError('The "vendor_guid" field must have no spaces')
        if obj.get("workflow_state") not in VALID_WORKFLOWS:
            raise InvalidDataError('"workflow_state" must be either "active" or "deleted"')
        kind = obj.get("object_type")
        if kind == "outcome":
            self.import_outcome(obj)
        elif kind == "group":
            self.import_group(obj)
        else:
            raise InvalidDataError(f'Invalid object_type: "{kind or ""}"')

    def root(self, context: str) -> dict[str, Any]:
        return self.fake.groups[self.fake.root_id(context)]

    def find_parents(
        self, obj: dict[str, Any], context: str, *, allow_indirect: bool
    ) -> list[dict[str, Any]]:
        text = obj.get("parent_guids")
        if not _present(text):
            return [self.root(context)]
        guids = list(dict.fromkeys(str(text).split()))
        found = [
            g
            for g in self.fake.groups.values()
            if g.get("import_id") == self.import_id
            and g["vendor_guid"] in guids
            and (allow_indirect or g["context"] == context)
        ]
        missing = [guid for guid in guids if guid not in {g["vendor_guid"] for g in found}]
        if missing:
            raise InvalidDataError(
                f"Parent references not found prior to this row: {ruby_inspect(missing)}"
            )
        return found

    def import_group(self, group: dict[str, Any]) -> None:
        invalid = [k for k in group if _present(group[k]) and k in OBJECT_ONLY_FIELDS]
        if invalid:
            raise InvalidDataError(f"Invalid fields for a group: {ruby_inspect(invalid)}")
        from .fake_canvas import context_name  # noqa: PLC0415

        group_context = self.context
        if _present(group.get("course_id")):
            if not self.context.startswith("accounts/"):
                raise InvalidDataError("Cannot import to other courses")
            course = str(group["course_id"]).strip()
            if not course.isdigit():
                raise InvalidDataError(f"Course with canvas id {course} not found")
            group_context = f"courses/{course}"
            if not self.fake.child_context(group_context, of=self.context):
                raise InvalidDataError(
                    f"Target course {course} is not a child of current account "
                    f"({context_name(self.context)})"
                )
        model = self.find_prior_group(group, group_context)
        parents = self.find_parents(group, group_context, allow_indirect=False)
        if len(parents) > 1:
            raise InvalidDataError("An outcome group can only have one parent")
        if model.get("import_id") == self.import_id:
            raise InvalidDataError(
                f'Group "{group["vendor_guid"]}" has already appeared in this import'
            )
        state = group.get("workflow_state") or "active"
        model.update(
            vendor_guid=group["vendor_guid"],
            title=group["title"],
            description=group.get("description") or "",
            parent_id=parents[0]["id"],
            active=state == "active",
            import_id=self.import_id,
        )
        self.fake.groups[model["id"]] = model
        if state == "deleted":
            model["active"] = True
            self.fake.destroy_group(model)

    def find_prior_group(self, group: dict[str, Any], context: str) -> dict[str, Any]:
        guid = group["vendor_guid"]
        matches = sorted(
            (
                g
                for g in self.fake.groups.values()
                if g["context"] == context and g["vendor_guid"] == guid
            ),
            key=lambda g: (not g["active"], g["id"]),
        )
        if matches:
            return matches[0]
        found = re.search(r"canvas_outcome_group:(\d+)", guid)
        if found:
            by_id = self.fake.groups.get(int(found.group(1)))
            if by_id is None:
                raise InvalidDataError(
                    f"Outcome group with canvas id {group.get('canvas_id') or ''} not found"
                )
            if by_id["context"] == context:
                return by_id
        return {"id": next(self.fake.ids), "context": context, "import_id": None}

    def find_prior_outcome(self, outcome: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """(model, new record): by id for a guid containing ``canvas_outcome:<id>``
        (unanchored), else by vendor_guid across the instance, active first - deleted
        outcomes match too."""
        guid = outcome["vendor_guid"]
        found = re.search(r"canvas_outcome:(\d+)", guid)
        if found:
            by_id = self.fake.outcomes.get(int(found.group(1)))
            if by_id is None:
                raise InvalidDataError(
                    f'Outcome with canvas id "{outcome.get("canvas_id") or ""}" not found'
                )
            return by_id, False
        matches = sorted(
            (o for o in self.fake.outcomes.values() if o["vendor_guid"] == guid),
            key=lambda o: (not o["active"], o["id"]),
        )
        if matches:
            return matches[0], False
        return {"vendor_guid": guid}, True

    def import_outcome(self, outcome: dict[str, Any]) -> None:
        from .fake_canvas import DEFAULT_CRITERION, ModelInvalid, context_name  # noqa: PLC0415

        invalid = [k for k in outcome if _present(outcome[k]) and k in GROUP_ONLY_FIELDS]
        if invalid:
            raise InvalidDataError(f"Invalid fields for an outcome: {ruby_inspect(invalid)}")
        model, new_record = self.find_prior_outcome(outcome)
        fake = self.fake
        if new_record:
            model = {
                "id": next(fake.ids),
                "context": self.context,
                "title": None,
                "display_name": None,
                "description": None,
                "vendor_guid": outcome["vendor_guid"],
                "calculation_method": None,
                "calculation_int": None,
                "active": True,
                "import_id": None,
                **{
                    k: (list(v) if isinstance(v, list) else v) for k, v in DEFAULT_CRITERION.items()
                },
            }
        if not fake.child_context(self.context, of=model["context"]):
            raise InvalidDataError(
                f"Outcome with ID {outcome['vendor_guid']} already exists in another unrelated "
                f"course or account ({context_name(model['context'])})"
            )
        allow_indirect = "course_id" in outcome
        parents = self.find_parents(outcome, self.context, allow_indirect=allow_indirect)
        if model.get("import_id") == self.import_id:
            raise InvalidDataError(
                f'Outcome "{outcome["vendor_guid"]}" has already appeared in this import'
            )
        draft = dict(model)
        draft["vendor_guid"] = outcome["vendor_guid"]
        draft["title"] = outcome["title"]
        for name in ("description", "display_name"):  # infer_nil_value
            current, prior = outcome.get(name), model.get(name)
            draft[name] = prior if not _present(current) and not _present(prior) else current
        method = (
            outcome.get("calculation_method")
            if _present(outcome.get("calculation_method"))
            else None
        )
        method = method or fake.default_method()
        value = outcome.get("calculation_int") if _present(outcome.get("calculation_int")) else None
        errors = fake.save_method(
            draft,
            method,
            value if value is not None else fake.default_int(method),
            new_record=new_record,
            int_given=True,
        )
        deleted_row = outcome.get("workflow_state") == "deleted"
        if not deleted_row:
            draft["active"] = True
        prior_ratings = [(r["points"], r["description"]) for r in model["ratings"]]
        ratings = outcome["ratings"]
        wanted = [(r["points"], r["description"]) for r in ratings]
        if (_present(ratings) and wanted != prior_ratings) or (
            outcome.get("mastery_points") is not None
            and outcome.get("mastery_points") != model["mastery_points"]
        ):
            draft.update(fake.criterion(ratings, outcome.get("mastery_points")))
        if model["context"] == self.context:
            if errors:
                raise ModelInvalid(errors)
            draft["import_id"] = self.import_id
            model.clear()
            model.update(draft)
            fake.outcomes[model["id"]] = model
        else:
            changes = self._changes(model, draft)
            if changes:
                raise InvalidDataError(
                    f"Cannot modify outcome from another context: {ruby_inspect(changes)}; "
                    f'outcome must be modified in "{context_name(model["context"])}"'
                )
        self.update_outcome_parents(
            model, [] if deleted_row else parents, allow_indirect=allow_indirect
        )
        key = (model["context"], model["id"])
        if _present(outcome.get("friendly_description")):
            fake.friendly[key] = {"description": outcome["friendly_description"], "active": True}
        elif key in fake.friendly:
            fake.friendly[key]["active"] = False

    @staticmethod
    def _changes(model: dict[str, Any], draft: dict[str, Any]) -> list[str]:
        """``model.changes.keys`` of an outcome that is not saved (attribute names)."""
        names = {
            "vendor_guid": "vendor_guid",
            "title": "short_description",
            "description": "description",
            "display_name": "display_name",
            "calculation_method": "calculation_method",
            "calculation_int": "calculation_int",
            "active": "workflow_state",
            "ratings": "data",
        }
        changed = [attr for key, attr in names.items() if draft.get(key) != model.get(key)]
        if changed == ["vendor_guid"]:
            return []
        return list(dict.fromkeys(changed))

    def update_outcome_parents(
        self, outcome: dict[str, Any], parents: list[dict[str, Any]], *, allow_indirect: bool
    ) -> None:
        """Links set to exactly ``parents``, as ``Outcomes::Import#update_outcome_parents``.

        Deleted links to a parent come back; new parents are linked first; other links are
        removed only in the outcome's own context (or, with a ``course_id`` column, in the
        importing account and its courses) and never where the outcome is aligned in the
        link's context; an outcome left without any link is deleted.
        """
        fake = self.fake
        next_ids = [p["id"] for p in parents]
        existing = [k for k in fake.links.values() if k["outcome_id"] == outcome["id"]]
        existing_parent_ids = {k["group_id"] for k in existing}
        for link in existing:
            if link["group_id"] in next_ids and not link["active"]:
                link["active"] = True
        new_ids = [gid for gid in dict.fromkeys(next_ids) if gid not in existing_parent_ids]
        for gid in new_ids:
            group = fake.groups[gid]
            fake._link_outcome(group["context"], gid, outcome["id"])
        if allow_indirect and self.context.startswith("accounts/"):
            scope = {self.context} | {
                k["context"] for k in fake.links.values() if k["context"].startswith("courses/")
            }
        else:
            scope = {outcome["context"]}
        keeper = False
        for link in existing:
            if link["group_id"] in next_ids or not link["active"] or link["context"] not in scope:
                continue
            aligned = any(
                a["outcome_id"] == outcome["id"] and a["context"] == link["context"]
                for a in fake.alignments
            )
            if aligned:
                keeper = True
                continue
            link["active"] = False
        if not (keeper or new_ids or fake._links_of(outcome["id"])):
            fake.destroy_outcome(outcome)
