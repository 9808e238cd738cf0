"""Canonical JSON and its SHA-256: the one way governance turns data into a fingerprint.

Canonical means sorted object keys, no insignificant whitespace, UTF-8 (not ``\\u`` escapes)
and no NaN or infinity, so the same data always gives the same bytes on every machine and
after a round trip through a store that keeps JSON as text. Content hashes of framework
versions, audit-entry hashes and before/after fingerprints of applied changes all use it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from comp_adapters.core.framework import Framework
from comp_adapters.native import framework_to_data

HASH_LENGTH = 64
"""Length of a hex SHA-256 digest."""


def canonical_json(value: Any) -> str:
    """The canonical JSON text of JSON-ready data (refuses NaN and infinity)."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def fingerprint(value: Any) -> str:
    """Hex SHA-256 of the canonical JSON of ``value``."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


def content_hash(framework: Framework) -> str:
    """Hex SHA-256 of the canonical framework document (what a native file holds).

    Two frameworks have the same hash exactly when their native documents are equal: the
    order competencies were listed in, or in which format they were read, does not matter.
    """
    return fingerprint(framework_to_data(framework))


def is_hex_digest(text: str) -> bool:
    """Whether ``text`` looks like a hex SHA-256 digest (64 lowercase hex digits)."""
    return len(text) == HASH_LENGTH and all(c in "0123456789abcdef" for c in text)
