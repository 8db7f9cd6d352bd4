"""Which video model a job runs on, below Discord: the server's choice, the reservation per
model, remixes keeping their parent's model, and a model the API no longer serves (real store,
real client, the fake API serving every model)."""

from __future__ import annotations

import logging

import pytest

from bot.errors import UserError
from bot.guilds.model import AuditEntry, GuildConfig
from bot.i18n.text import Text
from bot.jobs import messages
from bot.jobs.model import JobKind, JobState
from bot.remix.recipes import PostFiles
from bot.video.availability import ModelAvailability
from tests.unit.jobs.engine import ALICE, BOB, GUILD_ID, OTHER_GUILD_ID, Harness, MakeHarness
from tests.unit.remix.test_service import delivered, fresh

SEEDANCE, VEO, WAN = "seedance-1.5-pro-i2v", "veo3.1-fast", "wan-2.2-spicy"


async def choose(h: Harness, model: str | None, guild_id: int = GUILD_ID, **config: object) -> None:
    """Set a server's model (and other config) as `/animate-admin model` would."""
    audit = AuditEntry(1, "model", str(model), h.clock())
    await h.store.inner.update_guild_config(
        guild_id, lambda c: c.model_copy(update={"model": model, **config}), audit
    )


async def refusal(h: Harness, **accept: object) -> Text:
    with pytest.raises(UserError) as caught:
        await h.accept(**accept)  # type: ignore[arg-type]
    return caught.value.user_message


async def test_a_servers_chosen_model_makes_its_jobs_with_that_models_parameters(
    h: Harness,
) -> None:
    await choose(h, VEO)

    job = await h.accept()
    done = await h.wait_state(job.id, JobState.DELIVERED)

    assert done.model == VEO
    (submit,) = h.fake.submits_to(VEO)
    # The bot's defaults (5 s, auto) are not Veo's: its own 8 s and 16:9 are used.
    assert submit.json["duration"] == "8"
    assert submit.json["aspect_ratio"] == "16:9"
    assert (done.settings.duration_s, done.settings.aspect_ratio) == (8, "16:9")
    assert done.cost_cents == 88  # what the fake charges for Veo 3.1 Fast


async def test_other_servers_keep_the_bots_model(h: Harness) -> None:
    await choose(h, VEO, guild_id=OTHER_GUILD_ID)

    job = await h.accept()
    await h.wait_state(job.id, JobState.DELIVERED)

    assert [r.path for r in h.fake.submits] == [f"/api/v1/models/{SEEDANCE}/generate"]


async def test_a_model_the_bot_no_longer_offers_falls_back_to_the_bots(
    make_harness: MakeHarness,
) -> None:
    h = make_harness(vibedream_models="veo3-i2v")
    await h.start()
    await choose(h, VEO)  # chosen before the operator took it off the list

    job = await h.accept()

    assert job.model == SEEDANCE


async def test_a_relaxed_model_runs_only_in_age_restricted_channels_of_a_server_limited_to_them(
    h: Harness,
) -> None:
    await choose(h, WAN, nsfw_only=True)

    job = await h.accept(access=h.access(nsfw=True))
    assert job.model == WAN
    await h.wait_state(job.id, JobState.DELIVERED)

    await choose(h, WAN, nsfw_only=False)
    other = await h.accept(access=h.access(nsfw=True))
    assert other.model == SEEDANCE  # no longer offered to this server: the bot's own


async def test_before_any_price_is_known_a_dearer_model_reserves_its_listed_price(
    h: Harness,
) -> None:
    await choose(h, "veo3-i2v")
    h.fake.hold()

    job = await h.accept()

    assert h.settings.expected_cost_cents == 100
    assert job.reserved_cents == 132  # "from $1.32/run"


async def test_a_remix_keeps_its_parents_model_after_the_server_changed_its_own(
    h: Harness,
) -> None:
    parent = await delivered(h)
    await choose(h, VEO)

    child = await h.remix.start(
        parent.id, JobKind.REGENERATE, h.origin(), h.access(), PostFiles(first=fresh(h))
    )

    assert child.model == SEEDANCE
    await h.wait_state(child.id, JobState.DELIVERED)
    assert len(h.fake.submits_to(SEEDANCE)) == 2


async def test_a_remix_whose_model_this_server_no_longer_offers_says_which_it_uses_now(
    make_harness: MakeHarness,
) -> None:
    h = make_harness()
    await h.start()
    await choose(h, VEO)
    parent = await delivered(h)
    h.settings.vibedream_models = ("veo3-i2v",)  # the operator took Veo 3.1 Fast off the list

    with pytest.raises(UserError) as caught:
        await h.remix.start(
            parent.id, JobKind.REGENERATE, h.origin(), h.access(), PostFiles(first=fresh(h))
        )

    assert caught.value.user_message == messages.model_not_offered(VEO, SEEDANCE)
    assert len(h.fake.submits) == 1


