"""A member's own jobs on a real SQLite file: history pages, one job's details, picking a job
by what is typed (the store's queries and the service above them), and the mention setting."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.errors import UserError
from bot.i18n.format import jump_url
from bot.jobs import messages as job_messages
from bot.jobs.model import Job
from bot.members import messages
from bot.members.history import MAX_CHOICES, PAGE_SIZE, HistoryService
from bot.settings import Settings
from bot.storage.store import SqlStore
from cogs.history import choice_name, history_message, show_embed
from cogs.support.notifier import mod_log_embed
from cogs.usage import usage_embed
from tests import factories
from tests.unit.storage.sqlite_plans import plan as explain
from tests.unit.storage.sqlite_plans import traced

T0 = datetime(2025, 3, 15, 10, 0, 0, tzinfo=UTC)
GUILD, OTHER_GUILD = 555, 556
ALICE, BOB = 1001, 1002
TTL_H = 24


class Clock:
    """A settable "now" for the service."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    async with await SqlStore.open(tmp_path / "bot.db") as store:
        yield store


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(store: SqlStore, clock: Clock) -> HistoryService:
    settings = Settings(
        discord_token=SecretStr("x"),
        vibedream_api_key=SecretStr("y"),
        vibedream_output_ttl_hours=TTL_H,
        _env_file=None,  # type: ignore[call-arg]  # pydantic-settings' own keyword
    )
    return HistoryService(settings=settings, store=store, now=clock)


async def add(
    store: SqlStore,
    user_id: int = ALICE,
    *,
    guild_id: int = GUILD,
    prompt: str = "the cat blinks",
    at: datetime = T0,
) -> Job:
    new = factories.new_job(user_id, now=at, guild_id=guild_id, prompt=prompt)
    return await factories.admit(store, new, at)


async def alice_jobs(store: SqlStore, count: int) -> list[Job]:
    """`count` jobs of Alice on GUILD, one a minute, with Bob's and Alice-elsewhere's between."""
    jobs = []
    for i in range(count):
        at = T0 + timedelta(minutes=i)
        jobs.append(await add(store, at=at, prompt=f"alice clip {i}"))
        await add(store, BOB, at=at, prompt=f"bob clip {i}")
        await add(store, guild_id=OTHER_GUILD, at=at, prompt=f"elsewhere {i}")
    return jobs


def ids(jobs: tuple[Job, ...] | list[Job]) -> list[int]:
    return [job.id for job in jobs]


# History pages ---------------------------------------------------------------------------------


async def test_first_page_is_the_members_newest_jobs_on_this_server(
    store: SqlStore, service: HistoryService
) -> None:
    jobs = await alice_jobs(store, 25)

    page = await service.page(GUILD, ALICE)

    assert ids(page.jobs) == ids(jobs[::-1][:PAGE_SIZE])
    assert (page.newer, page.total) == (0, 25)
    assert not page.has_newer
    assert page.has_older


async def test_older_and_newer_pages_walk_the_history_without_gaps_or_repeats(
    store: SqlStore, service: HistoryService
) -> None:
    newest_first = ids((await alice_jobs(store, 25))[::-1])

    first = await service.page(GUILD, ALICE)
    second = await service.page(GUILD, ALICE, before=first.jobs[-1].id)
    third = await service.page(GUILD, ALICE, before=second.jobs[-1].id)
    back = await service.page(GUILD, ALICE, after=third.jobs[0].id)

    assert ids(first.jobs + second.jobs + third.jobs) == newest_first
    assert (second.newer, third.newer) == (10, 20)
    assert len(third.jobs) == 5
    assert not third.has_older
    assert third.has_newer
    assert ids(back.jobs) == ids(second.jobs)


async def test_pages_stay_put_while_new_jobs_arrive(
    store: SqlStore, service: HistoryService
) -> None:
    jobs = await alice_jobs(store, 15)
    first = await service.page(GUILD, ALICE)

    await add(store, at=T0 + timedelta(hours=1))
    second = await service.page(GUILD, ALICE, before=first.jobs[-1].id)

    assert ids(second.jobs) == ids(jobs[4::-1])  # the five oldest, none shown twice
    assert (second.newer, second.total) == (11, 16)


async def test_jobs_started_in_the_same_second_are_ordered_by_id(
    store: SqlStore, service: HistoryService
) -> None:
    same = [await add(store) for _ in range(12)]

    first = await service.page(GUILD, ALICE)
    second = await service.page(GUILD, ALICE, before=first.jobs[-1].id)

    assert ids(first.jobs + second.jobs) == ids(same[::-1])


async def test_a_page_never_shows_another_members_or_another_servers_jobs(
    store: SqlStore, service: HistoryService
) -> None:
    await alice_jobs(store, 3)
    bob_first = await service.page(GUILD, BOB)
    assert {job.origin.user_id for job in bob_first.jobs} == {BOB}

    alice_elsewhere = await service.page(OTHER_GUILD, ALICE)

    assert {job.origin.guild_id for job in alice_elsewhere.jobs} == {OTHER_GUILD}
    assert alice_elsewhere.total == 3


