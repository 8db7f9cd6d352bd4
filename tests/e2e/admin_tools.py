"""Helpers for the server-controls end-to-end tests: admin commands, outcomes, seeded jobs."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.e2e.conftest import BotRunner, wait_until
from tests.fakes.discord import FakeDiscord, RecordedRequest
from tests.fakes.discord.constants import EVERYONE_PERMISSIONS, FLAG_EPHEMERAL, MANAGE_GUILD

EPHEMERAL = FLAG_EPHEMERAL
#: What an admin (Manage Server, nothing else special) has in the invoking channel.
ADMIN_PERMISSIONS = EVERYONE_PERMISSIONS | MANAGE_GUILD


def admin_command(
    discord: FakeDiscord,
    *path: str,
    options: Iterable[dict[str, Any]] = (),
    user_id: int | None = None,
    member_permissions: int = ADMIN_PERMISSIONS,
    channel_id: int | None = None,
) -> dict[str, Any]:
    """An `/animate-admin <path...>` interaction from an admin (unless told otherwise)."""
    return discord.make_interaction(
        "animate-admin",
        discord.subcommand(*path, options=list(options)),
        user_id=user_id or discord.owner_id,
        member_permissions=member_permissions,
        channel_id=channel_id,
    )


async def callback_of(
    discord: FakeDiscord, d: dict[str, Any], timeout_s: float = 15.0
) -> RecordedRequest:
    """The interaction callback the bot sent for `d`."""
    return await discord.wait_for_request(
        lambda r: r.method == "POST" and r.path.startswith(f"/interactions/{d['id']}/"),
        timeout_s,
    )


async def admin(discord: FakeDiscord, *path: str, **kwargs: Any) -> dict[str, Any]:
    """Run an admin command; return its ephemeral reply (`data` of a type 4 callback)."""
    d = admin_command(discord, *path, **kwargs)
    await discord.send_interaction(d)
    return await reply_of(discord, d)


async def block(
    discord: FakeDiscord, member: int, reason: str, *, user_id: int | None = None
) -> dict[str, Any]:
    """`/animate-admin block member: reason:`, by an admin; returns its reply."""
    options = [discord.user_option("member", member), discord.string_option("reason", reason)]
    return await admin(discord, "block", options=options, user_id=user_id)


async def reply_of(discord: FakeDiscord, d: dict[str, Any]) -> dict[str, Any]:
    """The immediate ephemeral reply to `d` (asserting it is one)."""
    callback = await callback_of(discord, d)
    assert callback.status == 200, callback.response
    assert callback.json["type"] == 4
    data: dict[str, Any] = callback.json["data"]
    assert data["flags"] & EPHEMERAL
    return data


def fields_of(data: dict[str, Any]) -> dict[str, str]:
    """The fields of a reply's one embed, by name."""
    (embed,) = data["embeds"]
    return {f["name"]: f["value"] for f in embed["fields"]}


async def animate_outcome(discord: FakeDiscord, d: dict[str, Any], timeout_s: float = 20.0) -> str:
    """Send an /animate interaction; return the first text the bot put on its response.

    That is the refusal for a refused request, or the first progress line for an accepted one.
    The acknowledgement must be an ephemeral deferral.
    """
    await discord.send_interaction(d)
    callback = await callback_of(discord, d, timeout_s)
    assert (callback.json["type"], callback.json["data"]["flags"]) == (5, EPHEMERAL)
    edit = await discord.wait_for_request(
        lambda r: (
            r.method == "PATCH"
            and d["token"] in r.path
            and r.json is not None
            and r.json.get("content") is not None
        ),
        timeout_s,
    )
    return str(edit.json["content"])


def texts_over(make: Callable[[datetime], str], slack_s: int = 60) -> set[str]:
    """Every text `make` gives for a clock from `slack_s` ago to `slack_s` ahead."""
    now = datetime.now(UTC)
    return {make(now + timedelta(seconds=s)) for s in range(-slack_s, slack_s + 1)}


def guild_config(runner: BotRunner) -> dict[str, Any] | None:
    """The stored configuration JSON of the fake guild, or None."""
    rows = runner.query("SELECT config FROM guild_config")
    return None if not rows else dict(json.loads(rows[0]["config"]))


def audit_rows(runner: BotRunner) -> list[tuple[int, str, str]]:
    """(actor, action, detail) of every recorded change, oldest first."""
    rows = runner.query("SELECT actor_id, action, detail FROM guild_audit ORDER BY id")
    return [(r["actor_id"], r["action"], r["detail"]) for r in rows]


def user_jobs(runner: BotRunner, user_id: int) -> list[Any]:
    """The job rows of one user, oldest first."""
    return [j for j in runner.jobs() if j["user_id"] == user_id]


async def wait_all_notified(runner: BotRunner, count: int, timeout_s: float = 20.0) -> None:
    """Wait until `count` jobs exist and every one has finished and been reported."""
    await wait_until(
        lambda: len(runner.jobs()) == count and all(j["notified"] for j in runner.jobs()),
        timeout_s,
    )


def seed_job(
    runner: BotRunner,
    discord: FakeDiscord,
    *,
    user_id: int,
    created_at: datetime,
    state: str = "delivered",
    cost_cents: int = 29,
    prompt: str = "an old clip",
) -> int:
    """Insert a finished job as an earlier run of the bot would have left it; return its id."""
    ts = created_at.timestamp()
    (row,) = runner.query(
        """INSERT INTO jobs (state, guild_id, channel_id, user_id, application_id,
               interaction_expires_at, upload_limit_bytes, prompt, image_url, model,
               params, duration_s, resolution, generate_audio, nonce,
               prediction_id, cost_cents, created_at, submitted_at, completed_at,
               finished_at, output_url, notified, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'seedance-1.5-pro-i2v',
                   '{"duration":5,"resolution":"720p","aspect_ratio":"auto",'
                   || '"camera_fixed":false,"seed":7,"generate_audio":false}',
                   5, '720p', 0, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)
           RETURNING id""",
        state,
        discord.guild_id,
        discord.channel_id,
        user_id,
        discord.application_id,
        ts + 900,
        10 * 1024 * 1024,
        prompt,
        f"{discord.cdn_base}/attachments/1/2/old.png",
        secrets.token_hex(8),
        secrets.token_hex(8),
        cost_cents,
        ts,
        ts + 1,
        ts + 2,
        ts + 3,
        "https://assets.example/old.mp4",
        ts + 3,
    )
    return int(row["id"])
