"""What server rules and server administration say: a member's refusals under the server's
rules, and `/animate-admin`'s settings, blocks, reports and audit, as `Text` rendered in the
reader's language.

The wording lives in the catalogues (`bot/i18n/locales/<language>.toml`, sections `[rules]` and
`[admin]`); this module names each message and gathers its values.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from bot.guilds.model import LIMIT_NAMES, LimitName
from bot.i18n.common import permission_list
from bot.i18n.format import dollars, wait_text
from bot.i18n.text import Join, Text
from bot.jobs.model import MAX_VARIATIONS
from bot.members.model import UsageTotals
from bot.video.model import VideoModel

# Server rules -------------------------------------------------------------------------------------


def blocked(reason: str) -> Text:
    return Text("rules.blocked", reason=reason or NO_REASON_GIVEN)


def channel_not_allowed(channel_ids: list[int]) -> Text:
    return Text("rules.channel_not_allowed", where=", ".join(f"<#{c}>" for c in channel_ids[:10]))


NSFW_ONLY = Text("rules.nsfw_only")


def role_required(role_ids: list[int]) -> Text:
    return Text("rules.role_required", roles=", ".join(f"<@&{r}>" for r in role_ids[:10]))


SWITCHED_OFF = Text("rules.switched_off")
NO_REASON_GIVEN = Text("admin.no_reason_given")


def daily_limit(limit: int, wait: timedelta) -> Text:
    return Text("rules.daily_limit", count=limit, wait=wait_text(wait))


def monthly_limit(limit: int, wait: timedelta) -> Text:
    return Text("rules.monthly_limit", count=limit, wait=wait_text(wait))


def in_flight_limit(limit: int) -> Text:
    return Text("rules.in_flight_limit", count=limit)


def cooldown(wait: timedelta) -> Text:
    return Text("rules.cooldown", wait=wait_text(wait))


def spend_cap(cap_cents: int, wait: timedelta) -> Text:
    return Text("rules.spend_cap", cap=dollars(cap_cents), wait=wait_text(wait))


# Server administration ---------------------------------------------------------------------------

#: Each limit as a heading, and as it reads inside a sentence.
LIMIT_LABELS = {name: Text(f"admin.limit.{name}") for name in LIMIT_NAMES}
LIMIT_NOUNS = {name: Text(f"admin.limit_noun.{name}") for name in LIMIT_NAMES}


def limit_value(name: LimitName, value: int | None) -> Text | str:
    """An effective limit as admins read it."""
    if value is None:  # for variations: the bot's most
        return str(MAX_VARIATIONS) if name == "variations" else Text("admin.unlimited")
    if name == "cooldown":  # 0 here means no wait, not "blocked"
        return wait_text(timedelta(seconds=value)) if value else Text("admin.no_cooldown")
    if value == 0:
        return Text("admin.zero_blocked")
    if name == "monthly_spend":
        return dollars(value)
    return str(value)


def bad_limit_value(name: LimitName, text: str) -> Text:
    examples = {
        "cooldown": "`90s`, `5m`, `1h`",
        "monthly_spend": "`25`, `$12.50`",
        "variations": "`2`",
    }
    zero = {"cooldown": Text("admin.zero_for_none"), "variations": Text("admin.one_at_least")}.get(
        name, Text("admin.zero_to_block")
    )
    return Text(
        "admin.bad_limit_value",
        text=text[:50],
        limit=LIMIT_NOUNS[name],
        example=examples.get(name, "`5`"),
        zero=zero,
    )


def limit_too_large(name: LimitName, text: str, maximum: int) -> Text:
    return Text(
        "admin.limit_too_large",
        text=text[:50],
        limit=LIMIT_NOUNS[name],
        maximum=limit_value(name, maximum),
    )


def channel_unusable(channel_id: int, missing: list[str]) -> Text:
    return Text(
        "admin.channel_unusable", channel=f"<#{channel_id}>", names=permission_list(missing)
    )


NOT_A_TEXT_CHANNEL = Text("admin.not_a_text_channel")
CANNOT_BLOCK_BOT = Text("admin.cannot_block_bot")


def blocked_member(user_id: int, reason: str) -> Text:
    return Text("admin.blocked_member", user=f"<@{user_id}>", reason=reason or NO_REASON_GIVEN)


def unblocked_member(user_id: int) -> Text:
    return Text("admin.unblocked_member", user=f"<@{user_id}>")


def not_blocked(user_id: int) -> Text:
    return Text("admin.not_blocked", user=f"<@{user_id}>")


EVERY_CHANNEL = Text("admin.every_channel")
AGE_RESTRICTED_ONLY = Text("admin.age_restricted_only")
EVERYONE = Text("admin.everyone")
OFF = Text("admin.off")
NO_BLOCKS = Text("admin.no_blocks")
DEFAULT_MARK = Text("admin.default_mark")
CONFIG_FIELDS = {
    name: Text(f"admin.field_{name}")
    for name in ("model", "channels", "roles", "mod_log", "limits", "blocked", "changes")
}


def more_lines(count: int) -> Text:
    return Text("admin.more_lines", count=count)


def blocked_line(user_id: int, reason: str) -> Text:
    return Text("admin.blocked_line", user=f"<@{user_id}>", reason=reason or NO_REASON_GIVEN)


CONFIG_SAVED = Text("admin.config_saved")
CONFIG_TITLE = Text("admin.config_title")
ADMIN_ONLY = Text("admin.admin_only")
SERVER_USAGE_TITLE = Text("admin.server_usage_title")
NO_JOBS_IN_PERIOD = Text("admin.no_jobs_in_period")
TOP_MEMBERS = Text("admin.top_members")
TOTALS = Text("admin.totals")


def server_totals(t: UsageTotals) -> Text:
    return Text(
        "admin.server_totals",
        count=t.generations,
        succeeded=t.succeeded,
        failed=t.failed,
        cancelled=t.cancelled,
        seconds=t.video_seconds,
        spent=dollars(t.cost_cents),
    )


BY_MODEL = Text("admin.by_model")


def model_totals(model: str, t: UsageTotals) -> Text:
    """One video model's line in the server report."""
    return Text(
        "admin.top_user",
        user=f"`{model}`",
        count=t.generations,
        seconds=t.video_seconds,
        spent=dollars(t.cost_cents),
    )


