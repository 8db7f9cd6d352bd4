"""Variations and drafts in the engine: each variation's seed, a draft's settings from the
model's declared options, and a group of jobs admitted, made, posted and cancelled together."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace

import pytest

from bot.errors import UserError
from bot.guilds.model import AuditEntry
from bot.jobs import messages, request_messages
from bot.jobs.batches import variation_settings
from bot.jobs.model import MAX_VARIATIONS, GenerationSettings, ImageInput, Job, JobKind, JobState
from bot.jobs.request import AnimateRequest, check_variations, draft_settings
from bot.members.model import MemberDefaults
from bot.video.hailuo import HAILUO_PRO
from bot.video.seedance import SEEDANCE_1_5_PRO
from bot.video.veo import VEO_3_1_FAST
from tests.unit.jobs.engine import (
    ALICE,
    GUILD_ID,
    MODERATION,
    Harness,
    MakeHarness,
    actor,
    wait_until,
)

SETTINGS = GenerationSettings(
    duration_s=8,
    resolution="1080p",
    aspect_ratio="16:9",
    camera_fixed=False,
    seed=7,
    generate_audio=True,
)
IMAGE = ImageInput(
    url="https://cdn.example.com/cat.png",
    filename="cat.png",
    size_bytes=50_000,
    content_type="image/png",
    width=1024,
    height=768,
)


# Seeds and drafts (pure) -------------------------------------------------------------------------


def test_a_typed_seed_gives_consecutive_seeds_wrapping_within_the_models_range() -> None:
    seeds = SEEDANCE_1_5_PRO.options.seeds
    assert seeds is not None
    last = replace(SETTINGS, seed=seeds[-1] - 1)

    varied = variation_settings(last, 4, SEEDANCE_1_5_PRO, seed_typed=True)

    assert [s.seed for s in varied] == [seeds[-1] - 1, seeds[-1], seeds[0], seeds[1]]
    assert {replace(s, seed=None) for s in varied} == {replace(SETTINGS, seed=None)}


def test_variations_without_a_typed_seed_each_get_a_different_one() -> None:
    varied = variation_settings(SETTINGS, 4, SEEDANCE_1_5_PRO, seed_typed=False)

    assert varied[0] == SETTINGS  # the seed the request already picked comes first
    assert len({s.seed for s in varied}) == 4


def test_a_model_without_seeds_makes_its_variations_from_the_same_settings() -> None:
    unseeded = replace(SETTINGS, seed=None)

    assert variation_settings(unseeded, 3, HAILUO_PRO, seed_typed=False) == [unseeded] * 3


@pytest.mark.parametrize("count", [0, 5, -1])
def test_variations_outside_one_to_four_are_refused(count: int) -> None:
    with pytest.raises(UserError) as refused:
        check_variations(count)

    assert refused.value.user_message == request_messages.variations_out_of_range(
        count, MAX_VARIATIONS
    )


def test_a_draft_is_the_models_smallest_shortest_silent_clip_with_the_same_seed() -> None:
    draft = draft_settings(SETTINGS, SEEDANCE_1_5_PRO)

    assert draft == replace(SETTINGS, resolution="480p", duration_s=4, generate_audio=False)


def test_a_draft_on_a_model_without_480p_takes_its_smallest_resolution() -> None:
    draft = draft_settings(replace(SETTINGS, resolution="1080p"), VEO_3_1_FAST)

    assert (draft.resolution, draft.duration_s, draft.generate_audio) == ("720p", 4, False)


def test_a_draft_on_a_model_with_one_setting_keeps_it() -> None:
    fixed = GenerationSettings(5, "1080p", "auto", None, None, False)

    assert draft_settings(fixed, HAILUO_PRO) == fixed


# A group in the engine ---------------------------------------------------------------------------


async def accept_group(h: Harness, count: int, seed: int | None = None) -> Job:
    """Ask for `count` variations through the service, as /animate does."""
    image = replace(IMAGE, url=h.image_url)
    request = AnimateRequest(prompt="The cat blinks", image=image, variations=count, seed=seed)
    checked = await h.service.check(request, GUILD_ID, h.origin().user_id)
    return await h.service.accept(checked, h.origin(), h.access())


async def wait_group(h: Harness, group_id: int, done: Callable[[list[Job]], bool]) -> list[Job]:
    """The group's jobs as stored, once `done` holds for them."""
    found: list[Job] = []

    async def check() -> bool:
        found[:] = await h.store.inner.group_jobs(group_id)
        return bool(found) and done(found)

    await wait_until(check)
    return found