async def test_loop_is_refused_for_a_model_without_an_end_frame(h: Harness) -> None:
    await choose(h, VEO)
    parent = await delivered(h)

    with pytest.raises(UserError) as caught:
        await h.remix.start(
            parent.id, JobKind.LOOP, h.origin(), h.access(), PostFiles(first=fresh(h))
        )

    assert "**veo3.1-fast**" in caught.value.user_message.render()
    assert len(h.fake.submits) == 1


# A model the API no longer serves ---------------------------------------------------------------


async def test_a_retired_model_fails_the_job_plainly_at_no_cost_and_logs_one_line(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    h.fake.retired.add(SEEDANCE)

    with caplog.at_level(logging.INFO, logger="bot.jobs.generation"):
        job = await h.accept()
        failed = await h.wait_notified(job.id)

    assert failed.state == JobState.FAILED
    told = messages.honest(messages.MODEL_UNAVAILABLE, 0, None, None).render()
    assert failed.error == told
    assert messages.NOT_CHARGED.render() in told
    assert (failed.cost_cents, failed.reserved_cents) == (0, 0)
    assert h.fake.predictions == {}
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert SEEDANCE in errors[0].getMessage()
    assert messages.failed(told).render() in h.notifier.texts(job.id)


async def test_after_a_retired_answer_the_model_is_refused_at_once_without_an_api_call(
    h: Harness,
) -> None:
    h.fake.retired.add(SEEDANCE)
    first = await h.accept()
    await h.wait_notified(first.id)

    assert await refusal(h, user_id=BOB) == messages.model_unavailable_now(SEEDANCE)
    assert len(h.fake.submits) == 1


async def test_a_remix_of_a_retired_model_on_a_server_that_switched_names_its_model_now(
    h: Harness,
) -> None:
    parent = await delivered(h)
    await choose(h, VEO)
    h.fake.retired.add(SEEDANCE)
    h.service.models.availability.mark_unavailable(SEEDANCE)

    with pytest.raises(UserError) as caught:
        await h.remix.start(
            parent.id, JobKind.REGENERATE, h.origin(), h.access(), PostFiles(first=fresh(h))
        )

    assert caught.value.user_message == messages.parent_model_unavailable(SEEDANCE, VEO)
    assert len(h.fake.submits) == 1  # the parent's only


async def test_servers_on_other_models_keep_working_while_one_is_retired(h: Harness) -> None:
    h.fake.retired.add(SEEDANCE)
    first = await h.accept()
    await h.wait_notified(first.id)

    await choose(h, VEO)
    job = await h.accept(BOB)

    assert (await h.wait_state(job.id, JobState.DELIVERED)).model == VEO


async def test_jobs_already_queued_on_a_retired_model_fail_without_an_api_call(
    make_harness: MakeHarness,
) -> None:
    h = make_harness(max_jobs_in_flight=1)
    await h.start()
    h.fake.hold()
    running = await h.accept(ALICE, prompt="first")
    waiting = await h.accept(BOB, prompt="second")
    await h.wait_state(running.id, JobState.SUBMITTED)
    h.fake.retired.add(SEEDANCE)
    h.fake.complete_now(h.prediction_id_of("first"))
    await h.wait_state(running.id, JobState.DELIVERED)

    failed = await h.wait_notified(waiting.id)  # its submit got the 404

    assert failed.error == messages.honest(messages.MODEL_UNAVAILABLE, 0, None, None).render()
    assert h.store.history[waiting.id][-1] == JobState.FAILED


def test_a_model_marked_unavailable_is_tried_again_after_the_retry_period() -> None:
    now = [100.0]
    availability = ModelAvailability(60.0, clock=lambda: now[0])

    assert availability.mark_unavailable(SEEDANCE) is True
    assert availability.mark_unavailable(SEEDANCE) is False  # already marked: no second line
    assert availability.is_unavailable(SEEDANCE)
    assert not availability.is_unavailable(VEO)
    now[0] += 59.9
    assert availability.is_unavailable(SEEDANCE)
    now[0] += 0.2
    assert not availability.is_unavailable(SEEDANCE)


def test_config_without_a_model_is_the_bots() -> None:
    assert GuildConfig.model_validate_json('{"nsfw_only": false}').model is None