def top_user(user_id: int, t: UsageTotals) -> Text:
    """One member's line in the server report (rendered without pinging)."""
    return Text(
        "admin.top_user",
        user=f"<@{user_id}>",
        count=t.generations,
        seconds=t.video_seconds,
        spent=dollars(t.cost_cents),
    )


CSV_TOO_LARGE = Text("admin.csv_too_large")
REPORT_PERIODS = {period: Text(f"admin.period.{period}") for period in ("day", "month", "all")}
AUDIT_EMPTY = Text("admin.audit_empty")


# Video models -----------------------------------------------------------------------------------

MODELS_TITLE = Text("admin.models_title")
MODEL_CURRENT = Text("admin.model_current")
MODEL_BOT_DEFAULT = Text("admin.model_bot_default")
MODEL_AGE_RESTRICTED = Text("admin.model_age_restricted")
MODEL_NOT_OFFERED = Text("admin.model_not_offered_here")
MODEL_UNAVAILABLE = Text("admin.model_unavailable")
MODEL_DEFAULT_CHOICE = Text("admin.model_default_choice")


def model_saved(model: VideoModel, default: bool) -> Text:
    if default:
        return Text("admin.model_saved_default", model=model.id)
    return Text("admin.model_saved", model=model.id)


def model_refused(model_id: str, offered: list[str]) -> Text:
    """A model this server may not choose, and those it may."""
    return Text("admin.model_refused", model=model_id, offered=", ".join(offered))


def model_needs_nsfw_only(model_id: str) -> Text:
    return Text("admin.model_needs_nsfw_only", model=model_id)


def model_summary(model: VideoModel) -> Text:
    """One model's price and options, in a line: what an admin reads before choosing it."""
    o = model.options
    features: list[Text] = []
    if o.end_frame:
        features.append(Text("admin.model_end_frame"))
    if o.audio:
        features.append(Text("admin.model_audio_choice"))
    elif o.defaults.generate_audio:
        features.append(Text("admin.model_audio_always"))
    else:
        features.append(Text("admin.model_no_audio"))
    if o.camera_fixed:
        features.append(Text("admin.model_camera"))
    if o.seeds is not None:
        features.append(Text("admin.model_seed"))
    return Text(
        "admin.model_summary",
        price=dollars(model.listed_price_cents),
        durations=durations_text(o.durations_s),
        resolutions=", ".join(o.resolutions),
        aspects=", ".join(o.aspect_ratios),
        features=Join(features, sep=", "),
    )


def durations_text(durations_s: Sequence[int]) -> str:
    """A run of lengths as a range (from 4 to 12), else each one ("4, 6, 8")."""
    low, high = durations_s[0], durations_s[-1]
    if len(durations_s) > 2 and len(durations_s) == high - low + 1:
        return f"{low}–{high}"
    return ", ".join(str(d) for d in durations_s)