def all_told(jobs: list[Job]) -> bool:
    return all(job.notified for job in jobs)


async def test_a_group_is_made_and_posted_once_with_one_progress_message(
    make_harness: MakeHarness,
) -> None:
    h = make_harness(max_jobs_in_flight_per_user=4)
    await h.start()

    leader = await accept_group(h, 3, seed=10)
    group = await wait_group(h, leader.id, all_told)

    assert [j.state for j in group] == [JobState.DELIVERED] * 3
    assert [j.settings.seed for j in group] == [10, 11, 12]
    assert [j.group_index for j in group] == [0, 1, 2]
    assert h.notifier.groups == [(leader.id, [(j.id, True) for j in group])]
    assert {j.message_id for j in group} == {h.notifier._group_messages[leader.id]}
    assert h.notifier.clips == []  # no post of its own
    assert {job_id for job_id, _ in h.notifier.edits} == {leader.id}  # one progress message
    assert h.metrics.events.count(("delivered", JobKind.ANIMATE)) == 3


async def test_a_group_over_the_daily_limit_is_refused_whole(make_harness: MakeHarness) -> None:
    h = make_harness(default_user_daily_limit=3)
    await h.start()

    with pytest.raises(UserError):
        await accept_group(h, 4)

    assert await h.store.open_jobs() == []
    assert h.submitted_prompts() == []


async def test_a_group_over_the_servers_maximum_is_refused(make_harness: MakeHarness) -> None:
    h = make_harness()
    await h.start()
    await h.store.inner.update_guild_config(
        GUILD_ID,
        lambda c: c.model_copy(update={"limits": {"variations": 2}}),
        AuditEntry(1, "limit-variations", "2", h.clock()),
    )

    with pytest.raises(UserError) as refused:
        await accept_group(h, 3)

    assert refused.value.user_message == messages.variations_above_server_max(3, 2)
    assert await h.store.open_jobs() == []


async def test_cancel_on_the_groups_progress_stops_every_variation_and_tells_once(
    make_harness: MakeHarness,
) -> None:
    h = make_harness(max_jobs_in_flight_per_user=4)
    await h.start()
    h.fake.hold()
    leader = await accept_group(h, 2)

    await h.service.cancel(leader.id, actor(ALICE))
    # A variation cancelled with its submit on the wire keeps its reservation until the
    # submit's answer settles it, which may come after the requester was told.
    group = await wait_group(
        h, leader.id, lambda g: all_told(g) and all(j.reserved_cents == 0 for j in g)
    )

    assert [j.state for j in group] == [JobState.CANCELLED] * 2
    assert h.notifier.groups == []
    assert h.notifier.texts(leader.id)[-1] == messages.cancelled(ALICE, ALICE).render()
    assert all(j.reserved_cents == 0 for j in group)


async def test_a_variation_that_fails_is_told_in_the_groups_post_not_on_its_own(
    make_harness: MakeHarness,
) -> None:
    h = make_harness(max_jobs_in_flight_per_user=4)
    await h.start()
    h.fake.hold()
    leader = await accept_group(h, 2)
    await wait_until(lambda: len(h.fake.predictions) == 2)
    first, second = h.fake.predictions
    h.fake.complete_now(first)
    h.fake.complete_now(second, error=MODERATION)
    group = await wait_group(h, leader.id, all_told)

    assert [j.state for j in group] == [JobState.DELIVERED, JobState.FAILED]
    assert h.notifier.groups == [(leader.id, [(group[0].id, True), (group[1].id, False)])]
    assert h.notifier.failures == []
    assert group[1].message_id == group[0].message_id


async def test_a_clip_that_cannot_be_fetched_fails_alone_and_the_others_are_posted(
    make_harness: MakeHarness,
) -> None:
    h = make_harness(max_jobs_in_flight_per_user=4)
    await h.start()
    h.fake.hold()
    leader = await accept_group(h, 3)
    await wait_until(lambda: len(h.fake.predictions) == 3)
    h.fake.fail_next("asset", 404)  # one clip's link is dead for good
    for prediction_id in list(h.fake.predictions):
        h.fake.complete_now(prediction_id)
    group = await wait_group(h, leader.id, all_told)

    states = sorted(j.state for j in group)
    assert states == [JobState.DELIVERED, JobState.DELIVERED, JobState.FAILED]
    (lost,) = [j for j in group if j.state == JobState.FAILED]
    assert h.notifier.groups == [(leader.id, [(j.id, j is not lost) for j in group])]
    assert len({j.message_id for j in group}) == 1  # the failure is told in the one post
    assert group[0].message_id is not None
    assert lost.error is not None
    assert messages.charge_note(lost.cost_cents, None).render() in lost.error  # what it cost


