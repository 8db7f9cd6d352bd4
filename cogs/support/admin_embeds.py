"""What /animate-admin shows in embeds: the configuration, the video models and the usage
report, in the reader's language."""

from __future__ import annotations

import discord

from bot.defaults import messages as saved
from bot.guilds import messages
from bot.guilds.admin import GuildOverview, ModelsOverview, Period
from bot.guilds.model import LIMIT_NAMES, GuildUsageReport
from bot.i18n.format import timestamp
from bot.i18n.text import Text
from bot.video.model import VideoModel
from cogs.support.embeds import FIELD_MAX, truncate

_LISTED_MAX = 10


def overview_embed(o: GuildOverview, locale: str) -> discord.Embed:
    """The whole configuration of a server, in `locale`'s language."""
    c = o.config

    def say(text: Text | str) -> str:
        return text if isinstance(text, str) else text.render(locale)

    def field(name: str, value: str, *, inline: bool = True) -> None:
        embed.add_field(name=say(messages.CONFIG_FIELDS[name]), value=value, inline=inline)

    embed = discord.Embed(title=say(messages.CONFIG_TITLE), colour=discord.Colour.blurple())
    model = f"**{o.model.id}** — {say(messages.model_summary(o.model))}"
    field("model", truncate(model, FIELD_MAX), inline=False)
    channels = _listing([f"<#{i}>" for i in sorted(c.channel_ids)], locale)
    channels = channels or say(messages.EVERY_CHANNEL)
    if c.nsfw_only:
        channels += f"\n{say(messages.AGE_RESTRICTED_ONLY)}"
    field("channels", channels)
    roles = _listing([f"<@&{i}>" for i in sorted(c.role_ids)], locale)
    field("roles", roles or say(messages.EVERYONE))
    log_channel = f"<#{c.mod_log_channel_id}>" if c.mod_log_channel_id else say(messages.OFF)
    field("mod_log", log_channel)
    limits = "\n".join(
        f"{say(messages.LIMIT_LABELS[n])}: **{say(messages.limit_value(n, o.limits.get(n)))}**"
        + ("" if n in c.limits else f" {say(messages.DEFAULT_MARK)}")
        for n in LIMIT_NAMES
    )
    field("limits", limits, inline=False)
    embed.add_field(
        name=say(saved.FIELD_DEFAULTS), value=say(saved.server_defaults(c.defaults, c.locks))
    )
    blocks = _listing([say(messages.blocked_line(b.user_id, b.reason)) for b in o.blocks], locale)
    field("blocked", blocks or say(messages.NO_BLOCKS), inline=False)
    changes = _listing(
        [f"{timestamp(a.at)} <@{a.actor_id}> {a.action}: {a.detail}" for a in o.recent_changes],
        locale,
    )
    field("changes", changes or say(messages.AUDIT_EMPTY), inline=False)
    return embed


def usage_report_embed(report: GuildUsageReport, period: Period, locale: str) -> discord.Embed:
    """A server's totals and top members, in `locale`'s language."""
    title = f"{messages.SERVER_USAGE_TITLE.render(locale)} · "
    embed = discord.Embed(
        title=title + messages.REPORT_PERIODS[period].render(locale),
        colour=discord.Colour.blurple(),
    )
    totals = messages.server_totals(report.totals).render(locale)
    embed.add_field(name=messages.TOTALS.render(locale), value=totals, inline=False)
    top = _listing(
        [messages.top_user(u.user_id, u.totals).render(locale) for u in report.top_users], locale
    )
    embed.add_field(
        name=messages.TOP_MEMBERS.render(locale),
        value=top or messages.NO_JOBS_IN_PERIOD.render(locale),
        inline=False,
    )
    if report.by_model:
        by_model = [
            messages.model_totals(m.model, m.totals).render(locale) for m in report.by_model
        ]
        embed.add_field(
            name=messages.BY_MODEL.render(locale), value=_listing(by_model, locale), inline=False
        )
    return embed


def models_embed(o: ModelsOverview, unavailable: set[str], locale: str) -> discord.Embed:
    """The catalogue: each model's price and options, and what it is to this server."""

    def say(text: Text) -> str:
        return text.render(locale)

    embed = discord.Embed(title=say(messages.MODELS_TITLE), colour=discord.Colour.blurple())
    for model in o.catalogue:
        marks = [say(mark) for mark in _marks(model, o, unavailable)]
        name = f"{model.id} · {model.name}"
        value = say(messages.model_summary(model))
        if marks:
            value += "\n" + " · ".join(marks)
        embed.add_field(name=truncate(name, 256), value=truncate(value, FIELD_MAX), inline=False)
    return embed


def _marks(model: VideoModel, o: ModelsOverview, unavailable: set[str]) -> list[Text]:
    marks = []
    if model is o.current:
        marks.append(messages.MODEL_CURRENT)
    if model is o.bot_default:
        marks.append(messages.MODEL_BOT_DEFAULT)
    if model.relaxed_content:
        marks.append(messages.MODEL_AGE_RESTRICTED)
    if model not in o.offered:
        marks.append(messages.MODEL_NOT_OFFERED)
    if model.id in unavailable:
        marks.append(messages.MODEL_UNAVAILABLE)
    return marks


def model_choice(model: VideoModel, locale: str) -> str:
    """A model as `/animate-admin model`'s autocomplete offers it: id, price and options."""
    return truncate(f"{model.id} · {messages.model_summary(model).render(locale)}", 100)


def _listing(lines: list[str], locale: str) -> str:
    """Up to ten lines, with a count of the rest, within an embed field's size."""
    shown = lines[:_LISTED_MAX]
    if len(lines) > _LISTED_MAX:
        shown.append(messages.more_lines(len(lines) - _LISTED_MAX).render(locale))
    return truncate("\n".join(shown), FIELD_MAX)