async def test_a_cursor_from_someone_elses_job_still_shows_only_the_members_own(
    store: SqlStore, service: HistoryService
) -> None:
    await alice_jobs(store, 12)
    bobs = (await service.page(GUILD, BOB)).jobs

    page = await service.page(GUILD, ALICE, before=bobs[0].id)

    assert page.jobs
    assert {job.origin.user_id for job in page.jobs} == {ALICE}


async def test_a_page_past_either_end_falls_back_to_the_newest(
    store: SqlStore, service: HistoryService
) -> None:
    jobs = await alice_jobs(store, 3)

    past_the_end = await service.page(GUILD, ALICE, before=jobs[0].id)
    unknown = await service.page(GUILD, ALICE, after=999_999)

    assert ids(past_the_end.jobs) == ids(unknown.jobs) == ids(jobs[::-1])


async def test_no_jobs_is_an_empty_page(service: HistoryService) -> None:
    page = await service.page(GUILD, ALICE)

    assert page.jobs == ()
    assert (page.total, page.has_newer, page.has_older) == (0, False, False)


# One job's details -----------------------------------------------------------------------------


async def test_details_of_an_own_job_accept_the_ways_an_id_is_typed(
    store: SqlStore, service: HistoryService
) -> None:
    job = await add(store)

    for typed in (str(job.id), f"#{job.id}", f" # {job.id} ", f"#{job.id} · ✅ · the cat"):
        assert (await service.details(GUILD, ALICE, typed)).job.id == job.id


@pytest.mark.parametrize("typed", ["", "cat", "#", "-1", "99999", "1" * 30])
async def test_details_of_anything_but_a_known_id_is_not_found(
    store: SqlStore, service: HistoryService, typed: str
) -> None:
    await add(store)

    with pytest.raises(UserError) as refused:
        await service.details(GUILD, ALICE, typed)

    assert refused.value.user_message == messages.JOB_NOT_FOUND


async def test_another_members_job_or_a_job_on_another_server_is_not_found(
    store: SqlStore, service: HistoryService
) -> None:
    bobs = await add(store, BOB)
    elsewhere = await add(store, guild_id=OTHER_GUILD)

    for job in (bobs, elsewhere):
        with pytest.raises(UserError) as refused:
            await service.details(GUILD, ALICE, str(job.id))
        assert refused.value.user_message == messages.JOB_NOT_FOUND


async def completed(store: SqlStore, at: datetime) -> Job:
    job = await add(store, at=at)
    await factories.submit(store, job.id, f"pred-{job.id}", 29, (60.0, 120.0), at)
    await factories.complete(store, job.id, "https://assets.example/clip.mp4", None, at)
    return await factories.deliver(store, job.id, 4242, "file", at)


async def test_details_carry_the_clip_link_while_it_lives_and_its_expiry(
    store: SqlStore, service: HistoryService, clock: Clock
) -> None:
    job = await completed(store, T0)
    clock.now = T0 + timedelta(hours=TTL_H - 1)

    details = await service.details(GUILD, ALICE, str(job.id))

    assert details.clip_url == "https://assets.example/clip.mp4"
    assert details.clip_expires_at == T0 + timedelta(hours=TTL_H)


async def test_details_of_an_expired_clip_keep_the_expiry_but_not_the_link(
    store: SqlStore, service: HistoryService, clock: Clock
) -> None:
    job = await completed(store, T0)
    clock.now = T0 + timedelta(hours=TTL_H, seconds=1)

    details = await service.details(GUILD, ALICE, str(job.id))

    assert details.clip_url is None
    assert details.clip_expires_at == T0 + timedelta(hours=TTL_H)


async def test_details_of_an_erased_or_unfinished_job_have_no_clip(
    store: SqlStore, service: HistoryService
) -> None:
    erased = await completed(store, T0)
    await store.redact_user(ALICE)
    queued = await add(store)

    for job in (erased, queued):
        details = await service.details(GUILD, ALICE, str(job.id))
        assert (details.clip_url, details.clip_expires_at) == (None, None)


# Autocomplete ----------------------------------------------------------------------------------


async def test_nothing_typed_offers_the_newest_own_jobs_on_this_server(
    store: SqlStore, service: HistoryService
) -> None:
    jobs = await alice_jobs(store, 30)

    choices = await service.choices(GUILD, ALICE, "")

    assert ids(choices) == ids(jobs[::-1][:MAX_CHOICES])


