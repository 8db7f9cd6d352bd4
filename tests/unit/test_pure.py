"""Pure functions: estimate parsing, poll pacing, the progress bar, input checks, link expiry."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.errors import UserError
from bot.jobs import messages, request_messages
from bot.jobs.expectations import Eta, EtaBasis, Forecast
from bot.jobs.generation import next_poll_delay
from bot.jobs.model import ImageInput
from bot.jobs.request import ImageRules, check_image, check_image_bytes, clean_prompt
from bot.media.files import SNIFF_BYTES, link_expires_within
from bot.video.wire import parse_estimate
from tests.factories import IMAGE, SETTINGS

# parse_estimate --------------------------------------------------------------------------------


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


# next_poll_delay -------------------------------------------------------------------------------

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


# progress_bar ----------------------------------------------------------------------------------

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


FORECAST = Forecast(
    29,
    Eta(120.0, EtaBasis.API),
    ready_at=STARTED + timedelta(seconds=120),
    late_at=STARTED + timedelta(seconds=132),
)


def test_generating_shows_the_start_and_the_ready_time_as_live_discord_timestamps() -> None:
    text = messages.generating(STARTED, 30, FORECAST, SETTINGS).render()

    assert f"<t:{int(STARTED.timestamp())}:R>" in text
    assert f"expected <t:{int(STARTED.timestamp()) + 120}:R>" in text
    assert "cost $0.29" in text


def test_generating_text_changes_only_when_the_bar_moves() -> None:
    # 120 s ETA, 5 cells: the bar moves every 24 s (at 12, 36, 60 s, ...).
    assert messages.BAR_WIDTH == 5

    def at(elapsed_s: float) -> str:
        return messages.generating(STARTED, elapsed_s, FORECAST, SETTINGS).render()

    assert at(37) == at(59)
    assert at(59) != at(61)


def test_generating_bar_follows_the_eta_not_the_api_range() -> None:
    at = STARTED + timedelta(seconds=60)
    learned = Forecast(29, Eta(60.0, EtaBasis.HISTORY, 12), ready_at=at, late_at=at)

    # 36 s of a 60 s ETA is three of five cells; against a 120 s high end it would be two.
    assert "`███░░`" in messages.generating(STARTED, 36, learned, SETTINGS).render()


def test_generating_says_when_a_job_runs_late_and_keeps_the_bar_short_of_full() -> None:
    text = messages.generating(STARTED, 500, FORECAST, SETTINGS, late=True).render()

    assert "taking longer than usual" in text
    assert "`████░`" in text


# clean_prompt ----------------------------------------------------------------------------------


def test_clean_prompt_strips_surrounding_whitespace() -> None:
    assert clean_prompt("  \n The cat blinks \t", 100) == "The cat blinks"


@pytest.mark.parametrize("prompt", ["", "   ", "\n\t ", "\u200b\u200d", " \ufeff\u2060 "])
def test_empty_prompt_is_refused_with_an_example(prompt: str) -> None:
    with pytest.raises(UserError) as caught:
        clean_prompt(prompt, 100)

    assert caught.value.user_message == request_messages.PROMPT_EMPTY
    assert "Describe what should happen" in caught.value.user_message.render()


def test_prompt_with_zero_width_characters_around_words_is_kept_as_is() -> None:
    assert clean_prompt("the\u200bcat", 100) == "the\u200bcat"


def test_prompt_of_exactly_the_limit_is_accepted() -> None:
    assert clean_prompt("x" * 100, 100) == "x" * 100


def test_prompt_over_the_limit_is_refused_naming_length_and_limit() -> None:
    with pytest.raises(UserError) as caught:
        clean_prompt("x" * 101, 100)

    assert "101 characters" in caught.value.user_message.render()
    assert "shorten it to at most 100" in caught.value.user_message.render()


def test_prompt_limit_counts_after_stripping() -> None:
    assert clean_prompt("   " + "x" * 100 + "   ", 100) == "x" * 100


# check_image -----------------------------------------------------------------------------------

RULES = ImageRules(
    max_bytes=30_000_000, min_side_px=300, max_side_px=6000, min_aspect=0.4, max_aspect=2.5
)


def refusal(image: ImageInput, label: str = "image") -> str:
    with pytest.raises(UserError) as caught:
        check_image(image, RULES, label)
    return caught.value.user_message.render()


def test_ordinary_image_is_accepted() -> None:
    check_image(IMAGE, RULES, "image")


@pytest.mark.parametrize(
    "content_type", ["image/jpeg", "image/png", "image/gif", "image/webp", "IMAGE/PNG"]
)
def test_each_accepted_content_type_passes(content_type: str) -> None:
    check_image(replace(IMAGE, content_type=content_type), RULES, "image")


def test_content_type_parameters_are_ignored() -> None:
    check_image(replace(IMAGE, content_type="image/jpeg; charset=binary"), RULES, "image")


def test_other_content_type_is_refused_naming_it_and_the_accepted_formats() -> None:
    message = refusal(replace(IMAGE, content_type="image/bmp", filename="cat.bmp"))

    assert "`image/bmp`" in message
    assert "Please attach a JPEG, PNG, GIF or WebP image" in message


@pytest.mark.parametrize("filename", ["cat.JPG", "cat.jpeg", "cat.png", "a.b.gif", "cat.webp"])
def test_without_content_type_the_extension_decides(filename: str) -> None:
    check_image(replace(IMAGE, content_type=None, filename=filename), RULES, "image")


@pytest.mark.parametrize("filename", ["cat.bmp", "cat", "png"])
def test_without_content_type_an_unknown_extension_is_refused(filename: str) -> None:
    message = refusal(replace(IMAGE, content_type=None, filename=filename))

    assert "is not a recognised image" in message


def test_refusal_names_the_attachment() -> None:
    message = refusal(replace(IMAGE, content_type="text/plain"), label="last_image")

    assert "`last_image`" in message


def test_image_of_exactly_the_size_limit_is_accepted() -> None:
    check_image(replace(IMAGE, size_bytes=RULES.max_bytes), RULES, "image")


def test_image_over_the_size_limit_is_refused_asking_for_a_smaller_one() -> None:
    message = refusal(replace(IMAGE, size_bytes=RULES.max_bytes + 1))

    assert "the limit is 28.6 MiB" in message
    assert "Please attach a smaller image" in message


@pytest.mark.parametrize(("width", "height"), [(None, 768), (1024, None), (0, 768)])
def test_image_without_dimensions_is_refused(width: int | None, height: int | None) -> None:
    message = refusal(replace(IMAGE, width=width, height=height))

    assert "has no readable dimensions" in message


@pytest.mark.parametrize(("width", "height"), [(300, 300), (300, 600), (6000, 6000), (6000, 3000)])
def test_sides_at_the_limits_are_accepted(width: int, height: int) -> None:
    check_image(replace(IMAGE, width=width, height=height), RULES, "image")


@pytest.mark.parametrize(("width", "height"), [(299, 400), (400, 299), (6001, 3000), (3000, 6001)])
def test_side_outside_the_limits_is_refused_asking_to_resize(width: int, height: int) -> None:
    message = refusal(replace(IMAGE, width=width, height=height))

    assert f"{width}×{height} px" in message
    assert "between 300 and 6000 px" in message
    assert "Please resize it" in message


@pytest.mark.parametrize(("width", "height"), [(400, 1000), (1000, 400), (600, 1500)])
def test_aspect_ratios_at_the_limits_are_accepted(width: int, height: int) -> None:
    check_image(replace(IMAGE, width=width, height=height), RULES, "image")


@pytest.mark.parametrize(("width", "height"), [(399, 1000), (1001, 400)])
def test_aspect_ratio_outside_the_limits_is_refused_asking_to_crop(width: int, height: int) -> None:
    message = refusal(replace(IMAGE, width=width, height=height))

    assert "ratios between 0.4 and 2.5" in message
    assert "Please crop it" in message


# check_image_bytes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "start", [b"\xff\xd8\xff\xe0\x00\x10JFIF", b"\x89PNG\r\n\x1a\n\x00\x00", b"GIF89a\x01\x00"]
)
def test_image_bytes_of_an_accepted_format_pass(start: bytes) -> None:
    check_image_bytes(start.ljust(SNIFF_BYTES, b"\x00"), "image")  # a full head, as fetched


def test_empty_file_is_refused_as_empty() -> None:
    with pytest.raises(UserError) as caught:
        check_image_bytes(b"", "image")

    assert "`image` attachment is empty" in caught.value.user_message.render()


def test_image_shorter_than_any_real_image_is_refused_as_cut_off() -> None:
    with pytest.raises(UserError) as caught:
        check_image_bytes(b"\x89PNG\r\n\x1a\n\x00", "image")  # the whole file: 9 bytes

    assert "`image` attachment is cut off after 9 bytes" in caught.value.user_message.render()


def test_non_image_bytes_are_refused_naming_the_attachment() -> None:
    with pytest.raises(UserError) as caught:
        check_image_bytes(b"<!DOCTYPE html><html>", "last_image")

    message = caught.value.user_message.render()
    assert "`last_image` attachment does not contain image data" in message
    assert "Please attach a JPEG, PNG, GIF or WebP image" in message


# link_expires_within ----------------------------------------------------------------------------

EXPIRY = 0x65A1B2C3
SIGNED = f"https://cdn.discordapp.com/attachments/1/2/cat.png?ex={EXPIRY:x}&is=65a06143&hm=ab12&"


NO_MARGIN = timedelta(0)


def at(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, UTC)


def test_signed_link_is_valid_before_its_expiry() -> None:
    assert not link_expires_within(SIGNED, at(EXPIRY - 1), NO_MARGIN)


def test_signed_link_is_expired_at_its_expiry() -> None:
    assert link_expires_within(SIGNED, at(EXPIRY), NO_MARGIN)


def test_signed_link_is_expired_after_its_expiry() -> None:
    assert link_expires_within(SIGNED, at(EXPIRY + 3600), NO_MARGIN)


def test_signed_link_counts_as_expired_within_the_margin() -> None:
    assert link_expires_within(SIGNED, at(EXPIRY - 60), timedelta(minutes=2))
    assert not link_expires_within(SIGNED, at(EXPIRY - 180), timedelta(minutes=2))


def test_expiry_is_read_as_hexadecimal() -> None:
    # Read as decimal, "65a1b2c3" would not even parse; "1000" would be 1000 s, not 4096 s.
    assert not link_expires_within("https://cdn.example.com/cat.png?ex=1000", at(2000), NO_MARGIN)


@pytest.mark.parametrize(
    "url",
    [
        "https://cdn.example.com/cat.png",
        "https://cdn.example.com/cat.png?ex=",
        "https://cdn.example.com/cat.png?ex=not-hex",
    ],
)
def test_link_without_a_readable_expiry_never_expires(url: str) -> None:
    assert not link_expires_within(url, at(4_000_000_000), NO_MARGIN)
