"""Property test over the whole /animate option space (hypothesis), on every model.

Every combination of options a Discord client can send, hostile ones included, either becomes a
request the server's model accepts (checked against the fake API's contract validator for that
model) or is refused with a short, clear UserError: never another exception.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from bot.errors import UserError
from bot.i18n.text import LANGUAGES
from bot.jobs.model import ImageInput, Job, JobState, Origin
from bot.jobs.request import AnimateRequest, ValidatedRequest, validate
from bot.settings import Settings
from bot.video.catalogue import DURATION_BOUNDS_S, MODELS, SEED_BOUNDS
from bot.video.model import VideoModel
from cogs.animate import Animate
from tests.factories import IMAGE
from tests.fakes.fake_vibedream import validate_submit

CONFIG = Settings(
    discord_token=SecretStr("x"),
    vibedream_api_key=SecretStr("y"),
    _env_file=None,  # type: ignore[call-arg]
)
DISCORD_MESSAGE_MAX = 2000
T0 = datetime(2026, 1, 1, tzinfo=UTC)

HOSTILE_TEXT = st.sampled_from(
    [
        "@everyone",
        "@here",
        "<@123456789012345678>",
        "<@&123456789012345678>",
        "<#123456789012345678>",
        "[click](https://evil.example)",
        "```py\nimport os\n```",
        "**bold** __under__ ~~strike~~ ||spoiler||",
        "\u200b\u200c\u200d\u2060\ufeff",
        "\u202eevil",
        "\x00",
        "\n\t ",
        "猫が振り向く",
        "🎬" * 3,
    ]
)
PROMPTS = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=" \t\n\u200b\u200c\u200d\u2060\ufeff\u3000\u00ad", max_size=8),
    st.lists(st.one_of(HOSTILE_TEXT, st.text(max_size=10)), max_size=6).map("".join),
    st.integers(min_value=0, max_value=10_000).map(lambda n: "a" * n),
)
CONTENT_TYPES = st.one_of(
    st.none(),
    st.sampled_from(
        [
            *("image/png", "image/jpeg", "image/gif", "image/webp", "IMAGE/PNG; charset=x"),
            *("video/mp4", "text/html", "application/octet-stream", "image/svg+xml", ""),
        ]
    ),
    st.text(max_size=20),
)
FILENAMES = st.one_of(
    st.sampled_from(["cat.png", "../../etc/passwd", "..\\..\\x.jpg", "猫 é.webp", ".png", ""]),
    st.text(max_size=30),
)
SIDES = st.one_of(st.none(), st.integers(min_value=-10, max_value=20_000))


@st.composite
def images(draw: st.DrawFn) -> ImageInput:
    return ImageInput(
        url=f"https://cdn.discordapp.com/attachments/1/{draw(st.integers(1, 10**6))}/f.png",
        filename=draw(FILENAMES),
        size_bytes=draw(st.integers(min_value=0, max_value=100_000_000)),
        content_type=draw(CONTENT_TYPES),
        width=draw(SIDES),
        height=draw(SIDES),
    )


#: Mostly images that pass, so the prompt and the other options get exercised behind them.
PLAUSIBLE_IMAGES = st.builds(
    ImageInput,
    url=st.just("https://cdn.discordapp.com/attachments/1/2/cat.png"),
    filename=FILENAMES,
    size_bytes=st.integers(min_value=0, max_value=31_000_000),
    content_type=st.sampled_from(["image/png", "image/jpeg", "image/gif", "image/webp"]),
    width=st.integers(min_value=250, max_value=6100),
    height=st.integers(min_value=250, max_value=6100),
)
IMAGES = st.one_of(st.just(IMAGE), PLAUSIBLE_IMAGES, images())


def maybe(strategy: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.one_of(st.none(), strategy)


RESOLUTIONS = sorted({r for m in MODELS.values() for r in m.options.resolutions})
ASPECT_RATIOS = sorted({a for m in MODELS.values() for a in m.options.aspect_ratios})
REQUESTS = st.builds(
    AnimateRequest,
    prompt=PROMPTS,
    image=IMAGES,
    last_image=maybe(IMAGES),
    duration_s=maybe(st.integers(min_value=-(2**63), max_value=2**63 - 1)),
    resolution=maybe(st.one_of(st.sampled_from(RESOLUTIONS), st.text(max_size=8))),
    aspect_ratio=maybe(st.one_of(st.sampled_from(ASPECT_RATIOS), st.text(max_size=8))),
    camera_fixed=maybe(st.booleans()),
    seed=maybe(st.integers(min_value=-(2**63), max_value=2**63 - 1)),
    generate_audio=maybe(st.booleans()),
)


def as_job(request: ValidatedRequest, model: VideoModel) -> Job:
    origin = Origin(
        guild_id=1,
        channel_id=2,
        user_id=3,
        application_id=4,
        interaction_token="t",
        interaction_expires_at=T0 + timedelta(minutes=15),
        upload_limit_bytes=10 * 1024 * 1024,
    )
    return Job(
        id=1,
        state=JobState.QUEUED,
        origin=origin,
        prompt=request.prompt,
        image_url=request.image.url,
        last_image_url=request.last_image.url if request.last_image else None,
        model=model.id,
        settings=request.settings,
        nonce="n",
        created_at=T0,
    )


def visible(text: str) -> bool:
    """True when the text has a character that shows (not whitespace or a format mark)."""
    return any(not c.isspace() and unicodedata.category(c) != "Cf" for c in text)


SEEDANCE = MODELS["seedance-1.5-pro-i2v"]


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(REQUESTS, st.sampled_from(list(MODELS.values())))
@example(AnimateRequest(prompt="\u200b\u200c\u200d\u2060\ufeff", image=IMAGE), SEEDANCE)
@example(AnimateRequest(prompt="\n\u200b \ufeff\t", image=IMAGE), SEEDANCE)
@example(AnimateRequest(prompt="x" * 10_000, image=IMAGE), SEEDANCE)
@example(
    AnimateRequest(prompt="@everyone <@&1> ```code```", image=IMAGE, seed=0, duration_s=4),
    SEEDANCE,
)
@example(AnimateRequest(prompt="a dog", image=IMAGE, camera_fixed=False), MODELS["i2v-pro"])
def test_every_option_combination_is_a_valid_api_request_or_a_clear_refusal(
    request: AnimateRequest, model: VideoModel
) -> None:
    try:
        checked = validate(request, CONFIG, model)
    except UserError as refused:
        for lang in LANGUAGES:  # fits a Discord message in every language
            message = refused.user_message.render(lang)
            assert message.strip()
            assert len(message) <= DISCORD_MESSAGE_MAX
        return
    job = as_job(checked, model)
    body = model.request_body(job.prompt, job.image_url, job.last_image_url, job.settings)
    assert validate_submit(body, model.id) == []
    assert visible(str(body["prompt"]))
    assert len(str(body["prompt"])) <= CONFIG.prompt_max_chars


def test_the_commands_ranges_span_the_catalogue_and_its_choices_are_suggested() -> None:
    command = Animate.animate

    for name, bounds in (("duration", DURATION_BOUNDS_S), ("seed", SEED_BOUNDS)):
        parameter = command.get_parameter(name)
        assert parameter is not None
        assert (parameter.min_value, parameter.max_value) == bounds
    for name in ("duration", "resolution", "aspect_ratio"):
        parameter = command.get_parameter(name)
        assert parameter is not None
        assert parameter.autocomplete
        assert parameter.choices == []
