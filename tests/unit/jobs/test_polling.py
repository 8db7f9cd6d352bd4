"""next_poll_delay: when the engine asks the API about a running job again."""

from __future__ import annotations

import pytest

from bot.jobs.generation import next_poll_delay

INTERVAL_S, MAX_S = 2.0, 10.0
ESTIMATE = (60.0, 120.0)


def delay(elapsed_s: float, estimate: tuple[float, float] | None = ESTIMATE) -> float:
    return next_poll_delay(elapsed_s, estimate, INTERVAL_S, MAX_S)


@pytest.mark.parametrize(("elapsed_s", "expected"), [(0, 60.0), (45, 15.0), (59.5, 0.5)])
def test_first_poll_waits_until_the_low_end_of_the_estimate(
    elapsed_s: float, expected: float
) -> None:
    assert delay(elapsed_s) == expected


@pytest.mark.parametrize("elapsed_s", [60, 90, 120])
def test_polls_run_every_interval_inside_the_estimate(elapsed_s: float) -> None:
    assert delay(elapsed_s) == INTERVAL_S


def test_polls_slow_down_once_the_estimate_is_exceeded() -> None:
    delays = [delay(elapsed) for elapsed in (120, 130, 150, 180, 200)]

    assert delays == sorted(delays)
    assert delays[0] < delays[-1]


@pytest.mark.parametrize("elapsed_s", [200, 500, 10_000, 1e9])
def test_poll_delay_never_exceeds_the_maximum(elapsed_s: float) -> None:
    assert delay(elapsed_s) == MAX_S


def test_without_an_estimate_polling_starts_at_once() -> None:
    assert delay(0, None) == INTERVAL_S


def test_without_an_estimate_polling_slows_after_a_minute() -> None:
    assert delay(30, None) == INTERVAL_S
    assert INTERVAL_S < delay(90, None) <= MAX_S
