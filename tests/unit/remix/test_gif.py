"""The GIF button below Discord: a GIF of a delivered clip for its requester, made locally
(no API call), through the real store, fake API and clip downloader (harness of test_jobs)."""

from __future__ import annotations

import pytest

from bot.errors import UserError
from bot.i18n.text import Text
from bot.jobs.model import Job, JobState
from bot.remix import messages
from tests.fakes.clips import make_mp4
from tests.unit.jobs.engine import ALICE, BOB, Harness

BIG = 10 * 1024 * 1024


async def delivered(h: Harness) -> Job:
    job = await h.accept(ALICE, prompt="The cat blinks")
    return await h.wait_state(job.id, JobState.DELIVERED)


async def refusal(call: object) -> Text:
    with pytest.raises(UserError) as caught:
        await call  # type: ignore[misc]
    return caught.value.user_message


async def test_the_requester_gets_a_gif_of_the_post_or_the_api_output_and_no_new_job(
    h: Harness,
) -> None:
    h.fake.clip_data = make_mp4(320, 240, 1.0)
    parent = await delivered(h)
    assert parent.output_url is not None

    for clip_url in (parent.output_url, None):  # the post's file, or the API's output
        gif = await h.remix.gif(parent.id, h.access(), clip_url, max_bytes=BIG)
        assert gif.file.path.read_bytes().startswith(b"GIF89a")
        assert (gif.file.width, gif.file.height) == (320, 240)
        assert gif.nonce == f"{parent.nonce}-gif"  # one GIF post per clip
        gif.discard()
        assert not gif.file.path.exists()
    assert len(h.fake.submits) == 1  # no API call: nothing charged


async def test_a_gif_is_for_the_requester_only(h: Harness) -> None:
    h.fake.clip_data = make_mp4(320, 240, 1.0)
    parent = await delivered(h)

    text = await refusal(h.remix.gif(parent.id, h.access(BOB), None, max_bytes=BIG))

    assert text == messages.GIF_NOT_YOURS


async def test_a_gif_of_a_clip_that_cannot_be_fetched_says_so(h: Harness) -> None:
    parent = await delivered(h)
    missing = h.image_url.replace("cat.png", "gone.mp4")  # serves a PNG head, not an mp4

    text = await refusal(h.remix.gif(parent.id, h.access(), missing, max_bytes=BIG))

    assert text == messages.GIF_CLIP_GONE


async def test_a_gif_that_cannot_fit_names_the_limit(h: Harness) -> None:
    h.fake.clip_data = make_mp4(320, 240, 1.0, noise=True)
    parent = await delivered(h)

    text = await refusal(h.remix.gif(parent.id, h.access(), None, max_bytes=5_000))

    assert text == messages.gif_too_big(5_000)
