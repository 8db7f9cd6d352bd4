"""Buttons on a result below Discord: Regenerate, Edit prompt, Continue, Loop and Delete through
the real job service, store, fake API and clip downloader (harness of test_jobs)."""

from __future__ import annotations

import asyncio
import io
import threading
import time
from datetime import timedelta
from typing import Any

import av
import pytest

import bot.remix.service
from bot.errors import UserError
from bot.guilds.model import AuditEntry
from bot.guilds.policy import Actor
from bot.i18n.format import jump_url
from bot.i18n.text import Text
from bot.jobs import messages as job_messages
from bot.jobs import request_messages
from bot.jobs.model import ImageInput, Job, JobKind, JobState, OptionLocks
from bot.jobs.notifier import PostFailedError
from bot.media.files import ClipDownloader, DownloadedClip
from bot.media.frames import Frame
from bot.remix import messages
from bot.remix.recipes import PostFiles
from tests.fakes.clips import make_mp4
from tests.unit.jobs.engine import (
    ALICE,
    BOB,
    GUILD_ID,
    MOD,
    PNG_HEAD,
    Harness,
    MakeHarness,
    enable_mod_log,
    wait_until,
)


def fresh(h: Harness, name: str = "source-first.png") -> ImageInput:
    """An image as the result post's attachment describes it at the press."""
    return ImageInput(
        url=h.image_url.replace("cat.png", name),
        filename=name,
        size_bytes=len(PNG_HEAD),
        content_type="image/png",
        width=1024,
        height=768,
    )


async def delivered(h: Harness, prompt: str = "The cat blinks", **kw: object) -> Job:
    job = await h.accept(ALICE, prompt=prompt, **kw)  # type: ignore[arg-type]
    return await h.wait_state(job.id, JobState.DELIVERED)


async def start_remix(
    h: Harness, parent: Job, kind: JobKind, user_id: int = ALICE, **kw: object
) -> Job:
    files = kw.pop("files", PostFiles(first=fresh(h)))
    return await h.remix.start(
        parent.id,
        kind,
        h.origin(user_id),
        h.access(user_id),
        files,
        **kw,  # type: ignore[arg-type]
    )


async def refusal(call: object) -> Text:
    with pytest.raises(UserError) as caught:
        await call  # type: ignore[misc]
    return caught.value.user_message


async def job_count(h: Harness) -> int:
    count = 0
    while await h.store.inner.get_job(count + 1) is not None:
        count += 1
    return count


async def test_a_result_post_carries_its_source_image(h: Harness) -> None:
    job = await delivered(h)

    (source,) = h.notifier.extras[job.id].sources
    assert source.filename == "source-first.png"
    assert h.notifier.source_bytes[job.id] == [PNG_HEAD]
    assert h.notifier.extras[job.id].parent_id is None


async def test_regenerate_runs_the_same_request_with_a_new_seed_and_links_its_parent(
    h: Harness,
) -> None:
    parent = await delivered(h)

    child = await start_remix(h, parent, JobKind.REGENERATE)

    assert (child.kind, child.parent_job_id) == (JobKind.REGENERATE, parent.id)
    assert child.prompt == parent.prompt
    assert child.image_url == fresh(h).url  # the post's fresh link, not the stored one
    assert child.settings.seed != parent.settings.seed
    assert child.settings.duration_s == parent.settings.duration_s
    done = await h.wait_state(child.id, JobState.DELIVERED)
    extras = h.notifier.extras[done.id]
    assert parent.message_id is not None
    assert extras.parent_id == parent.id
    assert extras.parent_link == jump_url(GUILD_ID, 777, parent.message_id)


async def test_edit_takes_a_new_prompt_checked_like_animates(h: Harness) -> None:
    parent = await delivered(h)

    assert await refusal(start_remix(h, parent, JobKind.EDIT, prompt="  \u200b ")) == (
        request_messages.PROMPT_EMPTY
    )
    child = await start_remix(h, parent, JobKind.EDIT, prompt="  The cat yawns ")

    assert (child.kind, child.prompt) == (JobKind.EDIT, "The cat yawns")
    assert child.settings == parent.settings


async def test_loop_uses_the_first_image_as_the_last_too(h: Harness) -> None:
    parent = await delivered(h)

    child = await start_remix(h, parent, JobKind.LOOP)

    assert child.kind is JobKind.LOOP
    assert child.image_url == child.last_image_url == fresh(h).url
    await h.wait_state(child.id, JobState.DELIVERED)
    names = [s.filename for s in h.notifier.extras[child.id].sources]
    assert names == ["source-first.png", "source-last.png"]


async def test_only_the_requester_may_make_new_clips_from_a_post(h: Harness) -> None:
    parent = await delivered(h)

    for kind in (JobKind.REGENERATE, JobKind.EDIT, JobKind.CONTINUE, JobKind.LOOP):
        text = await refusal(start_remix(h, parent, kind, BOB, prompt="x", frame=fresh(h)))
        assert text == messages.BUTTON_NOT_YOURS
    assert await refusal(h.remix.own_job(parent.id, h.access(MOD))) == messages.BUTTON_NOT_YOURS
    assert await job_count(h) == 1


