"""Discord side of job delivery: progress edits through the interaction, results in the channel."""

from __future__ import annotations

import logging
from collections.abc import Coroutine
from datetime import datetime
from typing import Any, cast

import aiohttp
import discord

from bot import messages
from bot.media import DownloadedClip
from bot.models import CANCELLABLE, Job, JobState
from bot.notifier import PostFailedError, ProgressGoneError, UploadTooLargeError
from cogs.buttons import cancel_view

log = logging.getLogger(__name__)

#: Discord's alias for an interaction's first response in webhook message routes.
ORIGINAL_RESPONSE = "@original"
_INVALID_WEBHOOK_TOKEN = 50027
_UPLOAD_TOO_LARGE_CODES = {40005, 50045}
_EMBED_DESCRIPTION_MAX = 4096
_FIELD_MAX = 1024
_MOD_LOG_COLOURS = {
    JobState.DELIVERED: discord.Colour.green(),
    JobState.FAILED: discord.Colour.red(),
    JobState.CANCELLED: discord.Colour.dark_grey(),
}
_NO_MENTIONS = discord.AllowedMentions.none()


class DiscordNotifier:
    """`JobNotifier` over Discord: works after a restart from what the job row stores."""

    def __init__(self, client: discord.Client) -> None:
        self._client = client

    async def edit_progress(self, job: Job, text: str, *, cancellable: bool) -> bool:
        """Edit the requester's ephemeral progress message through the interaction token."""
        webhook = discord.Webhook.partial(
            job.origin.application_id, job.origin.interaction_token, client=self._client
        )
        try:
            await webhook.edit_message(
                cast(int, ORIGINAL_RESPONSE),  # the route takes this documented alias for an id
                content=text,
                embed=None,
                view=cancel_view(job.id) if cancellable else None,
                allowed_mentions=_NO_MENTIONS,
            )
        except discord.NotFound as exc:
            raise ProgressGoneError(str(exc)) from exc
        except discord.HTTPException as exc:
            if exc.status == 401 or exc.code == _INVALID_WEBHOOK_TOKEN:
                raise ProgressGoneError(str(exc)) from exc
            log.warning("job %d: progress edit failed: %s", job.id, exc)
            return False
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.warning("job %d: progress edit failed: %r", job.id, exc)
            return False
        return True

    async def post_clip(self, job: Job, clip: DownloadedClip) -> int:
        """Post the mp4 with its caption; the job's nonce makes a repeat return the same message."""
        file = discord.File(clip.path, filename=f"animate-{job.id}.mp4")
        return await self._send(job, embed=result_embed(job), file=file)

    async def post_link(self, job: Job, expires_at: datetime) -> int:
        """Post the clip's URL, saying when it expires."""
        embed = result_embed(job)
        embed.url = job.output_url
        embed.add_field(name="Download", value=messages.link_instead(expires_at), inline=False)
        return await self._send(job, embed=embed)

    async def post_failure(self, job: Job, text: str) -> None:
        """Tell the requester in the channel, without pinging anyone."""
        await self._send(job, content=text, nonce=f"{job.nonce}-f")

    async def post_mod_log(self, job: Job, channel_id: int) -> int:
        """Post the job's moderation-log entry, with a Cancel button while it runs."""
        return await self._send(
            job,
            channel_id=channel_id,
            embed=mod_log_embed(job),
            view=cancel_view(job.id) if job.state in CANCELLABLE else None,
            nonce=f"{job.nonce}-m",
        )

    async def update_mod_log(self, job: Job) -> None:
        """Edit the job's moderation-log entry to show where it stands."""
        assert job.mod_log_channel_id is not None
        assert job.mod_log_message_id is not None
        channel = self._client.get_partial_messageable(
            job.mod_log_channel_id, guild_id=job.origin.guild_id
        )
        message = channel.get_partial_message(job.mod_log_message_id)
        view = cancel_view(job.id) if job.state in CANCELLABLE else None
        await _posting(message.edit(embed=mod_log_embed(job), view=view))

    async def _send(
        self,
        job: Job,
        *,
        channel_id: int | None = None,
        content: str | None = None,
        embed: discord.Embed | None = None,
        file: discord.File | None = None,
        view: discord.ui.View | None = None,
        nonce: str | None = None,
    ) -> int:
        channel = self._client.get_partial_messageable(
            channel_id or job.origin.channel_id, guild_id=job.origin.guild_id
        )
        message = await _posting(
            channel.send(
                content=content,
                embed=embed if embed is not None else discord.utils.MISSING,
                file=file if file is not None else discord.utils.MISSING,
                view=view if view is not None else discord.utils.MISSING,
                nonce=nonce or job.nonce,
                allowed_mentions=_NO_MENTIONS,
            )
        )
        return message.id


async def _posting(request: Coroutine[Any, Any, discord.Message]) -> discord.Message:
    """Await a post or edit, mapping Discord's failures to the notifier's errors."""
    try:
        return await request
    except discord.HTTPException as exc:
        if exc.status == 413 or exc.code in _UPLOAD_TOO_LARGE_CODES:
            raise UploadTooLargeError(str(exc)) from exc
        raise PostFailedError(str(exc), retryable=exc.status >= 500 or exc.status == 429) from exc
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise PostFailedError(repr(exc), retryable=True) from exc


def mod_log_embed(job: Job) -> discord.Embed:
    """A job's entry in the moderation log: who, where, what, settings, cost and result."""
    prompt = "*(erased)*" if job.redacted else discord.utils.escape_markdown(job.prompt)
    embed = discord.Embed(
        title=messages.mod_log_title(job),
        description=_truncate(prompt, _EMBED_DESCRIPTION_MAX),
        colour=_MOD_LOG_COLOURS.get(job.state, discord.Colour.blurple()),
        timestamp=job.created_at,
    )
    embed.add_field(name="Requested by", value=f"<@{job.origin.user_id}>")
    embed.add_field(name="Channel", value=f"<#{job.origin.channel_id}>")
    embed.add_field(name="Cost", value=messages.dollars(job.cost_cents + job.reserved_cents))
    embed.add_field(name="Settings", value=messages.settings_line(job.settings), inline=False)
    embed.add_field(
        name="Result", value=_truncate(messages.mod_log_result(job), _FIELD_MAX), inline=False
    )
    if job.image_url.startswith(("https://", "http://")):  # empty once erased
        embed.set_thumbnail(url=job.image_url)
    embed.set_footer(text=f"Job #{job.id}")
    return embed


def result_embed(job: Job) -> discord.Embed:
    """The caption posted with a clip: prompt, requester, settings, generation time."""
    embed = discord.Embed(
        title=messages.RESULT_TITLE,
        # Escaped so a prompt cannot dress up as a masked link or other formatting.
        description=_truncate(discord.utils.escape_markdown(job.prompt), _EMBED_DESCRIPTION_MAX),
        colour=discord.Colour.blurple(),
    )
    # A mention inside an embed never pings; it only shows the name.
    embed.add_field(name="Requested by", value=f"<@{job.origin.user_id}>")
    if took := messages.generation_time(job):
        embed.add_field(name="Generation time", value=took)
    embed.add_field(name="Settings", value=messages.settings_line(job.settings), inline=False)
    embed.set_footer(text=f"Job #{job.id} · Seedance 1.5 Pro")
    return embed


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
