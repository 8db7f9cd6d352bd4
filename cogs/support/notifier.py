"""Discord side of job delivery: progress edits through the interaction, results in the channel."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, cast

import aiohttp
import discord

from bot.i18n.text import Text
from bot.jobs import messages
from bot.jobs.model import CANCELLABLE, DeliveryRoute, Job, JobKind, JobState, RefusedInput
from bot.jobs.notifier import (
    NO_EXTRAS,
    ChannelForbiddenError,
    ChannelGoneError,
    PostFailedError,
    ProgressGoneError,
    ResultExtras,
    UploadTooLargeError,
    Variation,
)
from bot.media.files import SOURCE_FIRST, SOURCE_LAST, DownloadedClip
from bot.remix import messages as remix_messages
from cogs.support.buttons import cancel_view, edit_prompt_view, group_view, result_view
from cogs.support.embeds import DESCRIPTION_MAX, FIELD_MAX, truncate

log = logging.getLogger(__name__)

#: Discord's alias for an interaction's first response in webhook message routes.
ORIGINAL_RESPONSE = "@original"
_INVALID_WEBHOOK_TOKEN = 50027
_UPLOAD_TOO_LARGE_CODES = {40005, 50045}
_UNKNOWN_CHANNEL = 10003
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
                view=_progress_view(job, cancellable=cancellable),
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

    async def post_clip(
        self,
        job: Job,
        clip: DownloadedClip,
        via: DeliveryRoute = DeliveryRoute.CHANNEL,
        extras: ResultExtras = NO_EXTRAS,
        *,
        mention: bool = False,
    ) -> int:
        """Post the mp4 with its caption, source images and buttons (none by DM); in the channel
        the job's nonce makes a repeat return the same message. With `mention`, the requester
        (only) is pinged."""
        file = discord.File(clip.path, filename=f"animate-{job.id}.mp4")
        embed = result_embed(job, extras)
        if clip.reencoded_from is not None:
            note = messages.reencoded(clip.reencoded_from, clip.size_bytes)
            embed.add_field(
                name=messages.REENCODED_TITLE.render(job.origin.locale),
                value=note.render(job.origin.locale),
                inline=False,
            )
        return await self._send(
            job,
            via,
            embed=embed,
            files=[file, *_source_files(extras)],
            view=_result_view(job, via),
            **_mention_parts(job, via, mention),
        )

    async def post_link(
        self,
        job: Job,
        expires_at: datetime,
        via: DeliveryRoute = DeliveryRoute.CHANNEL,
        extras: ResultExtras = NO_EXTRAS,
        *,
        mention: bool = False,
    ) -> int:
        """Post the clip's URL, saying when it expires, with source images and buttons (none by
        DM; `mention` as in `post_clip`)."""
        embed = result_embed(job, extras)
        embed.url = job.output_url
        embed.add_field(
            name=messages.FIELD_DOWNLOAD.render(job.origin.locale),
            value=messages.link_instead(expires_at).render(job.origin.locale),
            inline=False,
        )
        return await self._send(
            job,
            via,
            embed=embed,
            files=_source_files(extras),
            view=_result_view(job, via),
            **_mention_parts(job, via, mention),
        )

    async def post_group(
        self,
        leader: Job,
        variations: Sequence[Variation],
        via: DeliveryRoute = DeliveryRoute.CHANNEL,
        extras: ResultExtras = NO_EXTRAS,
        *,
        mention: bool = False,
    ) -> int:
        """Post a group's variations in one message under the first job's nonce: each clip
        as a file or a link, numbered with its seed, failures beside them, a row of buttons
        per clip (none by DM)."""
        files = [
            discord.File(v.clip.path, filename=f"animate-{v.job.id}.mp4")
            for v in variations
            if v.clip is not None
        ]
        made = [
            (number, v.job.id)
            for number, v in enumerate(variations, 1)
            if v.job.state in (JobState.DELIVERING, JobState.DELIVERED)
        ]
        view = (
            None if via is DeliveryRoute.DM else group_view(made, leader.id, leader.origin.locale)
        )
        return await self._send(
            leader,
            via,
            embed=group_embed(leader, variations, extras),
            files=[*files, *_source_files(extras)],
            view=view,
            **_mention_parts(leader, via, mention),
        )

    async def delete_post(self, job: Job) -> None:
        """Delete the result post where it went (a followup is a message in the channel)."""
        assert job.message_id is not None
        try:
            if job.delivered_via is DeliveryRoute.DM:
                channel = await self._messageable(job, DeliveryRoute.DM)
            else:
                channel = self._client.get_partial_messageable(
                    job.origin.channel_id, guild_id=job.origin.guild_id
                )
            await channel.get_partial_message(job.message_id).delete()
        except discord.NotFound:
            return  # deleted already, by hand or by an earlier press
        except discord.HTTPException as exc:
            raise PostFailedError(str(exc), retryable=exc.status >= 500) from exc
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise PostFailedError(repr(exc), retryable=True) from exc

    async def post_failure(
        self, job: Job, text: str, via: DeliveryRoute = DeliveryRoute.CHANNEL
    ) -> None:
        """Tell the requester (in the channel unless told otherwise), without pinging anyone."""
        await self._send(job, via, content=text, nonce=f"{job.nonce}-f")

    async def post_mod_log(self, job: Job, channel_id: int) -> int:
        """Post the job's moderation-log entry, with a Cancel button while it runs."""
        return await self._send(
            job,
            DeliveryRoute.CHANNEL,
            channel_id=channel_id,
            embed=mod_log_embed(job),
            view=_mod_log_view(job),
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
        try:
            await message.edit(embed=mod_log_embed(job), view=_mod_log_view(job))
        except discord.HTTPException as exc:
            raise _post_error(exc, DeliveryRoute.CHANNEL) from exc
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise PostFailedError(repr(exc), retryable=True) from exc

    async def _send(
        self,
        job: Job,
        via: DeliveryRoute,
        *,
        channel_id: int | None = None,
        content: str | None = None,
        embed: discord.Embed | None = None,
        files: list[discord.File] | None = None,
        view: discord.ui.View | None = None,
        nonce: str | None = None,
        allowed_mentions: discord.AllowedMentions = _NO_MENTIONS,
    ) -> int:
        parts: dict[str, Any] = {
            "embed": embed if embed is not None else discord.utils.MISSING,
            "files": files if files else discord.utils.MISSING,
            "view": view if view is not None else discord.utils.MISSING,
            "allowed_mentions": allowed_mentions,
        }
        if content is not None:  # a channel send turns MISSING content into the text "..."
            parts["content"] = content
        try:
            if via is DeliveryRoute.FOLLOWUP:
                message: discord.abc.Snowflake = await self._followup(job).send(wait=True, **parts)
            else:
                target = await self._messageable(job, via, channel_id)
                # A DM has a nonce of its own, so a retried DM is still one message.
                suffix = "-dm" if via is DeliveryRoute.DM else ""
                message = await target.send(nonce=f"{nonce or job.nonce}{suffix}", **parts)
        except discord.HTTPException as exc:
            raise _post_error(exc, via) from exc
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise PostFailedError(repr(exc), retryable=True) from exc
        return message.id

    def _followup(self, job: Job) -> discord.Webhook:
        return discord.Webhook.partial(
            job.origin.application_id, job.origin.interaction_token, client=self._client
        )

    async def _messageable(
        self, job: Job, via: DeliveryRoute, channel_id: int | None = None
    ) -> discord.PartialMessageable:
        if via is DeliveryRoute.DM:
            channel = await self._client.http.start_private_message(job.origin.user_id)
            return self._client.get_partial_messageable(
                int(channel["id"]), type=discord.ChannelType.private
            )
        return self._client.get_partial_messageable(
            channel_id or job.origin.channel_id, guild_id=job.origin.guild_id
        )


def _mention_parts(job: Job, via: DeliveryRoute, mention: bool) -> dict[str, Any]:
    """Content and allowed mentions that ping the requester and no one else: the allowlist
    holds their id alone, so nothing in the prompt or caption can ping anybody. A DM needs no
    mention: Discord notifies it anyway."""
    if not mention or via is DeliveryRoute.DM:
        return {}
    user_id = job.origin.user_id
    return {
        "content": messages.result_mention(user_id),
        "allowed_mentions": discord.AllowedMentions(
            everyone=False, users=[discord.Object(user_id)], roles=False, replied_user=False
        ),
    }


def _post_error(exc: discord.HTTPException, via: DeliveryRoute) -> Exception:
    """Sort a failed post: too large, channel forbidden or gone, worth retrying or not."""
    if exc.status == 413 or exc.code in _UPLOAD_TOO_LARGE_CODES:
        return UploadTooLargeError(str(exc))
    if via is DeliveryRoute.CHANNEL and exc.status == 403:
        return ChannelForbiddenError(str(exc))
    if via is DeliveryRoute.CHANNEL and exc.status == 404 and exc.code == _UNKNOWN_CHANNEL:
        return ChannelGoneError(str(exc))
    return PostFailedError(str(exc), retryable=exc.status >= 500 or exc.status == 429)


def mod_log_embed(job: Job) -> discord.Embed:
    """A job's entry in the moderation log, in the server's language: who, where, what,
    settings, cost and result."""
    say = _renderer(job.origin.guild_locale)
    fields = messages.MOD_LOG_FIELDS
    erased = say(messages.MOD_LOG_ERASED)
    prompt = erased if job.redacted else discord.utils.escape_markdown(job.prompt)
    embed = discord.Embed(
        title=say(messages.mod_log_title(job)),
        description=truncate(prompt, DESCRIPTION_MAX),
        colour=_MOD_LOG_COLOURS.get(job.state, discord.Colour.blurple()),
        timestamp=job.created_at,
    )
    embed.add_field(name=say(fields["requester"]), value=f"<@{job.origin.user_id}>")
    embed.add_field(name=say(fields["channel"]), value=f"<#{job.origin.channel_id}>")
    embed.add_field(name=say(fields["cost"]), value=say(messages.mod_log_cost(job)))
    settings = say(messages.settings_line(job.model, job.settings))
    embed.add_field(name=say(fields["settings"]), value=settings, inline=False)
    result = truncate(say(messages.mod_log_result(job)), FIELD_MAX)
    embed.add_field(name=say(fields["result"]), value=result, inline=False)
    if job.image_url.startswith(("https://", "http://")):  # empty once erased
        embed.set_thumbnail(url=job.image_url)
    embed.set_footer(text=say(messages.mod_log_footer(job.id)))
    return embed


def _source_files(extras: ResultExtras) -> list[discord.File]:
    return [discord.File(s.file.path, filename=s.filename) for s in extras.sources]


def result_embed(job: Job, extras: ResultExtras = NO_EXTRAS) -> discord.Embed:
    """The caption posted with a clip, in the requester's language: prompt, requester,
    settings, generation time, the clip it was made from, and its source images."""
    say = _renderer(job.origin.locale)
    embed = discord.Embed(
        title=say(messages.RESULT_TITLE),
        # Escaped so a prompt cannot dress up as a masked link or other formatting.
        description=truncate(discord.utils.escape_markdown(job.prompt), DESCRIPTION_MAX),
        colour=discord.Colour.blurple(),
    )
    # A mention inside an embed never pings; it only shows the name.
    embed.add_field(name=say(messages.FIELD_REQUESTED_BY), value=f"<@{job.origin.user_id}>")
    if took := messages.generation_time(job):
        embed.add_field(name=say(messages.FIELD_GENERATION_TIME), value=say(took))
    settings = say(messages.settings_line(job.model, job.settings))
    embed.add_field(name=say(messages.FIELD_SETTINGS), value=settings, inline=False)
    if extras.parent_id is not None:
        made_from = remix_messages.made_from(job.kind, extras.parent_id, extras.parent_link)
        embed.add_field(name=say(remix_messages.FIELD_FROM), value=say(made_from), inline=False)
    if job.final_settings is not None:  # a draft: what its Render final will make
        final = say(messages.settings_line(job.model, job.final_settings))
        embed.add_field(name=say(messages.FIELD_DRAFT), value=final, inline=False)
    if job.kind is JobKind.FINAL and extras.parent_cost_cents is not None:
        costs = messages.draft_and_final_cost(extras.parent_cost_cents, job.cost_cents)
        embed.add_field(name=say(messages.FIELD_COST), value=say(costs), inline=False)
    for source in extras.sources:
        if source.filename.startswith(SOURCE_FIRST):
            embed.set_thumbnail(url=f"attachment://{source.filename}")
        elif source.filename.startswith(SOURCE_LAST):
            embed.set_image(url=f"attachment://{source.filename}")
    embed.set_footer(text=say(messages.result_footer(job)))
    return embed


def group_embed(
    leader: Job, variations: Sequence[Variation], extras: ResultExtras = NO_EXTRAS
) -> discord.Embed:
    """A group's caption: the result's (its settings but the seed, which each clip has), and
    one field per variation: its number and seed, and its file, link or why it failed."""
    say = _renderer(leader.origin.locale)
    unseeded = replace(leader, settings=replace(leader.settings, seed=None))
    embed = result_embed(unseeded, extras)
    embed.title = say(messages.variations_title(len(variations)))
    if messages.generation_time(leader) is not None:
        embed.remove_field(1)  # each variation took its own time
    for number, variation in enumerate(variations, 1):
        job = variation.job
        name = say(messages.variation_heading(number, job.settings.seed))
        embed.add_field(name=name, value=say(_variation_line(variation)), inline=False)
    embed.set_footer(text=say(messages.variations_footer(leader, variations[-1].job.id)))
    return embed


def _variation_line(variation: Variation) -> Text:
    job = variation.job
    if job.state in (JobState.DELIVERING, JobState.DELIVERED):
        if variation.clip is not None:
            return messages.variation_file(f"animate-{job.id}.mp4")
        assert variation.link_expires_at is not None
        return messages.variation_link(job.output_url or "", variation.link_expires_at)
    if job.state == JobState.CANCELLED:
        return messages.variation_cancelled(job.cost_cents)
    return messages.variation_failed(job.error or "")


def _progress_view(job: Job, *, cancellable: bool) -> discord.ui.View | None:
    """Cancel while the job runs; Edit prompt on a job the API failed for its prompt (rather
    than a reroll with the same text)."""
    if cancellable:
        return cancel_view(job.id, job.origin.locale)
    if job.state is JobState.FAILED and job.refused_input is RefusedInput.PROMPT:
        return edit_prompt_view(job.id, job.origin.locale)
    return None


def _result_view(job: Job, via: DeliveryRoute) -> discord.ui.View | None:
    """The result's buttons, except in a DM: a press there has no server, so none could work."""
    if via is DeliveryRoute.DM:
        return None
    return result_view(job.id, job.origin.locale, draft=job.final_settings is not None)


def _mod_log_view(job: Job) -> discord.ui.View | None:
    """A Cancel button on the moderation-log entry while the job runs."""
    return cancel_view(job.id, job.origin.guild_locale) if job.state in CANCELLABLE else None


def _renderer(locale: str) -> Callable[[Text | str], str]:
    def say(text: Text | str) -> str:
        return text if isinstance(text, str) else text.render(locale)

    return say
