"""One exception tree for the whole library, rooted at :class:`CompAdaptersError`.

Callers catch the branch they can act on: a :class:`ValidationError` means the input must be
fixed (it lists every problem with its location), a :class:`RetriableRemoteError` may succeed
later, a :class:`FatalRemoteError` will not. No error message ever carries a secret: remote
errors hold a redacted URL, never headers or tokens.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from comp_adapters._http.redaction import redact_url

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Problem:
    """One located problem found in an input: where it is and what is wrong.

    ``file`` and ``line`` locate problems in files (JSON lines, CSV); ``key`` and ``field``
    locate them inside a document (a competency key and the field that is wrong).
    """

    message: str
    file: str | None = None
    line: int | None = None
    key: str | None = None
    field: str | None = None
    severity: Severity = "error"

    @property
    def location(self) -> str:
        parts: list[str] = []
        if self.file is not None:
            parts.append(self.file if self.line is None else f"{self.file}:{self.line}")
        elif self.line is not None:
            parts.append(f"line {self.line}")
        if self.key is not None:
            parts.append(f"competency {self.key!r}")
        if self.field is not None:
            parts.append(f"field {self.field!r}")
        return ", ".join(parts)

    def __str__(self) -> str:
        where = self.location
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{where}: {prefix}{self.message}" if where else f"{prefix}{self.message}"

    def with_file(self, file: str) -> Problem:
        """The same problem, attributed to ``file`` when it names no file yet."""
        if self.file is not None:
            return self
        return Problem(self.message, file, self.line, self.key, self.field, self.severity)


class CompAdaptersError(Exception):
    """Root of every error this library raises on purpose."""


class ConfigurationError(CompAdaptersError):
    """Settings are missing or contradictory (a URL without a token, an unknown format...)."""


SHOWN_PROBLEMS = 20
"""Problems a message lists before "... and N more" (a broken file may have 100,000)."""


def problem_lines(problems: Iterable[Problem], *, limit: int = SHOWN_PROBLEMS) -> list[str]:
    """The first ``limit`` problems, one a line, then "... and N more" if there are more."""
    shown: list[str] = []
    more = 0
    for problem in problems:
        if len(shown) < limit:
            shown.append(str(problem))
        else:
            more += 1
    if more:
        shown.append(f"... and {more} more")
    return shown


class ValidationError(CompAdaptersError):
    """Input failed validation; :attr:`problems` holds every problem found, each located.

    The message lists the first :data:`SHOWN_PROBLEMS` of them and says how many more.
    """

    def __init__(self, problems: Iterable[Problem], *, summary: str | None = None) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        errors = sum(1 for p in self.problems if p.severity == "error")
        warnings = len(self.problems) - errors
        head = summary or f"{errors} error{'s' if errors != 1 else ''}" + (
            f", {warnings} warning{'s' if warnings != 1 else ''}" if warnings else ""
        )
        lines = [head, *(f"  {line}" for line in problem_lines(self.problems))]
        super().__init__("\n".join(lines))

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")


class MappingError(CompAdaptersError):
    """Data is valid on its own but cannot be expressed in the other system's model."""


class RemoteError(CompAdaptersError):
    """A remote system refused or failed a request.

    Carries what is needed to act on it and to report it, and nothing secret: the URL is
    redacted here (user info and sensitive query values), whoever raises the error.
    """

    def __init__(
        self,
        message: str,
        *,
        adapter: str,
        operation: str,
        url: str | None = None,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        self.adapter = adapter
        self.operation = operation
        self.url = redact_url(url) if url else url
        self.status = status
        self.code = code
        self.request_id = request_id
        self.detail = message
        super().__init__(self._render())

    def _render(self) -> str:
        facts = [f"{self.adapter} {self.operation}"]
        if self.status is not None:
            facts.append(f"HTTP {self.status}")
        if self.code:
            facts.append(f"code {self.code}")
        if self.request_id:
            facts.append(f"request id {self.request_id}")
        if self.url:
            facts.append(self.url)
        return f"{self.detail} ({'; '.join(facts)})"


class RetriableRemoteError(RemoteError):
    """May succeed when tried again later: rate limits, 5xx, timeouts, dropped connections."""

    def __init__(
        self,
        message: str,
        *,
        adapter: str,
        operation: str,
        url: str | None = None,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(
            message,
            adapter=adapter,
            operation=operation,
            url=url,
            status=status,
            code=code,
            request_id=request_id,
        )


class RateLimitedError(RetriableRemoteError):
    """The remote throttled us (429, or a vendor's own spelling of it)."""


class FatalRemoteError(RemoteError):
    """Will fail the same way again until something changes (credentials, data, ids)."""


class TLSError(FatalRemoteError):
    """The TLS handshake failed (an untrusted or expired certificate, a wrong host name):
    trying again changes nothing until the trust settings or the server change."""


class AuthenticationError(FatalRemoteError):
    """Credentials are missing, wrong or expired."""


class PermissionDeniedError(FatalRemoteError):
    """Credentials are valid but not allowed to do this."""


class NotFoundError(FatalRemoteError):
    """The addressed record or endpoint does not exist."""


class ConflictError(FatalRemoteError):
    """The remote holds something that clashes (a duplicate id, a record in use)."""


class StoreError(CompAdaptersError):
    """The state store (mappings, cursors, journal) failed or holds inconsistent data."""


class TargetBusyError(StoreError):
    """Another worker holds the lease on this target: wait for it, or try again later.

    :attr:`holder` names who holds it (``host:pid`` and a label) when the store knows.
    """

    def __init__(self, message: str, *, target: str, holder: str | None = None) -> None:
        self.target = target
        self.holder = holder
        super().__init__(message)


class PlanError(CompAdaptersError):
    """A plan cannot be made or applied."""


class StalePlanError(PlanError):
    """The target changed since the plan was made: plan again before applying."""


class GovernanceError(CompAdaptersError):
    """A governance rule refused the step: changing a released version, approving one's own
    draft, releasing without the approvals the policy requires, a draft for a live target."""


__all__ = [
    "SHOWN_PROBLEMS",
    "AuthenticationError",
    "CompAdaptersError",
    "ConfigurationError",
    "ConflictError",
    "FatalRemoteError",
    "GovernanceError",
    "MappingError",
    "NotFoundError",
    "PermissionDeniedError",
    "PlanError",
    "Problem",
    "RateLimitedError",
    "RemoteError",
    "RetriableRemoteError",
    "StalePlanError",
    "StoreError",
    "TLSError",
    "TargetBusyError",
    "ValidationError",
    "problem_lines",
]
