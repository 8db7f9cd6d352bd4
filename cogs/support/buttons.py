"""The persistent buttons and the Edit prompt form: their custom ids carry everything they
need, so they keep working after a restart. Registered by the `cogs.results` extension; the
Discord notifier attaches them to the messages it sends."""

from __future__ import annotations

import io
import logging
import re
from pathlib import Path
from typing import Any, Self, cast

import discord
from discord.utils import MISSING

from bot.bot import AnimateBot, reply_privately
from bot.errors import UserError
from bot.guilds.policy import Actor
from bot.i18n.text import Text
from bot.i18n.translator import say
from bot.jobs import messages as job_messages
from bot.jobs import request_messages
from bot.jobs.model import JobKind
from bot.media.files import SOURCE_FIRST, SOURCE_LAST
from bot.remix import messages
from bot.remix.recipes import PostFiles
from bot.settings import Settings
from cogs.support.intake import access, image_input, missing_permissions, origin

log = logging.getLogger(__name__)

EDIT_FORM_PREFIX = "animate:edit-form:"
EDIT_FIELD = "prompt"
#: A GIF goes in a message of its own, under Discord's cap on one request's files.
GIF_MAX_BYTES = 24 * 1024 * 1024


class CancelButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"animate:cancel:(?P<job_id>[0-9]+)"
):
    """Cancel one job; for its requester and members with Manage Messages (checked here,
    not only by who can see the button)."""

    def __init__(self, job_id: int, locale: str | None = None) -> None:
        super().__init__(
            discord.ui.Button(
                label=job_messages.CANCEL_LABEL.render(locale),
                style=discord.ButtonStyle.danger,
                custom_id=f"animate:cancel:{job_id}",
            )
        )
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> Self:
        """Rebuild the button from a press."""
        return cls(int(match["job_id"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """Cancel the job, or say politely why not."""
        bot = cast(AnimateBot, interaction.client)
        try:
            if interaction.guild_id is None:
                raise UserError(job_messages.NO_SUCH_JOB)
            job = await bot.jobs.cancel(self.job_id, _actor(interaction))
            text = job_messages.cancel_done(job.id)
        except UserError as exc:
            text = exc.user_message
        except Exception:
            log.exception("cancel of job %d failed", self.job_id)
            text = job_messages.CANCEL_FAILED
        await interaction.response.send_message(say(interaction, text), ephemeral=True)


def cancel_view(job_id: int, locale: str) -> discord.ui.View:
    """A message's components: one Cancel button for the job, labelled in `locale`."""
    view = discord.ui.View(timeout=None)
    view.add_item(CancelButton(job_id, locale))
    return view


#: The buttons on every result post: action in the custom id -> (label, style, kind of job).
_RESULT_BUTTONS: dict[str, tuple[Text, discord.ButtonStyle, JobKind | None]] = {
    "regen": (messages.REGENERATE_LABEL, discord.ButtonStyle.primary, JobKind.REGENERATE),
    "edit": (messages.EDIT_LABEL, discord.ButtonStyle.secondary, JobKind.EDIT),
    "continue": (messages.CONTINUE_LABEL, discord.ButtonStyle.secondary, JobKind.CONTINUE),
    "loop": (messages.LOOP_LABEL, discord.ButtonStyle.secondary, JobKind.LOOP),
    "gif": (messages.GIF_LABEL, discord.ButtonStyle.secondary, None),
    "delete": (job_messages.DELETE_LABEL, discord.ButtonStyle.danger, None),
}


class ResultButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"animate:(?P<action>regen|edit|continue|loop|gif|delete):(?P<job_id>[0-9]+)",
):
    """Regenerate, Edit prompt, Continue, Loop, GIF or Delete on a result post. New clips and
    GIFs are for the requester only; Delete also for members with Manage Messages. Each is
    checked here, against the server's rules and quotas as they are at the press."""

    def __init__(
        self,
        action: str,
        job_id: int,
        locale: str | None = None,
        *,
        number: int | None = None,
        row: int | None = None,
    ) -> None:
        label, style, _ = _RESULT_BUTTONS[action]
        text = label.render(locale)
        if number is not None:  # one of a group's clips: the label says which
            text = messages.numbered(number, text).render(locale)
        super().__init__(
            discord.ui.Button(
                label=text, style=style, custom_id=f"animate:{action}:{job_id}", row=row
            )
        )
        self.action = action
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> Self:
        """Rebuild the button from a press."""
        return cls(match["action"], int(match["job_id"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """Do what the button says, or say politely why not."""
        kind = _RESULT_BUTTONS[self.action][2]
        try:
            if self.action == "gif":
                await self._post_gif(interaction)
            elif kind is None:
                await self._delete(interaction)
            elif kind is JobKind.EDIT:
                await self._open_editor(interaction)
            else:
                files = post_files(interaction.message, self.job_id)
                await start_remix(interaction, self.job_id, kind, files)
        except UserError as exc:
            await answer(interaction, exc.user_message)
        except Exception:
            log.exception("%s on job %d failed", self.action, self.job_id)
            await answer(interaction, messages.BUTTON_FAILED)

    async def _delete(self, interaction: discord.Interaction[Any]) -> None:
        if interaction.guild_id is None:
            raise UserError(job_messages.NO_SUCH_JOB)
        await interaction.response.defer(ephemeral=True, thinking=True)
        await cast(AnimateBot, interaction.client).jobs.delete_post(
            self.job_id, _actor(interaction)
        )
        await interaction.edit_original_response(
            content=say(interaction, job_messages.POST_DELETED)
        )

    async def _post_gif(self, interaction: discord.Interaction[Any]) -> None:
        """Make a GIF of the clip (locally: no API call, no charge) and post it as a reply to
        the result, once (the job's GIF nonce), pinging no one; tell the presser where."""
        if interaction.guild_id is None or interaction.channel_id is None:
            raise UserError(request_messages.GUILD_ONLY)
        if missing := missing_permissions(interaction):
            raise UserError(request_messages.missing_permissions(missing))
        await interaction.response.defer(ephemeral=True, thinking=True)
        bot = cast(AnimateBot, interaction.client)
        limit = min(interaction.filesize_limit, GIF_MAX_BYTES)
        clip_url = post_files(interaction.message, self.job_id).clip_url
        gif = await bot.remix.gif(self.job_id, access(interaction), clip_url, max_bytes=limit)
        try:
            posted = await _send_gif(interaction, gif.file.path, gif.nonce, self.job_id)
        except discord.HTTPException as exc:
            if exc.status == 413:  # the limit Discord applies is lower than it said
                raise UserError(messages.gif_too_big(limit)) from exc
            raise
        finally:
            gif.discard()
        text = say(interaction, messages.gif_posted(posted.jump_url))
        await interaction.edit_original_response(content=text)

    async def _open_editor(self, interaction: discord.Interaction[Any]) -> None:
        if interaction.guild_id is None or interaction.channel_id is None:
            raise UserError(request_messages.GUILD_ONLY)
        bot = cast(AnimateBot, interaction.client)
        job = await bot.remix.source_job(self.job_id, access(interaction))
        form = edit_form(self.job_id, job.prompt, bot.settings, interaction.locale.value)
        await interaction.response.send_modal(form)


async def _send_gif(
    interaction: discord.Interaction[Any], path: Path, nonce: str, job_id: int
) -> discord.Message:
    """Post the GIF in the press's channel as a reply to the result post, pinging no one."""
    assert interaction.channel_id is not None
    channel = cast(AnimateBot, interaction.client).get_partial_messageable(
        interaction.channel_id, guild_id=interaction.guild_id
    )
    message = interaction.message
    return await channel.send(
        file=discord.File(path, filename=f"animate-{job_id}.gif"),
        reference=message.to_reference(fail_if_not_exists=False) if message else MISSING,
        allowed_mentions=discord.AllowedMentions.none(),
        mention_author=False,
        nonce=nonce,
    )


def edit_form(job_id: int, prompt: str, settings: Settings, locale: str) -> discord.ui.Modal:
    """Edit prompt's form, in `locale`'s language, the prompt pre-filled. It is stopped before
    it is sent, so discord.py keeps no copy of it and the submit reaches `EditForms`."""
    form = discord.ui.Modal(
        title=messages.EDIT_MODAL_TITLE.render(locale), custom_id=f"{EDIT_FORM_PREFIX}{job_id}"
    )
    limit = settings.prompt_max_chars
    form.add_item(
        discord.ui.TextInput(
            label=messages.EDIT_MODAL_FIELD.render(locale),
            custom_id=EDIT_FIELD,
            style=discord.TextStyle.paragraph,
            default=prompt[:limit],  # the limit may have been lowered since
            max_length=limit,
        )
    )
    form.stop()
    return form


async def start_remix(
    interaction: discord.Interaction[Any],
    job_id: int,
    kind: JobKind,
    files: PostFiles,
    *,
    prompt: str | None = None,
) -> None:
    """Acknowledge at once, then start a job made from `job_id` through the job service;
    for Continue, its last frame is uploaded first so the API gets a link to it."""
    if interaction.guild_id is None or interaction.channel_id is None:
        raise UserError(request_messages.GUILD_ONLY)
    if missing := missing_permissions(interaction):
        raise UserError(request_messages.missing_permissions(missing))
    await interaction.response.defer(ephemeral=True, thinking=True)
    remix = cast(AnimateBot, interaction.client).remix
    who = access(interaction)
    frame = None
    if kind is JobKind.CONTINUE:
        still = await remix.continue_frame(
            job_id, who, files.clip_url, max_bytes=interaction.filesize_limit
        )
        upload = discord.File(io.BytesIO(still.data), filename=still.filename)
        shown = await interaction.edit_original_response(
            content=say(interaction, messages.CONTINUE_FRAME), attachments=[upload]
        )
        frame = image_input(shown.attachments[0])
    await remix.start(job_id, kind, origin(interaction), who, files, prompt=prompt, frame=frame)


def post_files(message: discord.Message | None, job_id: int | None = None) -> PostFiles:
    """The source images and the clip a result post carries, under the links Discord just
    gave (fresh, unlike the ones stored with the job); of a group's clips, job `job_id`'s."""
    first = last = None
    clip_url = None
    for attachment in message.attachments if message else []:
        if attachment.filename.startswith(SOURCE_FIRST):
            first = image_input(attachment)
        elif attachment.filename.startswith(SOURCE_LAST):
            last = image_input(attachment)
        elif attachment.filename == f"animate-{job_id}.mp4" or (
            clip_url is None and attachment.filename.endswith(".mp4") and job_id is None
        ):
            clip_url = attachment.url
    return PostFiles(first=first, last=last, clip_url=clip_url)


async def answer(interaction: discord.Interaction[Any], message: Text) -> None:
    """A private answer, whether or not the interaction was acknowledged yet."""
    await reply_privately(interaction, say(interaction, message))


def result_view(job_id: int, locale: str, *, draft: bool = False) -> discord.ui.View:
    """A result post's components, labelled in `locale`: Regenerate, Edit prompt, Continue,
    Loop, GIF, Delete; a draft's first offers Render final."""
    view = discord.ui.View(timeout=None)
    if draft:
        view.add_item(FinalButton(job_id, locale))
    for action in _RESULT_BUTTONS:
        view.add_item(ResultButton(action, job_id, locale))
    return view


#: The buttons a group's post has per clip (one row each); Delete, once, removes the post.
_PER_CLIP = ("regen", "edit", "continue", "loop", "gif")


def group_view(made: list[tuple[int, int]], leader_id: int, locale: str) -> discord.ui.View:
    """A group post's components: a row of numbered buttons per clip made (`made`: each
    clip's number and job id), then Delete for the whole post."""
    view = discord.ui.View(timeout=None)
    for row, (number, job_id) in enumerate(made):
        for action in _PER_CLIP:
            view.add_item(ResultButton(action, job_id, locale, number=number, row=row))
    view.add_item(ResultButton("delete", leader_id, locale, row=len(made)))
    return view


class FinalButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"animate:final:(?P<job_id>[0-9]+)"
):
    """Render final on a draft's post: the same images, prompt and seed at the final settings
    (the requester's only; checked against the rules and quotas at the press)."""

    def __init__(self, job_id: int, locale: str | None = None) -> None:
        super().__init__(
            discord.ui.Button(
                label=messages.FINAL_LABEL.render(locale),
                style=discord.ButtonStyle.success,
                custom_id=f"animate:final:{job_id}",
            )
        )
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> Self:
        """Rebuild the button from a press."""
        return cls(int(match["job_id"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """Start the final, or say politely why not."""
        try:
            files = post_files(interaction.message, self.job_id)
            await start_remix(interaction, self.job_id, JobKind.FINAL, files)
        except UserError as exc:
            await answer(interaction, exc.user_message)
        except Exception:
            log.exception("render final of job %d failed", self.job_id)
            await answer(interaction, messages.BUTTON_FAILED)


def edit_prompt_view(job_id: int, locale: str) -> discord.ui.View:
    """The Edit prompt button alone: on a job the video service failed for its prompt."""
    view = discord.ui.View(timeout=None)
    view.add_item(ResultButton("edit", job_id, locale))
    return view


def _actor(interaction: discord.Interaction[Any]) -> Actor:
    """Who pressed, on which server, with the rights Discord reports for them there."""
    assert interaction.guild_id is not None
    return Actor(
        guild_id=interaction.guild_id,
        user_id=interaction.user.id,
        can_manage_messages=interaction.permissions.manage_messages,
    )