async def test_digits_match_the_start_of_the_id(store: SqlStore, service: HistoryService) -> None:
    jobs = await alice_jobs(store, 40)  # Alice's ids here: 1, 4, 7, ..., 118
    mine = {job.id for job in jobs}

    for typed in ("1", "#1", " 1 "):
        found = ids(await service.choices(GUILD, ALICE, typed))
        expected = sorted((i for i in mine if str(i).startswith("1")), reverse=True)
        assert found == expected[:MAX_CHOICES]
    assert ids(await service.choices(GUILD, ALICE, "10")) == [109, 106, 103, 100, 10]


async def test_text_matches_part_of_the_prompt_in_any_case(
    store: SqlStore, service: HistoryService
) -> None:
    cat = await add(store, prompt="A Cat turns its head")
    await add(store, prompt="a dog wags its tail")
    await add(store, BOB, prompt="a cat sleeps")

    assert ids(await service.choices(GUILD, ALICE, "cAT")) == [cat.id]
    assert ids(await service.choices(GUILD, ALICE, "turns its")) == [cat.id]


async def test_like_wildcards_typed_are_matched_literally(
    store: SqlStore, service: HistoryService
) -> None:
    percent = await add(store, prompt="zoom in 50% faster")
    underscore = await add(store, prompt="snake_case title")
    backslash = await add(store, prompt=r"a \ slash")
    await add(store, prompt="zoom in 500 faster, snakeXcase")

    assert ids(await service.choices(GUILD, ALICE, "50%")) == [percent.id]
    assert ids(await service.choices(GUILD, ALICE, "e_c")) == [underscore.id]
    assert ids(await service.choices(GUILD, ALICE, "\\")) == [backslash.id]


async def test_choice_labels_show_id_state_and_prompt_within_discords_limit(
    store: SqlStore,
) -> None:
    job = await add(store, prompt="a cat turns its head\nand blinks " + "slowly " * 30)
    failed = await factories.fail(store, job.id, "boom", None, T0)

    label = choice_name(failed, "en-US")

    assert label.startswith(f"#{job.id} · ❌ · a cat turns its head and blinks slowly")
    assert len(label) == 100
    assert label.endswith("…")
    assert choice_name(await add(store, prompt="hi"), "en-US").endswith(" · ⏳ · hi")


# The mention setting ---------------------------------------------------------------------------


async def test_mention_setting_defaults_on_and_is_kept_per_member(store: SqlStore) -> None:
    assert await store.mention_on_done(ALICE) is True

    await store.set_mention_on_done(ALICE, False, T0)

    assert await store.mention_on_done(ALICE) is False
    assert await store.mention_on_done(BOB) is True
    await store.set_mention_on_done(ALICE, True, T0)
    assert await store.mention_on_done(ALICE) is True


async def test_history_and_autocomplete_read_the_member_through_the_index(
    store: SqlStore, service: HistoryService
) -> None:
    """The queries search `jobs_by_guild_user_time`, so they cost one member's rows on one
    server, however large the table; no sort step either."""
    await alice_jobs(store, 12)
    async with traced(store) as statements:
        first = await service.page(GUILD, ALICE)
        await service.page(GUILD, ALICE, before=first.jobs[-1].id)
        await service.page(GUILD, ALICE, after=first.jobs[-1].id)
        await service.choices(GUILD, ALICE, "12")
        await service.choices(GUILD, ALICE, "cat")

    plans: list[str] = []
    for sql in statements:
        if "WHERE jobs.guild_id" in sql:
            plans.append("; ".join(await explain(store, sql)))
    assert len(plans) == 11  # (page + count of newer + total) x 3 + 2
    for plan in plans:
        assert "INDEX jobs_by_guild_user_time (guild_id=? AND user_id=?" in plan
        assert "TEMP B-TREE" not in plan


# A deleted post ----------------------------------------------------------------------------------


async def test_a_deleted_post_is_labelled_everywhere_and_never_linked(
    store: SqlStore, service: HistoryService
) -> None:
    job = await add(store)
    await factories.deliver(store, job.id, 424242, "file", T0)
    link = jump_url(GUILD, job.origin.channel_id, 424242)

    async def shown(live: Job) -> list[str]:
        """Every place a member or a moderator sees the job's post, as rendered text."""
        history = history_message(await service.page(GUILD, ALICE), "en")["embed"]
        details = await service.details(GUILD, ALICE, str(live.id))
        usage = usage_embed(await store.usage_report(ALICE, T0), "en")
        return [
            history.description,
            "\n".join(f.value for f in show_embed(details, "en").fields),
            usage.description,
            "\n".join(f.value for f in mod_log_embed(live).fields),
        ]

    before = await store.get_job(job.id)
    assert before is not None
    assert all(link in text for text in await shown(before))

    assert await store.mark_post_deleted(job.id, T0 + timedelta(hours=1))
    after = await store.get_job(job.id)
    assert after is not None
    label = job_messages.post_deleted(after).render("en")
    for text in await shown(after):
        assert link not in text
        assert label in text
