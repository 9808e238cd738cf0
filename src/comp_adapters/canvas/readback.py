"""Reading a Canvas context's outcome tree, and the polled jobs: outcome imports and exports.

The REST lists (groups and links, all pages) are what planning reads. After a CSV import,
the context is read back to confirm each change: in an account through an outcome export
report (a few requests whatever the size), in a course through the REST lists. Imports and
reports run in Canvas's background jobs and are polled, with growing pauses, up to
``max_polls`` times.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from comp_adapters.canvas import mapping
from comp_adapters.canvas.client import CanvasClient
from comp_adapters.canvas.csv_format import tree_from_csv_text
from comp_adapters.canvas.mapping import OutcomeTree
from comp_adapters.errors import FatalRemoteError, RetriableRemoteError

MAX_POLL_PAUSE = 10.0
"""Seconds: the pause between polls of an import grows by half each time, up to this."""


class OutcomeImportError(FatalRemoteError):
    """An outcomes CSV import failed, or succeeded with row errors (a partial import)."""

    def __init__(self, message: str, *, row_errors: Sequence[tuple[int, str]] = ()) -> None:
        self.row_errors = tuple(row_errors)
        rows = "; ".join(f"row {row}: {text}" for row, text in self.row_errors[:10])
        super().__init__(
            f"{message}{': ' + rows if rows else ''}",
            adapter="canvas",
            operation="outcome import",
        )


@dataclass(frozen=True, slots=True)
class Readback:
    """Reads one context's tree and runs its polled jobs."""

    client: CanvasClient
    poll_interval: float = 2.0
    max_polls: int = 120
    locale: str | None = None

    def tree(self) -> OutcomeTree:
        """Every group and link of the context (REST, all pages)."""
        groups = list(self.client.list_outcome_groups())
        links = list(self.client.list_outcome_links())
        return mapping.tree_from_rest(groups, links)

    def exported_tree(self) -> OutcomeTree:
        """The context as Canvas now holds it: an outcome export report in an account
        (a few requests whatever the size), the REST lists in a course."""
        if self.client.context.kind != "account":
            return self.tree()
        report = self.client.start_outcome_export()
        for _ in range(self.max_polls):
            if report.status == "complete":
                break
            if report.status in ("error", "deleted", "aborted"):
                raise FatalRemoteError(
                    f"the outcome export report ended {report.status}",
                    adapter="canvas",
                    operation="export outcomes",
                )
            time.sleep(self.poll_interval)
            report = self.client.get_outcome_export(report.id)
        else:
            raise RetriableRemoteError(
                "the outcome export report is still running; try again later",
                adapter="canvas",
                operation="export outcomes",
            )
        url = report.attachment.url if report.attachment else report.file_url
        if not url:
            raise FatalRemoteError(
                "the outcome export report has no file", adapter="canvas", operation="export"
            )
        return tree_from_csv_text(
            self.client.download_text(url),
            source="outcome export",
            lenient=True,
            locale=self.locale,
        )

    def with_friendly_descriptions(self, tree: OutcomeTree) -> OutcomeTree:
        """``tree`` with the friendly descriptions Canvas holds, where Canvas can tell.

        Canvas's REST lists never carry them (see :func:`mapping.outcome_node_from_wire`);
        an account's outcome export does (three requests). In a course they stay unknown.
        """
        if self.client.context.kind != "account" or not tree.outcomes:
            return tree
        exported = {o.guid: o.friendly_description for o in self.exported_tree().outcomes}
        return replace(
            tree,
            outcomes=tuple(
                replace(o, friendly_description=exported.get(o.guid, o.friendly_description))
                for o in tree.outcomes
            ),
        )

    def run_import(self, csv_text: str) -> int:
        """Import ``csv_text`` and wait for it; the import's id, or an error naming its rows.

        Still running after ``max_polls`` polls is retriable (the import goes on in Canvas);
        a failed import, or one that succeeded with row errors, is :class:`OutcomeImportError`.
        """
        job = self.client.start_outcome_import(csv_text)
        polls = 0
        pause = self.poll_interval
        while job.workflow_state not in ("succeeded", "failed"):
            if polls >= self.max_polls:
                raise RetriableRemoteError(
                    f"outcome import {job.id} still {job.workflow_state} after {polls} polls; "
                    "plan again later (the import goes on in Canvas)",
                    adapter="canvas",
                    operation="outcome import",
                )
            time.sleep(pause)
            pause = min(pause * 1.5, MAX_POLL_PAUSE)
            job = self.client.get_outcome_import(job.id)
            polls += 1
        if job.workflow_state == "failed":
            raise OutcomeImportError(
                f"outcome import {job.id} failed", row_errors=job.processing_errors
            )
        if job.processing_errors:
            hint = ""
            if any("another unrelated course or account" in m for _r, m in job.processing_errors):
                hint = (
                    " - Canvas matches vendor_guids across the instance, deleted outcomes "
                    "included: such an outcome lives (or was deleted) elsewhere; push these "
                    "with --strategy rest, which creates them here"
                )
            raise OutcomeImportError(
                f"outcome import {job.id} succeeded only in part "
                f"({len(job.processing_errors)} row error(s)){hint}",
                row_errors=job.processing_errors,
            )
        return job.id
