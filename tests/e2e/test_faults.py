"""The fault matrix (issue 5): the real bot process survives each fault with nothing lost,
nothing posted twice and nothing leaked. The README's Reliability section maps every row to a
test here or in the unit suites."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.e2e.conftest import (
    BotProcess,
    BotRunner,
    animate_interaction,
    is_clip_post,
    png_bytes,
    progress_texts,
    wait_until,
)
from tests.fakes.discord import FakeDiscord, RecordedRequest
from tests.fakes.fake_vibedream import MODERATION_ERROR, FakeVibedream
from tests.fakes.tiny_http import TinyServer

EPHEMERAL = 1 << 6
DM_CHANNELS = r"/users/@me/channels"


# Helpers ---------------------------------------------------------------------------------------


def clip_messages(discord: FakeDiscord, job_id: int) -> list[dict[str, Any]]:
    """Stored messages (any channel, any route) that carry job `job_id`'s result."""
    return [
        m
        for m in discord.channel_messages()
        if m.get("embeds") and f"Job #{job_id} " in json.dumps(m["embeds"], ensure_ascii=False)
    ]


def job(runner: BotRunner, index: int = 0) -> sqlite3.Row:
    return runner.jobs()[index]


def all_notified(runner: BotRunner) -> Callable[[], bool]:
    return lambda: bool(runner.jobs()) and all(j["notified"] == 1 for j in runner.jobs())


def dm_posts(discord: FakeDiscord) -> list[RecordedRequest]:
    """Successful message posts into DM channels the bot opened."""
    opened = {str(r.response["id"]) for r in discord.requests_to("POST", DM_CHANNELS) if r.response}
    return [
        r
        for r in discord.requests_to("POST", r"/channels/\d+/messages")
        if r.path.split("/")[2] in opened and r.status == 200
    ]


async def hold_until_generating(
    discord: FakeDiscord, api: FakeVibedream, **interaction: Any
) -> tuple[dict[str, Any], str]:
    """Send /animate and return it with its prediction id, held in `processing`."""
    api.hold()
    sent = animate_interaction(discord, **interaction)
    await discord.send_interaction(sent)
    await api.wait_for(lambda: len(api.predictions) == 1)
    (prediction_id,) = api.predictions
    return sent, prediction_id


