"""Comparing the fake's answers with recorded answers of the real Moodle 5.0."""

from __future__ import annotations

import json
from typing import Any

from tests.moodle.fake_moodle import URL

RECORDED_SITE = "http://127.0.0.1:8080"
VOLATILE = frozenset(
    {
        "timecreated",
        "timemodified",
        "userdate",
        "cid",
        "template",
        "profileimageurl",
        "profileimageurlsmall",
    }
)
"""Fields whose values depend on the clock or the theme: their presence is checked only."""


def assert_like_recording(recorded: Any, ours: Any, where: str = "") -> None:
    """Every field the recording holds is in the fake's answer with the same value (URLs
    of the recorded site read as the fake's), volatile fields only present; a list has
    the recorded length."""
    if isinstance(recorded, dict):
        assert isinstance(ours, dict), f"{where}: fake answered {ours!r}"
        for key, value in recorded.items():
            assert key in ours, f"{where}.{key} missing in the fake's answer"
            if key not in VOLATILE:
                assert_like_recording(value, ours[key], f"{where}.{key}")
    elif isinstance(recorded, list):
        assert isinstance(ours, list), f"{where}: fake answered {ours!r}"
        assert len(recorded) == len(ours), f"{where}: {len(recorded)} items, fake {len(ours)}"
        for i, (a, b) in enumerate(zip(recorded, ours, strict=True)):
            assert_like_recording(a, b, f"{where}[{i}]")
    elif isinstance(recorded, str) and recorded.startswith(("{", "[")):
        # JSON inside a string (a batch's data and exception, scale configurations):
        # compared decoded, since PHP's json_encode writes "\\/" for "/".
        assert isinstance(ours, str), f"{where}: fake answered {ours!r}"
        assert_like_recording(json.loads(recorded), json.loads(ours), f"{where}(json)")
    elif isinstance(recorded, str):
        assert recorded.replace(RECORDED_SITE, URL) == ours, (
            f"{where}: recorded {recorded!r}, fake {ours!r}"
        )
    else:
        assert recorded == ours, f"{where}: recorded {recorded!r}, fake {ours!r}"
