"""Delivering a made clip: file or link, the upload limit, the requester's mention, retries,
fallback routes, undeliverable clips."""

from __future__ import annotations

from bot.jobs import messages
from bot.jobs.model import (
    DeliveryRoute,
    FailureKind,
    JobState,
)
from bot.jobs.notifier import (
    PostFailedError,
    UploadTooLargeError,
)
from bot.media.files import ClipDownloader, DownloadedClip
from tests.unit.jobs.engine import (
    ALICE,
    BOB,
    FORBIDDEN,
    GONE,
    Harness,
    MakeHarness,
)


async def test_result_post_mentions_the_requester_by_default(h: Harness) -> None:
    job = await h.accept()

    await h.wait_state(job.id, JobState.DELIVERED)

    assert h.notifier.mentions == {job.id: True}


async def test_opting_out_while_a_job_runs_posts_its_result_without_a_mention(h: Harness) -> None:
    h.fake.hold()  # the clip is made only once the setting has changed
    job = await h.accept()
    await h.wait_state(job.id, JobState.SUBMITTED)
    other = await h.accept(BOB)

    await h.members.set_mention_on_done(ALICE, False)
    h.fake.release()
    await h.wait_state(job.id, JobState.DELIVERED)
    await h.wait_state(other.id, JobState.DELIVERED)

    assert h.notifier.mentions == {job.id: False, other.id: True}  # only Alice opted out
    assert await h.members.mention_on_done(ALICE) is False


async def test_link_post_follows_the_mention_setting_once_turned_back_on(h: Harness) -> None:
    await h.members.set_mention_on_done(ALICE, False)
    await h.members.set_mention_on_done(ALICE, True)
    h.fake.clip_bytes = 4096

    job = await h.accept(origin=h.origin(upload_limit_bytes=2048))
    done = await h.wait_state(job.id, JobState.DELIVERED)

    assert done.delivered_as == "link"
    assert h.notifier.mentions == {job.id: True}


async def test_clip_over_the_channel_upload_limit_is_posted_as_a_link(h: Harness) -> None:
    h.fake.clip_bytes = 4096

    job = await h.accept(origin=h.origin(upload_limit_bytes=2048))
    done = await h.wait_state(job.id, JobState.DELIVERED)

    assert done.delivered_as == "link"
    assert [job_id for job_id, _ in h.notifier.links] == [job.id]
    assert h.notifier.clip_attempts == []


async def test_clip_refused_by_the_platform_as_too_large_is_posted_as_a_link(h: Harness) -> None:
    h.notifier.clip_error = UploadTooLargeError("413 Payload Too Large")

    job = await h.accept()
    done = await h.wait_state(job.id, JobState.DELIVERED)

    assert done.delivered_as == "link"
    # With its source image, then without: the clip is the problem, so a link, which still
    # carries the source image the buttons need.
    assert h.notifier.clip_attempts == [job.id, job.id]
    assert [job_id for job_id, _ in h.notifier.links] == [job.id]
    assert [s.filename for s in h.notifier.extras[job.id].sources] == ["source-first.png"]


async def test_source_images_leave_room_for_the_request_under_the_message_cap(
    h: Harness,
) -> None:
    # The clip and the source image together stay under 25 MiB, but not with the ~1 MiB the
    # rest of the multipart request needs: the clip goes alone.
    cap = 25 * 1024 * 1024
    h.fake.clip_bytes = cap - 512 * 1024

    job = await h.accept(origin=h.origin(upload_limit_bytes=cap))
    done = await h.wait_state(job.id, JobState.DELIVERED)

    assert done.delivered_as == "file"
    assert h.notifier.extras[job.id].sources == ()


async def test_with_re_encoding_off_a_clip_over_the_limit_is_not_downloaded_in_full(
    make_harness: MakeHarness,
) -> None:
    caps: list[int | None] = []

    class CapRecorder(ClipDownloader):
        async def download(self, url: str, *, max_bytes: int | None = None) -> DownloadedClip:
            caps.append(max_bytes)
            return await super().download(url, max_bytes=max_bytes)

    h = make_harness(downloader_type=CapRecorder, reencode_concurrency=0)
    await h.start()
    h.fake.clip_bytes = 4096

    job = await h.accept(origin=h.origin(upload_limit_bytes=2048))
    done = await h.wait_state(job.id, JobState.DELIVERED)

    assert done.delivered_as == "link"
    assert caps == [2048]  # stopped at the upload limit: nothing could use the rest