async def test_a_group_none_of_which_was_made_says_why_each_failed(
    make_harness: MakeHarness,
) -> None:
    h = make_harness(max_jobs_in_flight_per_user=4)
    await h.start()
    h.fake.hold()
    leader = await accept_group(h, 2, seed=10)
    await wait_until(lambda: len(h.fake.predictions) == 2)
    for prediction_id in list(h.fake.predictions):
        h.fake.complete_now(prediction_id, error=MODERATION)
    group = await wait_group(h, leader.id, all_told)

    assert [j.state for j in group] == [JobState.FAILED, JobState.FAILED]
    told = h.notifier.texts(leader.id)[-1]
    assert told.startswith(messages.variations_none_made(2).render())
    for number, job in enumerate(group, 1):
        assert f"{messages.variation_heading(number, job.settings.seed).render()}: " in told
        assert job.error is not None
        assert job.error in told  # the reason, with whether it was charged


async def test_a_group_made_by_two_processes_is_posted_once_by_the_one_that_adopts_it(
    make_harness: MakeHarness,
) -> None:
    # A may have one job at the API, so B makes the second variation. A's clip is made first
    # (its group still being made: nothing posted); then B's, and B, finding the whole group
    # made, takes every variation's lease (A's too) and posts the group, once.
    shared = {"single_process": False, "job_poll_s": 0.05}
    a = make_harness(process_name="process-a", max_jobs_in_flight=1, **shared)
    a.fake.hold()
    await a.start()
    leader = await accept_group(a, 2, seed=10)
    b = make_harness(process_name="process-b", **shared)
    await b.start()
    made = await wait_group(a, leader.id, lambda g: all(j.state == JobState.SUBMITTED for j in g))
    assert [j.owner for j in made] == ["process-a", "process-b"]

    a.fake.complete_now(made[0].prediction_id or "")
    first = await wait_group(a, leader.id, lambda g: g[0].state == JobState.COMPLETED)
    await asyncio.sleep(0.2)  # A's settle, with B's variation still being made, posts nothing
    assert a.notifier.groups == []
    a.fake.complete_now(made[1].prediction_id or "")
    group = await wait_group(b, leader.id, all_told)

    assert [j.state for j in group] == [JobState.DELIVERED] * 2
    assert (a.notifier.groups, b.notifier.groups) == (
        [],
        [(leader.id, [(j.id, True) for j in group])],
    )
    assert [j.owner for j in group] == ["process-b"] * 2
    assert group[0].epoch == first[0].epoch + 1  # adopted from A
    assert len({j.message_id for j in group}) == 1
    assert a.submitted_prompts() == ["The cat blinks"] * 2  # each variation sent once


async def test_a_saved_default_above_the_servers_maximum_asks_for_the_maximum(
    make_harness: MakeHarness,
) -> None:
    h = make_harness(max_jobs_in_flight_per_user=4)
    await h.start()
    await h.store.inner.set_member_defaults(
        GUILD_ID, h.origin().user_id, MemberDefaults(variations=4), h.clock()
    )
    await h.store.inner.update_guild_config(
        GUILD_ID,
        lambda c: c.model_copy(update={"limits": {"variations": 2}}),
        AuditEntry(1, "limit-variations", "2", h.clock()),
    )
    image = replace(IMAGE, url=h.image_url)

    checked = await h.service.check(
        AnimateRequest(prompt="The cat blinks", image=image), GUILD_ID, h.origin().user_id
    )
    typed = AnimateRequest(prompt="The cat blinks", image=image, variations=3)
    leader = await h.service.accept(checked, h.origin(), h.access())

    assert checked.variations == 2
    assert len(await h.store.inner.group_jobs(leader.id)) == 2
    with pytest.raises(UserError) as refused:  # typed above it: said so
        await h.service.accept(
            await h.service.check(typed, GUILD_ID, h.origin().user_id), h.origin(), h.access()
        )
    assert refused.value.user_message == messages.variations_above_server_max(3, 2)
