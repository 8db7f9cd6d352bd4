"""The progress message's builders: the progress bar and the "generating" text."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.jobs import messages
from bot.jobs.expectations import Eta, EtaBasis, Forecast
from bot.jobs.model import FailureKind, GenerationSettings, RefusedInput
from tests.factories import job_as_stored, new_job

FULL = "█" * messages.BAR_WIDTH


@pytest.mark.parametrize("fraction", [0.99, 1.0, 1.5, 100.0])
def test_progress_bar_is_never_full_before_done(fraction: float) -> None:
    bar = messages.progress_bar(fraction)

    assert bar != FULL
    assert "░" in bar


@pytest.mark.parametrize("fraction", [0.0, -0.5, -100.0])
def test_progress_bar_is_empty_at_the_start(fraction: float) -> None:
    assert messages.progress_bar(fraction) == "░" * messages.BAR_WIDTH


@pytest.mark.parametrize("fraction", [-1.0, 0.0, 0.3, 0.5, 0.9, 1.0, 7.0])
def test_progress_bar_always_has_its_width(fraction: float) -> None:
    assert len(messages.progress_bar(fraction)) == messages.BAR_WIDTH
    assert len(messages.progress_bar(fraction, width=30)) == 30


def test_progress_bar_fills_with_the_fraction() -> None:
    assert messages.progress_bar(0.5, width=10) == "█" * 5 + "░" * 5


@pytest.mark.parametrize("width", [1, 2, 4, 10, 19, 20, 100])
def test_progress_bar_of_any_width_is_never_full_before_done(width: int) -> None:
    bar = messages.progress_bar(1.0, width=width)

    assert "░" in bar
    assert len(bar) == width


STARTED = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
JOB = job_as_stored(new_job(1001, now=STARTED), created_at=STARTED)


FORECAST = Forecast(
    29,
    Eta(120.0, EtaBasis.API),
    ready_at=STARTED + timedelta(seconds=120),
    late_at=STARTED + timedelta(seconds=132),
)


def test_generating_shows_the_start_and_the_ready_time_as_live_discord_timestamps() -> None:
    text = messages.generating(STARTED, 30, FORECAST, JOB).render()

    assert f"<t:{int(STARTED.timestamp())}:R>" in text
    assert f"expected <t:{int(STARTED.timestamp()) + 120}:R>" in text
    assert "cost $0.29" in text


def test_generating_text_changes_only_when_the_bar_moves() -> None:
    # 120 s ETA, 5 cells: the bar moves every 24 s (at 12, 36, 60 s, ...).
    assert messages.BAR_WIDTH == 5

    def at(elapsed_s: float) -> str:
        return messages.generating(STARTED, elapsed_s, FORECAST, JOB).render()

    assert at(37) == at(59)
    assert at(59) != at(61)


def test_generating_bar_follows_the_eta_not_the_api_range() -> None:
    at = STARTED + timedelta(seconds=60)
    learned = Forecast(29, Eta(60.0, EtaBasis.HISTORY, 12), ready_at=at, late_at=at)

    # 36 s of a 60 s ETA is three of five cells; against a 120 s high end it would be two.
    assert "`███░░`" in messages.generating(STARTED, 36, learned, JOB).render()


def test_generating_says_when_a_job_runs_late_and_keeps_the_bar_short_of_full() -> None:
    text = messages.generating(STARTED, 500, FORECAST, JOB, late=True).render()

    assert "taking longer than usual" in text
    assert "`████░`" in text


# Per model -------------------------------------------------------------------------------------

GROK = GenerationSettings(
    duration_s=6,
    resolution="720p",
    aspect_ratio="16:9",
    camera_fixed=None,
    seed=None,
    generate_audio=True,
)


def test_the_settings_line_names_the_model_and_only_the_options_it_has() -> None:
    seedance = messages.settings_line("seedance-1.5-pro-i2v", JOB.settings).render()
    grok = messages.settings_line("grok-imagine-video-i2v", GROK).render()

    assert seedance == (
        "`seedance-1.5-pro-i2v` · 5 s · 720p · aspect auto · seed 7 · moving camera · no audio"
    )
    assert grok == "`grok-imagine-video-i2v` · 6 s · 720p · aspect 16:9 · with audio"


def test_before_any_price_the_jobs_own_models_listed_price_is_shown() -> None:
    nothing_known = Forecast(None, Eta(120.0, EtaBasis.DOCS), STARTED, STARTED)
    veo = replace(JOB, model="veo3-i2v")

    assert "from $0.29" in messages.expectation(nothing_known, JOB).render()
    assert "from $1.32" in messages.expectation(nothing_known, veo).render()


def test_the_documented_time_shown_is_the_jobs_own_models() -> None:
    wan = replace(JOB, model="wan-2.2-spicy")

    assert messages.eta_basis(Eta(15.0, EtaBasis.DOCS), wan).render().endswith("5–15 s")
    assert messages.eta_basis(Eta(120.0, EtaBasis.DOCS), JOB).render().endswith("60–120 s")


def test_the_post_footer_names_the_model() -> None:
    assert messages.result_footer(replace(JOB, model="i2v-pro")).render() == (
        "Job #1 · MiniMax Hailuo 2.3 Pro"
    )


# Honest failures --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("api_error", "refused"),
    [
        (
            "Your request was flagged by content moderation. Please modify your prompt.",
            RefusedInput.PROMPT,
        ),
        ("last_image: could not be fetched", RefusedInput.LAST_IMAGE),
        ("The end image is too small", RefusedInput.LAST_IMAGE),
        ("image: could not be fetched; prompt: too long", RefusedInput.IMAGE),
        ("The output was flagged", RefusedInput.OUTPUT),
        ("Injected failure (HTTP 500)", None),
        (None, None),
    ],
)
def test_the_input_an_api_error_names_is_the_first_it_mentions(
    api_error: str | None, refused: RefusedInput | None
) -> None:
    assert messages.refused_input(api_error) is refused


def test_a_failure_with_a_cost_says_what_was_charged() -> None:
    told = messages.honest(messages.TIMED_OUT, 29, None, None).render()

    assert told.endswith("The video service charged $0.29 for this attempt.")


def test_a_failure_without_a_cost_says_nothing_was_charged_and_names_the_prompt() -> None:
    told = messages.honest(messages.api_rejected("bad prompt"), 0, None, RefusedInput.PROMPT)

    assert told.render() == (
        "The video service refused the request: “bad prompt”. You were not charged. "
        "The video service objected to the **prompt**: press **Edit prompt** to change it."
    )


def test_a_submit_whose_outcome_is_unknown_says_it_may_have_been_charged() -> None:
    told = messages.honest(
        messages.SUBMIT_OUTCOME_UNKNOWN, 100, FailureKind.SUBMIT_UNKNOWN, None
    ).render()

    assert "You may have been charged up to $1.00" in told