async def test_delivery_failing_transiently_is_retried_then_fails_as_post_failed(
    make_harness: MakeHarness,
) -> None:
    h = make_harness(delivery_retries=2)
    await h.start()
    h.notifier.clip_error = PostFailedError("503 from Discord", retryable=True)

    job = await h.accept()
    failed = await h.wait_notified(job.id)

    assert failed.state == JobState.FAILED
    told = messages.honest(messages.POST_FAILED, failed.cost_cents, None, None).render()
    assert failed.error == told  # the clip was made: what it cost is said
    assert "charged $" in told
    assert h.notifier.clip_attempts == [job.id] * 3  # the first try and two retries
    assert messages.failed(told).render() in h.notifier.texts(job.id)


async def test_delivery_failing_for_good_is_not_retried(h: Harness) -> None:
    h.notifier.clip_error = PostFailedError("403 Missing Permissions", retryable=False)

    job = await h.accept()
    failed = await h.wait_notified(job.id)

    assert failed.state == JobState.FAILED
    told = messages.honest(messages.POST_FAILED, failed.cost_cents, None, None).render()
    assert failed.error == told
    assert h.notifier.clip_attempts == [job.id]


async def test_clip_refused_in_the_channel_goes_out_as_an_interaction_followup(
    h: Harness,
) -> None:
    h.notifier.route_errors[DeliveryRoute.CHANNEL] = FORBIDDEN

    job = await h.accept()
    done = await h.wait_state(job.id, JobState.DELIVERED)

    assert h.notifier.post_routes == [
        (job.id, DeliveryRoute.CHANNEL),
        (job.id, DeliveryRoute.FOLLOWUP),
    ]
    assert done.delivered_via == DeliveryRoute.FOLLOWUP
    assert done.delivery_note is not None
    assert "Missing Permissions" in done.delivery_note
    assert done.failure_kind is None


async def test_clip_refused_in_the_channel_after_the_token_expired_is_sent_by_dm(
    h: Harness,
) -> None:
    h.notifier.route_errors[DeliveryRoute.CHANNEL] = FORBIDDEN

    job = await h.accept(origin=h.origin(token_ttl_s=-60))
    done = await h.wait_state(job.id, JobState.DELIVERED)

    assert h.notifier.post_routes == [(job.id, DeliveryRoute.CHANNEL), (job.id, DeliveryRoute.DM)]
    assert done.delivered_via == DeliveryRoute.DM
    assert done.delivery_note is not None
    assert "Missing Permissions" in done.delivery_note


async def test_clip_that_can_be_posted_nowhere_is_undeliverable_and_the_user_is_told(
    h: Harness,
) -> None:
    h.notifier.route_errors[DeliveryRoute.CHANNEL] = FORBIDDEN
    h.notifier.route_errors[DeliveryRoute.FOLLOWUP] = PostFailedError("401", retryable=False)
    h.notifier.route_errors[DeliveryRoute.DM] = PostFailedError("50007", retryable=False)

    job = await h.accept()
    failed = await h.wait_notified(job.id)

    assert failed.state == JobState.FAILED
    assert failed.failure_kind == FailureKind.UNDELIVERABLE
    assert [route for _, route in h.notifier.post_routes] == [
        DeliveryRoute.CHANNEL,
        DeliveryRoute.FOLLOWUP,
        DeliveryRoute.DM,
    ]
    assert failed.error is not None
    assert failed.output_url is not None
    assert failed.output_url in failed.error


async def test_deleted_channel_makes_the_job_undeliverable_and_tells_the_user_by_dm(
    h: Harness,
) -> None:
    h.notifier.route_errors[DeliveryRoute.CHANNEL] = GONE

    job = await h.accept()
    failed = await h.wait_notified(job.id)

    assert failed.state == JobState.FAILED
    assert failed.failure_kind == FailureKind.UNDELIVERABLE
    assert h.notifier.post_routes == [(job.id, DeliveryRoute.CHANNEL)]  # no followup there
    assert h.notifier.failure_routes == [DeliveryRoute.DM]
    ((job_id, text),) = h.notifier.failures
    assert job_id == job.id
    assert failed.output_url is not None
    assert failed.output_url in text