async def test_the_edit_form_opens_only_on_the_presser_s_own_prompt_not_yet_erased(
    h: Harness,
) -> None:
    parent = await delivered(h)

    assert (await h.remix.source_job(parent.id, h.access())).prompt == parent.prompt
    assert await refusal(h.remix.source_job(parent.id, h.access(BOB))) == (
        messages.BUTTON_NOT_YOURS
    )
    await h.members.forget(ALICE)
    assert await refusal(h.remix.source_job(parent.id, h.access())) == messages.SOURCE_GONE


async def test_a_press_is_checked_against_the_quota_as_it_stands(
    make_harness: MakeHarness,
) -> None:
    h = make_harness(default_user_daily_limit=1)
    await h.start()
    parent = await delivered(h)

    text = await refusal(start_remix(h, parent, JobKind.REGENERATE))
    continue_text = await refusal(
        h.remix.continue_frame(parent.id, h.access(), None, max_bytes=10**7)
    )
    edit_text = await refusal(h.remix.source_job(parent.id, h.access()))

    assert "daily limit of 1 clip" in text.render()
    assert continue_text == edit_text == text  # refused before any download or form
    assert await job_count(h) == 1


async def test_without_a_fresh_or_living_link_the_source_is_gone(h: Harness) -> None:
    expiry = int((h.clock() + timedelta(minutes=30)).timestamp())
    parent = await delivered(h, image_url=f"{h.image_url}?ex={expiry:x}&hm=1")
    child = await start_remix(h, parent, JobKind.LOOP, files=PostFiles())  # stored link still fine
    assert child.image_url == parent.image_url

    h.clock.advance(3600)

    assert await refusal(start_remix(h, parent, JobKind.REGENERATE, files=PostFiles())) == (
        messages.SOURCE_GONE
    )
    regenerated = await start_remix(h, parent, JobKind.REGENERATE)  # the post's own copy works
    assert regenerated.image_url == fresh(h).url


async def test_continue_starts_from_the_last_frame_of_the_clip(h: Harness) -> None:
    h.fake.clip_data = make_mp4(640, 480, 1.0)
    parent = await delivered(h)
    assert parent.output_url is not None

    for clip_url in (parent.output_url, None):  # the post's file, or the API's output
        frame = await h.remix.continue_frame(parent.id, h.access(), clip_url, max_bytes=10**7)
        assert (frame.content_type, frame.width, frame.height) == ("image/png", 640, 480)
        with av.open(io.BytesIO(frame.data)) as image:
            (decoded,) = list(image.decode(video=0))
            assert min(bytes(decoded.reformat(format="gray").planes[0])[:640]) >= 250
    uploaded = fresh(h, "last-frame.png")
    child = await start_remix(h, parent, JobKind.CONTINUE, frame=uploaded)

    assert (child.kind, child.parent_job_id) == (JobKind.CONTINUE, parent.id)
    assert (child.image_url, child.last_image_url) == (uploaded.url, None)
    assert child.prompt == parent.prompt
    assert child.settings.seed != parent.settings.seed


async def test_continue_of_a_clip_that_cannot_be_fetched_says_so(h: Harness) -> None:
    parent = await delivered(h)
    missing = h.image_url.replace("cat.png", "gone.mp4")  # serves a PNG head, not an mp4

    text = await refusal(h.remix.continue_frame(parent.id, h.access(), missing, max_bytes=10**7))

    assert text == messages.CLIP_GONE


async def test_delete_is_for_the_requester_or_a_moderator_and_happens_once(h: Harness) -> None:
    first, second = await delivered(h, "one"), await delivered(h, "two")
    bob = Actor(guild_id=GUILD_ID, user_id=BOB, can_manage_messages=False)
    mod = Actor(guild_id=GUILD_ID, user_id=MOD, can_manage_messages=True)
    alice = Actor(guild_id=GUILD_ID, user_id=ALICE, can_manage_messages=False)

    assert await refusal(h.service.delete_post(first.id, bob)) == job_messages.DELETE_NOT_ALLOWED
    deleted = await h.service.delete_post(first.id, alice)
    await h.service.delete_post(second.id, mod)

    assert deleted.post_deleted_at is not None
    assert h.notifier.deleted == [first.id, second.id]
    assert (
        await refusal(h.service.delete_post(first.id, alice)) == job_messages.POST_ALREADY_DELETED
    )
    assert h.notifier.deleted == [first.id, second.id]