class Relay:
    """A TCP relay in front of a server that can go down (refusing connections) and come back
    on the same port: the video API unreachable for a while."""

    def __init__(self, target_port: int) -> None:
        self._target_port = target_port
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self.port = 0

    async def up(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def down(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in self._open:
                writer.close()
            await self._server.wait_closed()
            self._server = None

    async def _relay(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection("127.0.0.1", self._target_port)
        except OSError:
            client_w.close()
            return
        self._open.update((client_w, server_w))

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            writer.close()

        await asyncio.gather(pipe(client_r, server_w), pipe(server_r, client_w))
        self._open.difference_update((client_w, server_w))


# Video API faults ------------------------------------------------------------------------------


async def test_video_api_down_for_a_while_jobs_wait_and_resume(
    runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    relay = Relay(video_api.port)
    await relay.up()
    await relay.down()  # the API refuses connections from the start
    await runner.start(vibedream_api_url=f"http://127.0.0.1:{relay.port}/api/v1")
    interaction = animate_interaction(discord_fake)

    await discord_fake.send_interaction(interaction)
    await wait_until(
        lambda: any("unreachable" in t for t in progress_texts(discord_fake, interaction)), 30
    )
    assert video_api.submits == []
    assert job(runner)["state"] in ("queued", "claimed", "submitting")
    await relay.up()

    await discord_fake.wait_for_request(is_clip_post(discord_fake.channel_id), 30)
    await wait_until(lambda: job(runner)["state"] == "delivered")
    assert len(video_api.submits) == 1
    await relay.down()


async def test_submit_that_times_out_is_never_resent_and_is_flagged_for_an_admin(
    runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    await runner.start(api_timeout_s="1")
    video_api.submit_answer_delay_s = 5  # the API takes the job but answers too late
    interaction = animate_interaction(discord_fake)

    await discord_fake.send_interaction(interaction)
    await wait_until(all_notified(runner), 20)

    row = job(runner)
    assert (row["state"], row["failure_kind"]) == ("failed", "submit_unknown")
    assert len(video_api.submits) == 1
    assert "not re-sent" in progress_texts(discord_fake, interaction)[-1]


async def test_401_mid_run_fails_the_job_as_service_unavailable(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    interaction, _ = await hold_until_generating(discord_fake, video_api)
    video_api.fail_next("status", 401, times=50)  # the key was revoked while generating

    await wait_until(all_notified(runner), 20)

    assert job(runner)["state"] == "failed"
    assert "unavailable" in progress_texts(discord_fake, interaction)[-1]
    await bot.stop()
    assert "check VIBEDREAM_API_KEY" in bot.log_text()


STATUS_ODDITIES = {
    "undocumented status": b'{"id": "x", "status": "warming_up", "outputs": null}',
    "missing fields": b'{"id": "x"}',
    "not an object": b'["completed"]',
}


@pytest.mark.parametrize("answer", STATUS_ODDITIES, ids=list(STATUS_ODDITIES))
async def test_odd_status_answers_are_waited_out_and_the_clip_delivered(
    answer: str,
    bot: BotProcess,
    runner: BotRunner,
    discord_fake: FakeDiscord,
    video_api: FakeVibedream,
) -> None:
    video_api.fail_next("status", 200, times=3, body=STATUS_ODDITIES[answer])

    await discord_fake.send_interaction(animate_interaction(discord_fake))
    await discord_fake.wait_for_request(is_clip_post(discord_fake.channel_id), 20)

    await wait_until(lambda: job(runner)["state"] == "delivered")
    job_polls = f"/predictions/{job(runner)['prediction_id']}"  # not the start's key check
    polls = [r for r in video_api.requests if r.route == "status" and r.path.endswith(job_polls)]
    assert [r.status for r in polls][:3] == [200] * 3
    assert len(video_api.submits) == 1


#: Each sets up one misbehaving clip host: (API, allowed server URL, outside server URL).
DOWNLOAD_FAULTS: dict[str, Callable[[FakeVibedream, str, str], None]] = {
    "404": lambda api, allowed, outside: api.fail_next("asset", 404, times=20),
    "truncated body": lambda api, allowed, outside: setattr(api, "redirect_assets_to", allowed),
    "wrong content type": lambda api, allowed, outside: setattr(
        api, "output_content_type", "text/html"
    ),
    "redirect off the allowlist": lambda api, allowed, outside: setattr(
        api, "redirect_assets_to", outside
    ),
}


@pytest.mark.parametrize("fault", DOWNLOAD_FAULTS, ids=list(DOWNLOAD_FAULTS))
async def test_clip_download_faults_end_in_a_clear_failure_and_nothing_from_outside(
    fault: str, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    async def cut_short(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "video/mp4"})
        response.content_length = 64 * 1024
        await response.prepare(request)
        await response.write(b"\x00\x00\x00\x18ftypmp42" + bytes(1000))
        assert request.transport is not None
        request.transport.close()
        return response

    async def outside_clip(request: web.Request) -> web.Response:
        return web.Response(body=b"\x00\x00\x00\x18ftypmp42" + bytes(1000))

    async with TinyServer(cut_short) as allowed, TinyServer(outside_clip) as outside:
        # "localhost" is not in VIBEDREAM_OUTPUT_HOSTS (127.0.0.1 is), though it is this machine.
        outside_url = outside.url("/clip.mp4").replace("127.0.0.1", "localhost")
        DOWNLOAD_FAULTS[fault](video_api, allowed.url("/clip.mp4"), outside_url)
        await runner.start(delivery_retries="2", delivery_retry_base_s="0.1")
        interaction = animate_interaction(discord_fake)

        await discord_fake.send_interaction(interaction)
        await wait_until(all_notified(runner), 20)

        assert outside.requests == []
    row = job(runner)
    assert row["state"] == "failed"
    assert "couldn't download it safely" in row["error"]
    assert "couldn't download it safely" in progress_texts(discord_fake, interaction)[-1]
    assert not any(is_clip_post(discord_fake.channel_id)(r) for r in discord_fake.requests)
    assert list(runner.download_dir.iterdir()) == []
    assert len([r for r in video_api.requests if r.route == "asset"]) <= 3  # bounded retries


# Discord faults --------------------------------------------------------------------------------


async def test_discord_5xx_and_429_on_callback_edits_and_upload_still_deliver_once(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    channel = discord_fake.channel_id
    discord_fake.fail_next("POST", r"/interactions/\d+/[^/]+/callback", 429)
    discord_fake.fail_next("PATCH", r"/webhooks/\d+/[^/]+/messages/@original", 503, times=2)
    discord_fake.fail_next("PATCH", r"/webhooks/\d+/[^/]+/messages/@original", 429)
    discord_fake.fail_next("POST", rf"/channels/{channel}/messages", 500)
    discord_fake.fail_next("POST", rf"/channels/{channel}/messages", 429)

    await discord_fake.send_interaction(animate_interaction(discord_fake))
    await discord_fake.wait_for_request(is_clip_post(channel), 30)
    await wait_until(lambda: job(runner)["state"] == "delivered", 30)
    await asyncio.sleep(0.5)  # room for a stray second post to show up

    statuses = {r.status for r in discord_fake.requests}
    assert {429, 500, 503} <= statuses  # every injected fault was met
    assert len(clip_messages(discord_fake, job(runner)["id"])) == 1


async def test_channel_post_forbidden_delivers_through_the_interaction_followup(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    _, prediction_id = await hold_until_generating(discord_fake, video_api)
    discord_fake.deny_channel_post(discord_fake.channel_id)  # a moderator changed permissions
    video_api.complete_now(prediction_id)

    await wait_until(lambda: job(runner)["state"] == "delivered", 20)

    row = job(runner)
    assert row["delivered_via"] == "followup"
    assert "Missing Permissions" in row["delivery_note"]
    followups = discord_fake.requests_to("POST", r"/webhooks/\d+/[^/]+")
    assert [bool(r.files) for r in followups if r.status == 200] == [True]
    (message,) = clip_messages(discord_fake, row["id"])
    assert int(message["channel_id"]) == discord_fake.channel_id
    assert int(message["id"]) == row["message_id"]


async def test_channel_post_forbidden_after_the_token_expired_delivers_by_dm(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    interaction, prediction_id = await hold_until_generating(discord_fake, video_api)
    discord_fake.expire_token(interaction["token"])
    await wait_until(lambda: any(r.status == 401 for r in discord_fake.webhook_edits()))
    discord_fake.deny_channel_post(discord_fake.channel_id)
    video_api.complete_now(prediction_id)

    await wait_until(lambda: job(runner)["state"] == "delivered", 20)

    row = job(runner)
    assert row["delivered_via"] == "dm"
    assert "Missing Permissions" in row["delivery_note"]
    (dm,) = dm_posts(discord_fake)
    assert dm.files
    assert dm.json["allowed_mentions"] == {"parse": []}
    assert len(clip_messages(discord_fake, row["id"])) == 1


async def test_channel_deleted_before_delivery_marks_the_job_undeliverable_and_dms_the_user(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    _, prediction_id = await hold_until_generating(discord_fake, video_api)
    discord_fake.delete_channel(discord_fake.channel_id)
    video_api.complete_now(prediction_id)

    await wait_until(all_notified(runner), 20)

    row = job(runner)
    assert (row["state"], row["failure_kind"]) == ("failed", "undeliverable")
    (dm,) = dm_posts(discord_fake)
    assert row["output_url"] in dm.json["content"]
    assert f"job #{row['id']}" in dm.json["content"]
    assert clip_messages(discord_fake, row["id"]) == []


async def test_gateway_disconnect_mid_job_reconnects_and_the_job_completes(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    _, prediction_id = await hold_until_generating(discord_fake, video_api)
    sessions = discord_fake.identify_count + discord_fake.resume_count

    await discord_fake.disconnect_gateway()
    await wait_until(lambda: discord_fake.identify_count + discord_fake.resume_count > sessions)
    video_api.complete_now(prediction_id)
    await discord_fake.wait_for_request(is_clip_post(discord_fake.channel_id), 20)
    await wait_until(lambda: job(runner)["state"] == "delivered")

    # And the reconnected session still takes new commands.
    video_api.release()
    await discord_fake.send_interaction(animate_interaction(discord_fake, prompt="after"))
    await wait_until(lambda: len(runner.jobs()) == 2 and job(runner, 1)["state"] == "delivered")


# Process: SIGTERM and SIGKILL ------------------------------------------------------------------


async def test_sigterm_exits_0_within_10_s_while_every_stage_is_busy(
    runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    bot = await runner.start(max_jobs_in_flight="1")
    await hold_until_generating(discord_fake, video_api, prompt="generating")
    await discord_fake.send_interaction(animate_interaction(discord_fake, prompt="queued"))
    await wait_until(lambda: len(runner.jobs()) == 2 and job(runner, 1)["state"] == "queued")

    assert await bot.stop(signal.SIGTERM, timeout_s=10) == 0

    assert [j["state"] for j in runner.jobs()] == ["submitted", "queued"]  # all persisted
    assert "Traceback" not in bot.log_text()
    video_api.release()
    await runner.start()
    await wait_until(lambda: all(j["state"] == "delivered" for j in runner.jobs()), 30)
    assert len(video_api.submits) == 2


@dataclass(frozen=True)
class KillPoint:
    """Bring a job to one state, hold it there, and (optionally) rewrite the row after the kill
    to stand for the instant right after a write the bot cannot be stopped at."""

    expect: str  # final state after the restart
    settings: dict[str, str]
    rewrite: str | None = None  # SQL run on the database after the kill


KILL_POINTS = {
    "queued": KillPoint("delivered", {"max_jobs_in_flight": "1"}),
    "claimed": KillPoint("delivered", {}),
    "submitting": KillPoint("failed", {}),
    "submitted": KillPoint("delivered", {}),
    "completed": KillPoint(
        "delivered",
        {"delivery_retry_base_s": "60"},
        "UPDATE jobs SET state = 'completed' WHERE state = 'delivering'",
    ),
    "delivering": KillPoint("delivered", {"delivery_retry_base_s": "60"}),
    "delivering, clip already posted": KillPoint(
        "delivered",
        {},
        "UPDATE jobs SET state = 'delivering', message_id = NULL, delivered_as = NULL,"
        " notified = 0",
    ),
    "delivered": KillPoint("delivered", {}),
    "failed, user not yet told": KillPoint(
        "failed", {}, "UPDATE jobs SET notified = 0 WHERE state = 'failed'"
    ),
}


async def _arrange(point: str, runner: BotRunner, discord: FakeDiscord, api: FakeVibedream) -> int:
    """Drive the job of interest to the kill point; returns its row index."""
    target = 0
    if point == "queued":
        await hold_until_generating(discord, api, prompt="ahead in line")
        target = 1
    elif point == "claimed":
        api.fail_next("submit", 429, retry_after=60)
    elif point == "submitting":
        api.submit_answer_delay_s = 60
    elif point == "submitted":
        api.hold()
    elif point in ("completed", "delivering"):
        api.fail_next("asset", 503)
    elif point == "failed, user not yet told":
        api.fail_prompts_containing = {"target": MODERATION_ERROR}
    await discord.send_interaction(animate_interaction(discord, prompt="target"))
    state = {
        "completed": "delivering",
        "delivering, clip already posted": "delivered",
        "failed, user not yet told": "failed",
    }.get(point, point)
    if point == "claimed":
        # Claimed again after the 429, waiting it out: not the moment of the first claim,
        # before anything was sent (the restarted bot would then meet the 429 itself).
        await wait_until(lambda: len(api.submits) == 1)
    await wait_until(lambda: len(runner.jobs()) > target and job(runner, target)["state"] == state)
    if point == "submitting":
        await api.wait_for(lambda: len(api.predictions) == 1)
    if point in ("delivered", "delivering, clip already posted", "failed, user not yet told"):
        await wait_until(lambda: job(runner, target)["notified"] == 1)
    return target


def _undo_faults(api: FakeVibedream) -> None:
    api.submit_answer_delay_s = 0
    api.release()


@pytest.mark.parametrize("point", KILL_POINTS, ids=list(KILL_POINTS))
async def test_sigkill_at_each_state_then_restart_delivers_once_or_fails_clearly(
    point: str, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    kill_point = KILL_POINTS[point]
    bot = await runner.start(**kill_point.settings)
    target = await _arrange(point, runner, discord_fake, video_api)

    await bot.kill()
    if kill_point.rewrite:
        with contextlib.closing(runner.db()) as db, db:
            db.execute(kill_point.rewrite)
    _undo_faults(video_api)
    await runner.start()
    await wait_until(all_notified(runner), 30)
    await asyncio.sleep(0.5)  # room for a stray second post to show up

    for row in runner.jobs():
        made = [p for p in video_api.predictions.values() if p.request["prompt"] == row["prompt"]]
        assert len(made) <= 1, "submitted twice"
        posted = clip_messages(discord_fake, row["id"])
        if row["state"] == "delivered":
            assert len(posted) == 1
            assert int(posted[0]["id"]) == row["message_id"]
        else:
            assert row["state"] == "failed"
            assert row["error"]
            assert posted == []
    assert job(runner, target)["state"] == kill_point.expect


# Database at start -----------------------------------------------------------------------------


async def _start_refused(runner: BotRunner) -> BotProcess:
    with pytest.raises(RuntimeError, match="exited early"):
        await runner.start()
    bot = runner.processes[-1]
    assert bot.process.returncode not in (None, 0)
    return bot


async def test_corrupt_database_stops_the_bot_at_start_and_is_left_untouched(
    runner: BotRunner, discord_fake: FakeDiscord
) -> None:
    runner.db_path.parent.mkdir(parents=True)
    garbage = b"this is not a database, but somebody's data " * 200
    runner.db_path.write_bytes(garbage)

    bot = await _start_refused(runner)

    assert "not a readable SQLite database" in bot.log_text()
    assert "Traceback" not in bot.log_text()
    assert runner.db_path.read_bytes() == garbage
    assert discord_fake.identify_count == 0


async def test_database_from_a_newer_bot_stops_the_bot_at_start(
    runner: BotRunner, discord_fake: FakeDiscord
) -> None:
    runner.db_path.parent.mkdir(parents=True)
    with contextlib.closing(sqlite3.connect(runner.db_path)) as db:
        db.execute("CREATE TABLE jobs (id INTEGER PRIMARY KEY, future_column TEXT)")
        db.execute("PRAGMA user_version = 999")
        db.commit()
    before = runner.db_path.read_bytes()

    bot = await _start_refused(runner)

    assert "schema version 999" in bot.log_text()
    assert "written by a newer bot" in bot.log_text()
    assert runner.db_path.read_bytes() == before


async def test_first_start_creates_the_database_and_its_folders(
    runner: BotRunner, tmp_path: Path
) -> None:
    path = tmp_path / "state" / "deeper" / "bot.db"

    await runner.start(database_url=f"sqlite:///{path}")

    assert path.is_file()


# Bad and hostile input -------------------------------------------------------------------------

HOSTILE_PROMPTS = {
    "mass mentions": "@everyone @here look",
    "role and user mentions": "<@&123456789012345678> <@123456789012345678> <#1>",
    "markdown and a masked link": "**bold** [free nitro](https://evil.example) ||spoiler||",
    "code block": "```py\nimport os; os.system('rm -rf /')\n```",
    "zero-width characters": "the\u200bcat\u200d blinks\ufeff",
    "right-to-left override": "\u202etxt.exe the cat blinks",
}


@pytest.mark.parametrize("prompt", HOSTILE_PROMPTS, ids=list(HOSTILE_PROMPTS))
async def test_hostile_prompts_are_animated_without_pinging_or_formatting_anything(
    prompt: str, bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord
) -> None:
    text = HOSTILE_PROMPTS[prompt]
    interaction = animate_interaction(discord_fake, prompt=text)

    await discord_fake.send_interaction(interaction)
    post = await discord_fake.wait_for_request(is_clip_post(discord_fake.channel_id), 20)
    await wait_until(lambda: job(runner)["state"] == "delivered")

    assert job(runner)["prompt"] == text.strip()  # stored exactly, shown escaped
    (embed,) = post.json["embeds"]
    rendered = re.sub(r"\\.", "", embed["description"])  # what is left unescaped
    for marker in ("**", "[free nitro](", "```", "||"):
        assert marker not in rendered
    sent = [
        r.json for r in discord_fake.requests if isinstance(r.json, dict) and "content" in r.json
    ]
    requester = int(interaction["member"]["user"]["id"])
    only_requester = {"parse": [], "users": [requester]}  # the clip post, to notify them
    assert all(body.get("allowed_mentions") in ({"parse": []}, only_requester) for body in sent)
    assert all(not m.get("mention_everyone") for m in discord_fake.messages.values())
    assert [
        [int(u["id"]) for u in m["mentions"]]
        for m in discord_fake.messages.values()
        if m.get("mentions")
    ] == [[requester]]  # the clip post mentions its requester; nothing else anyone
    assert all(not m.get("mention_roles") for m in discord_fake.messages.values())


REFUSED_PROMPTS = {
    "10,000 characters": ("x" * 10_000, "at most 1500"),
    "only zero-width characters": ("\u200b\u200c\u200d\ufeff", "prompt is empty"),
}


@pytest.mark.parametrize("prompt", REFUSED_PROMPTS, ids=list(REFUSED_PROMPTS))
async def test_unusable_prompts_are_refused_politely(
    prompt: str, bot: BotProcess, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    text, expected = REFUSED_PROMPTS[prompt]
    interaction = animate_interaction(discord_fake, prompt=text)

    await discord_fake.send_interaction(interaction)
    callback = await discord_fake.wait_for_request(
        lambda r: r.path.startswith(f"/interactions/{interaction['id']}/")
    )

    assert callback.json["data"]["flags"] == EPHEMERAL
    assert expected in callback.json["data"]["content"]
    assert video_api.submits == []


async def test_filename_with_path_separators_and_unicode_is_never_used_as_a_path(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord
) -> None:
    name = "..\\..\\évil 猫 $(id).png"
    image = discord_fake.add_attachment(
        name, png_bytes(512, 512), "image/png", width=512, height=512
    )
    before = set(runner.tmp_path.rglob("*"))

    await discord_fake.send_interaction(animate_interaction(discord_fake, image=image))
    post = await discord_fake.wait_for_request(is_clip_post(discord_fake.channel_id), 20)
    await wait_until(lambda: job(runner)["state"] == "delivered")

    row = job(runner)
    # The source image goes back under a name of the bot's own, never the user's.
    assert [f.filename for f in post.files] == [f"animate-{row['id']}.mp4", "source-first.png"]
    created = {p.relative_to(runner.tmp_path) for p in set(runner.tmp_path.rglob("*")) - before}
    assert all("évil" not in str(p) and "猫" not in str(p) for p in created)
    assert list(runner.download_dir.iterdir()) == []


BAD_IMAGE_BYTES = {
    "zero bytes": (b"", "is empty"),
    "truncated inside the header": (png_bytes(512, 512)[:10], "is cut off after 10 bytes"),
    "declared png, really html": (b"<!DOCTYPE html><html>hi</html>", "does not contain image"),
}


@pytest.mark.parametrize("case", BAD_IMAGE_BYTES, ids=list(BAD_IMAGE_BYTES))
async def test_images_whose_bytes_are_not_a_usable_image_are_refused(
    case: str, bot: BotProcess, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    data, expected = BAD_IMAGE_BYTES[case]
    image = discord_fake.add_attachment("pic.png", data, "image/png", width=512, height=512)
    interaction = animate_interaction(discord_fake, image=image)

    await discord_fake.send_interaction(interaction)
    await wait_until(lambda: bool(progress_texts(discord_fake, interaction)))

    assert expected in progress_texts(discord_fake, interaction)[-1]
    assert video_api.submits == []


async def test_image_whose_declared_type_differs_but_whose_bytes_are_an_image_is_accepted(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord
) -> None:
    # A PNG uploaded as .jpg: the API reads the bytes, so nothing is wrong for the user.
    image = discord_fake.add_attachment(
        "photo.jpg", png_bytes(512, 512), "image/jpeg", width=512, height=512
    )

    await discord_fake.send_interaction(animate_interaction(discord_fake, image=image))

    await discord_fake.wait_for_request(is_clip_post(discord_fake.channel_id), 20)
    await wait_until(lambda: job(runner)["state"] == "delivered")
