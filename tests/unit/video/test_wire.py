"""parse_estimate: the API's `estimated_time` text read as a range of seconds."""

from __future__ import annotations

import pytest

from bot.video.wire import parse_estimate


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("60-120s", (60.0, 120.0)),
        ("90s", (90.0, 90.0)),
        ("  30 - 45 s", (30.0, 45.0)),
        ("60-120", (60.0, 120.0)),
        ("1.5-2.5s", (1.5, 2.5)),
        ("120-60s", (60.0, 120.0)),
    ],
)
def test_parse_estimate_reads_seconds_and_ranges(text: str, expected: tuple[float, float]) -> None:
    assert parse_estimate(text) == expected


@pytest.mark.parametrize(
    "text", [None, "", "   ", "about a minute", "60-120ms", "2m", "-5s", "60-s", "60 120s"]
)
def test_parse_estimate_of_missing_or_unreadable_text_is_none(text: str | None) -> None:
    assert parse_estimate(text) is None