async def test_a_delete_discord_refuses_is_not_recorded(h: Harness) -> None:
    job = await delivered(h)
    h.notifier.delete_error = PostFailedError("503", retryable=True)
    alice = Actor(guild_id=GUILD_ID, user_id=ALICE, can_manage_messages=False)

    assert await refusal(h.service.delete_post(job.id, alice)) == job_messages.DELETE_FAILED
    assert (await h.job(job.id)).post_deleted_at is None


async def test_a_delete_shows_in_the_moderation_log_entry(h: Harness) -> None:
    await enable_mod_log(h)
    job = await delivered(h)
    await wait_until(lambda: (job.id, JobState.DELIVERED) in h.notifier.mod_log_updates)
    alice = Actor(guild_id=GUILD_ID, user_id=ALICE, can_manage_messages=False)

    await h.service.delete_post(job.id, alice)

    await wait_until(lambda: h.notifier.mod_log_shown[-1].post_deleted_at is not None)


async def test_continue_of_an_erased_job_is_refused_before_any_download(h: Harness) -> None:
    parent = await delivered(h)
    assert parent.output_url is not None
    await h.members.forget(ALICE)
    fetched = len([r for r in h.fake.requests if r.route == "asset"])

    text = await refusal(
        h.remix.continue_frame(parent.id, h.access(), parent.output_url, max_bytes=10**7)
    )

    assert text == messages.SOURCE_GONE
    assert len([r for r in h.fake.requests if r.route == "asset"]) == fetched


async def test_continue_fetches_no_more_than_the_post_could_have_carried(h: Harness) -> None:
    h.fake.clip_bytes = 64 * 1024
    parent = await delivered(h, origin=h.origin(upload_limit_bytes=32 * 1024))
    assert parent.output_url is not None

    # A "post file" bigger than the post's own upload limit is not what the bot posted.
    text = await refusal(
        h.remix.continue_frame(parent.id, h.access(), parent.output_url, max_bytes=10**7)
    )

    assert text == messages.CLIP_GONE  # refused by size, not fetched and decoded


async def test_at_most_two_last_frames_are_taken_at_once(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    h.fake.clip_data = make_mp4(64, 64, 0.2)
    parent = await delivered(h)
    running, peak = 0, 0
    lock, two_decoding = threading.Lock(), threading.Event()
    real_last_frame = bot.remix.service.last_frame

    def counting(*args: Any, **kwargs: Any) -> Frame:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
            if running == 2:
                two_decoding.set()
        try:
            two_decoding.wait(timeout=10)  # the first two meet, however slow the machine
            time.sleep(0.2)  # room for every other press to be decoding too, if allowed
            return real_last_frame(*args, **kwargs)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(bot.remix.service, "last_frame", counting)

    frames = await asyncio.gather(
        *(
            h.remix.continue_frame(parent.id, h.access(), parent.output_url, max_bytes=10**7)
            for _ in range(5)
        )
    )

    assert peak == 2
    assert all(f.content_type == "image/png" for f in frames)


async def test_at_most_two_clips_are_fetched_for_continue_at_once(
    make_harness: MakeHarness,
) -> None:
    running, peak = 0, 0
    two_fetching = asyncio.Event()

    class Counting(ClipDownloader):
        async def download(self, url: str, *, max_bytes: int | None = None) -> DownloadedClip:
            nonlocal running, peak
            if not pressing:  # the parent's own delivery
                return await super().download(url, max_bytes=max_bytes)
            running += 1
            peak = max(peak, running)
            if running == 2:
                two_fetching.set()
            try:
                # The first two meet, however slow the machine; then every other press has
                # room to be fetching too, if allowed.
                await asyncio.wait_for(two_fetching.wait(), 10)
                await asyncio.sleep(0.2)
                return await super().download(url, max_bytes=max_bytes)
            finally:
                running -= 1

    pressing = False
    h = make_harness(downloader_type=Counting)
    await h.start()
    h.fake.clip_data = make_mp4(64, 64, 0.2)
    parent = await delivered(h)
    pressing = True

    # A link post carries no file: Continue fetches the API's output.
    frames = await asyncio.gather(
        *(h.remix.continue_frame(parent.id, h.access(), None, max_bytes=10**7) for _ in range(5))
    )

    assert peak == 2
    assert all(f.content_type == "image/png" for f in frames)


async def test_a_remix_of_a_clip_above_a_lock_set_since_is_refused_naming_the_lock(
    h: Harness,
) -> None:
    parent = await delivered(h)  # 720p, made before the lock
    locks = OptionLocks(max_resolution="480p")
    audit = AuditEntry(1, "lock-resolution", "480p", h.clock())
    await h.store.inner.update_guild_config(
        GUILD_ID, lambda c: c.model_copy(update={"locks": locks}), audit
    )

    with pytest.raises(UserError) as caught:
        await h.remix.start(
            parent.id, JobKind.REGENERATE, h.origin(), h.access(), PostFiles(first=fresh(h))
        )

    assert caught.value.user_message == request_messages.over_lock("resolution", "720p", "480p")
    assert len(h.fake.submits) == 1  # the parent's only
