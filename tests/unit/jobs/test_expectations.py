"""Expected generation times: the median of this bot's own history, its fallbacks, and the store
query behind it on a real SQLite file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.jobs.expectations import (
    HISTORY_MIN,
    Eta,
    EtaBasis,
    Forecast,
    bar_fraction,
    expected_generation,
    late_after_s,
    learned_eta,
    settle_shown,
)
from bot.storage.store import SqlStore
from bot.video.seedance import SEEDANCE_1_5_PRO
from bot.video.wan import WAN_SPICY
from tests.factories import delivered_job

T0 = datetime(2025, 3, 15, 10, 0, 0, tzinfo=UTC)


# learned_eta -----------------------------------------------------------------------------------


@pytest.mark.parametrize("history", [[], [90.0], [90.0, 100.0]])
def test_too_few_jobs_teach_nothing(history: list[float]) -> None:
    assert len(history) < HISTORY_MIN
    assert learned_eta(history) is None


def test_the_median_of_an_odd_and_an_even_history_is_learned() -> None:
    assert learned_eta([100.0, 60.0, 80.0]) == Eta(80.0, EtaBasis.HISTORY, 3)
    assert learned_eta([100.0, 60.0, 80.0, 70.0]) == Eta(75.0, EtaBasis.HISTORY, 4)


def test_one_very_slow_job_does_not_move_the_median_much() -> None:
    learned = learned_eta([70.0, 75.0, 80.0, 85.0, 3600.0])

    assert learned is not None
    assert learned.seconds == 80.0


# expected_generation: the fallback order -------------------------------------------------------

LEARNED = Eta(90.0, EtaBasis.HISTORY, 3)
DOCUMENTED = SEEDANCE_1_5_PRO.documented_estimate_s
SEEDANCE = SEEDANCE_1_5_PRO.id


def test_before_any_history_or_estimate_the_documented_time_is_used() -> None:
    assert expected_generation(None, None, DOCUMENTED) == Eta(DOCUMENTED[1], EtaBasis.DOCS)


def test_the_documented_time_is_the_jobs_own_models() -> None:
    wan = WAN_SPICY.documented_estimate_s

    assert expected_generation(None, None, wan) == Eta(15.0, EtaBasis.DOCS)


def test_without_history_the_high_end_of_the_api_estimate_is_used() -> None:
    assert expected_generation(None, (30.0, 45.0), DOCUMENTED) == Eta(45.0, EtaBasis.API)


def test_history_is_used_before_the_job_is_estimated() -> None:
    assert expected_generation(LEARNED, None, DOCUMENTED) == LEARNED


def test_history_inside_the_api_estimate_stands() -> None:
    assert expected_generation(LEARNED, (60.0, 120.0), DOCUMENTED) == LEARNED


@pytest.mark.parametrize(
    ("estimate", "expected"), [((120.0, 240.0), 120.0), ((20.0, 40.0), 40.0)], ids=["slow", "fast"]
)
def test_history_clearly_at_odds_with_the_api_estimate_moves_into_its_range(
    estimate: tuple[float, float], expected: float
) -> None:
    assert expected_generation(LEARNED, estimate, DOCUMENTED) == Eta(expected, EtaBasis.API)


# bar fraction, lateness, the ready time shown while waiting ------------------------------------


@pytest.mark.parametrize(
    ("elapsed_s", "seconds", "fraction"), [(0, 90, 0.0), (45, 90, 0.5), (180, 90, 2.0)]
)
def test_bar_fraction_is_elapsed_over_the_eta(
    elapsed_s: float, seconds: float, fraction: float
) -> None:
    assert bar_fraction(elapsed_s, Eta(seconds, EtaBasis.HISTORY, 5)) == fraction


def test_bar_fraction_of_a_zero_eta_stays_empty() -> None:
    assert bar_fraction(10, Eta(0.0, EtaBasis.API)) == 0.0


@pytest.mark.parametrize(
    ("estimate", "late_after"), [(None, 110.0), ((60.0, 105.0), 110.0), ((60.0, 150.0), 150.0)]
)
def test_a_job_is_late_past_its_eta_by_a_tenth_and_past_the_api_estimate(
    estimate: tuple[float, float] | None, late_after: float
) -> None:
    assert late_after_s(Eta(100.0, EtaBasis.HISTORY, 5), estimate) == pytest.approx(late_after)


def test_a_forecast_is_late_only_after_its_late_moment() -> None:
    forecast = Forecast(29, Eta(100.0, EtaBasis.HISTORY, 5), ready_at=T0, late_at=T0)

    assert not forecast.is_late(T0)
    assert forecast.is_late(T0 + timedelta(seconds=1))


def test_the_shown_ready_time_holds_while_the_wait_drifts_a_little() -> None:
    eta = Eta(120.0, EtaBasis.DOCS)

    assert settle_shown(None, 1000.0, eta) == 1000.0
    assert settle_shown(1000.0, 1030.0, eta) == 1000.0  # within a quarter of 120 s
    assert settle_shown(1000.0, 1031.0, eta) == 1031.0


def test_the_shown_ready_time_tolerates_at_least_30_seconds() -> None:
    eta = Eta(20.0, EtaBasis.HISTORY, 5)

    assert settle_shown(1000.0, 1030.0, eta) == 1000.0
    assert settle_shown(1000.0, 1031.0, eta) == 1031.0


# Store.recent_generation_s ---------------------------------------------------------------------


async def test_no_history_gives_no_times(store: SqlStore) -> None:
    assert await store.recent_generation_s(SEEDANCE, "720p", 5, 50) == []


async def test_times_are_kept_apart_by_resolution_and_duration(store: SqlStore) -> None:
    await delivered_job(store, 70, at=T0)
    await delivered_job(store, 80, resolution="1080p", at=T0)
    await delivered_job(store, 90, duration_s=10, at=T0)

    assert await store.recent_generation_s(SEEDANCE, "720p", 5, 50) == [70.0]
    assert await store.recent_generation_s(SEEDANCE, "1080p", 5, 50) == [80.0]
    assert await store.recent_generation_s(SEEDANCE, "720p", 10, 50) == [90.0]
    assert await store.recent_generation_s(SEEDANCE, "480p", 5, 50) == []


async def test_times_are_kept_apart_by_model(store: SqlStore) -> None:
    await delivered_job(store, 70, at=T0)
    await delivered_job(store, 12, at=T0, model=WAN_SPICY.id)

    assert await store.recent_generation_s(SEEDANCE, "720p", 5, 50) == [70.0]
    assert await store.recent_generation_s(WAN_SPICY.id, "720p", 5, 50) == [12.0]
    assert await store.recent_generation_s("veo3-i2v", "720p", 5, 50) == []


async def test_only_delivered_jobs_count(store: SqlStore) -> None:
    await delivered_job(store, 70, at=T0)
    await delivered_job(store, 500, failed=True, at=T0)

    assert await store.recent_generation_s(SEEDANCE, "720p", 5, 50) == [70.0]


async def test_the_latest_jobs_come_first_and_the_count_is_bounded(store: SqlStore) -> None:
    for i, took in enumerate([60, 70, 80, 90]):
        await delivered_job(store, took, at=T0 + timedelta(minutes=i))

    assert await store.recent_generation_s(SEEDANCE, "720p", 5, 3) == [90.0, 80.0, 70.0]
