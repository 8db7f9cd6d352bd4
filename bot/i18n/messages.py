"""Every message the bot shows users, as `Text` to render in the reader's language.

The wording lives in the catalogues (`bot/i18n/locales/<language>.toml`, English first); this module
names each message and gathers its values, and the cogs render it and add the Discord frame.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from bot.guilds.model import LIMIT_NAMES, LimitName
from bot.i18n.text import Join, Text
from bot.jobs.expectations import Eta, EtaBasis, Forecast, bar_fraction
from bot.jobs.model import DERIVED_KINDS, DeliveryRoute, GenerationSettings, Job, JobKind, JobState
from bot.members.model import QuotaStatus, UsageTotals
from bot.video.catalogue import DOCUMENTED_ESTIMATE_S, LISTED_PRICE_CENTS

#: Cells in the progress bar. Each cell is one message edit while a job generates, so it is
#: kept short: with a 90 s ETA the bar moves every 18 s, and the timestamps beside it, which
#: Discord keeps current, show the seconds. (Against a learned ETA most jobs see every cell,
#: where against the API's high end they saw about two thirds: five cells, not six, keep the
#: edits per job where they were.)
BAR_WIDTH = 5


def lines(parts: Iterable[Text | str]) -> Text:
    """Several messages (or plain lines) shown one per line."""
    return Join(parts)


# Input validation -----------------------------------------------------------------------------

PROMPT_EMPTY = Text("input.prompt_empty")
GUILD_ONLY = Text("input.guild_only")

# The "Animate this image" context menu ----------------------------------------------------------

FORM_TITLE = Text("context.form_title")
FORM_PROMPT_LABEL = Text("context.prompt_label")
FORM_PROMPT_PLACEHOLDER = Text("context.prompt_placeholder")
FORM_DURATION_LABEL = Text("context.duration_label")


def form_duration_placeholder(default: int, low: int, high: int) -> Text:
    return Text("context.duration_placeholder", default=default, low=low, high=high)


NO_IMAGE_IN_MESSAGE = Text("context.no_image")
FORM_EXPIRED = Text("context.form_expired")


def option_name(name: str) -> Text:
    """/animate's option `name` as the reader's client shows it (`last_image`: `dernière_image`)."""
    return Text(f"command.animate.option.{name}")


def prompt_too_long(length: int, limit: int) -> Text:
    return Text("input.prompt_too_long", length=length, limit=limit)


def not_an_image(label: str, detail: Text) -> Text:
    return Text("input.not_an_image", label=option_name(label), detail=detail)


def declared_type(declared: str) -> Text:
    return Text("input.declared_type", type=declared)


NOT_RECOGNISED = Text("input.not_recognised")
NO_DIMENSIONS = Text("input.no_dimensions")
EMPTY_FILE = Text("input.empty_file")
NO_IMAGE_DATA = Text("input.no_image_data")


def cut_off(size: int) -> Text:
    return Text("input.cut_off", count=size)


def image_too_big(label: str, size: int, limit: int) -> Text:
    return Text("input.image_too_big", label=option_name(label), size=_mib(size), limit=_mib(limit))


def image_side_out_of_range(label: str, width: int, height: int, low: int, high: int) -> Text:
    return Text(
        "input.image_side_out_of_range",
        label=option_name(label),
        width=width,
        height=height,
        low=low,
        high=high,
    )


def image_aspect_out_of_range(label: str, width: int, height: int, low: float, high: float) -> Text:
    return Text(
        "input.image_aspect_out_of_range",
        label=option_name(label),
        width=width,
        height=height,
        ratio=f"{width / height:.2f}",
        low=f"{low:g}",
        high=f"{high:g}",
    )


def value_out_of_range(name: str, value: object, allowed: str | Text) -> Text:
    return Text("input.value_out_of_range", name=option_name(name), value=value, allowed=allowed)


def seconds_range(low: int, high: int) -> Text:
    return Text("input.seconds_range", low=low, high=high)


#: Discord's names for the permissions the bot checks, keyed by discord.py's attribute.
PERMISSION_NAMES = {
    flag: Text(f"permission.{flag}")
    for flag in (
        "view_channel",
        "send_messages",
        "send_messages_in_threads",
        "attach_files",
        "embed_links",
    )
}


def missing_permissions(flags: list[str]) -> Text:
    return Text("input.missing_permissions", names=_bold_list(flags))


def too_many_open_jobs(limit: int) -> Text:
    return Text("input.too_many_open_jobs", count=limit)


def duration_not_a_number(allowed: Text) -> Text:
    return Text("input.duration_not_a_number", allowed=allowed)


def image_unreadable(label: str) -> Text:
    return Text("input.image_unreadable", label=option_name(label))


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


SERVICE_UNAVAILABLE = Text("service.unavailable")
SHUTTING_DOWN = Text("service.shutting_down")
NOT_ALLOWED = Text("service.not_allowed")
SOMETHING_WENT_WRONG = Text("service.something_went_wrong")

# Progress ---------------------------------------------------------------------------------------


def queued(position: int, forecast: Forecast, settings: GenerationSettings) -> Text:
    ahead = Text("progress.next") if position <= 1 else Text("progress.ahead", count=position - 1)
    place = Text("progress.queued", position=position, ahead=ahead)
    return lines([place, expectation(forecast, settings)])


SUBMITTING = Text("progress.submitting")
SERVICE_BUSY = Text("progress.service_busy")


def submitting(forecast: Forecast, settings: GenerationSettings) -> Text:
    return lines([SUBMITTING, expectation(forecast, settings)])


def expectation(forecast: Forecast, settings: GenerationSettings) -> Text:
    """The cost and the earliest ready time, shown while a job waits to be sent."""
    return Text(
        "progress.expectation",
        cost=forecast_cost(forecast),
        ready=timestamp(forecast.ready_at),
        basis=eta_basis(forecast.eta, settings),
    )


def forecast_cost(forecast: Forecast) -> Text | str:
    """The cost a progress message shows: known, or the documented "from" price."""
    if forecast.cost_cents is None:
        return Text("progress.cost_from", cost=dollars(LISTED_PRICE_CENTS))
    return dollars(forecast.cost_cents)


def eta_basis(eta: Eta, s: GenerationSettings) -> Text:
    """Where an expected time comes from, in a few words."""
    if eta.basis is EtaBasis.HISTORY:
        return Text(
            "progress.eta_history",
            took=duration_text(eta.seconds),
            count=eta.samples,
            duration=s.duration_s,
            resolution=s.resolution,
        )
    if eta.basis is EtaBasis.API:
        return Text("progress.eta_api", took=duration_text(eta.seconds))
    low, high = DOCUMENTED_ESTIMATE_S
    return Text("progress.eta_docs", low=f"{low:g}", high=f"{high:g}")


def generating(
    started_at: datetime,
    elapsed_s: float,
    forecast: Forecast,
    settings: GenerationSettings,
    *,
    late: bool = False,
) -> Text:
    # A Discord timestamp counts in the client by itself, so the text only changes (and the
    # message is only edited) when the bar moves, or once if the job runs late.
    values = {
        "bar": progress_bar(bar_fraction(elapsed_s, forecast.eta)),
        "ready": timestamp(forecast.ready_at),
        "basis": eta_basis(forecast.eta, settings),
        "cost": forecast_cost(forecast),
    }
    expected = (
        Text("progress.expected_late", **values) if late else Text("progress.expected", **values)
    )
    return lines(
        [
            Text("progress.generating", started=timestamp(started_at)),
            expected,
            settings_line(settings),
        ]
    )


def progress_bar(fraction: float, width: int = BAR_WIDTH) -> str:
    """A text bar; it stops short of full until the job really finishes."""
    filled = max(0, min(width - 1, round(min(max(fraction, 0.0), 0.95) * width)))
    return "█" * filled + "░" * (width - filled)


def done(link: str, took: Text | None) -> Text:
    if took is None:
        return Text("progress.done", link=link)
    return Text("progress.done_in", link=link, took=took)


def failed(reason: str) -> Text:
    return Text("progress.failed", reason=reason)


def failed_in_channel(user_id: int, job_id: int, reason: Text | str) -> Text:
    # Rendered with mentions disabled, so the user's name shows without a ping.
    return Text("progress.failed_in_channel", user=f"<@{user_id}>", job=job_id, reason=reason)


def failed_by_dm(job_id: int, reason: Text | str) -> Text:
    return Text("progress.failed_by_dm", job=job_id, reason=reason)


def done_by_dm(took: Text | None) -> Text:
    if took is None:
        return Text("progress.done_by_dm")
    return Text("progress.done_by_dm_in", took=took)


# Failure reasons (stored in the job's `error`, rendered in its language) --------------------------


def api_failed(api_error: str | None) -> Text:
    reason = (api_error or "").strip()
    if not reason:
        return Text("failure.api_failed_silently")
    return Text("failure.api_failed", reason=reason[:500])


def api_rejected(message: str) -> Text:
    return Text("failure.api_rejected", reason=message[:500])


SUBMIT_OUTCOME_UNKNOWN = Text("failure.submit_outcome_unknown")
TIMED_OUT = Text("failure.timed_out")
IMAGE_LINK_EXPIRED = Text("failure.image_link_expired")
DOWNLOAD_FAILED = Text("failure.download_failed")
POST_FAILED = Text("failure.post_failed")


def undeliverable(output_url: str, expires_at: datetime) -> Text:
    return Text("failure.undeliverable", url=output_url, expires=timestamp(expires_at))


# Results -----------------------------------------------------------------------------------------

RESULT_TITLE = Text("result.title")
FIELD_SETTINGS = Text("result.field_settings")
FIELD_REQUESTED_BY = Text("result.field_requested_by")
FIELD_GENERATION_TIME = Text("result.field_generation_time")
FIELD_DOWNLOAD = Text("result.field_download")


def result_footer(job_id: int) -> Text:
    return Text("result.footer", job=job_id)


def settings_line(s: GenerationSettings) -> Text:
    return Text(
        "result.settings_line",
        duration=s.duration_s,
        resolution=s.resolution,
        aspect=s.aspect_ratio,
        seed=s.seed,
        camera=Text("result.camera_fixed") if s.camera_fixed else Text("result.camera_moving"),
        audio=Text("result.with_audio") if s.generate_audio else Text("result.no_audio"),
    )


def link_instead(expires_at: datetime) -> Text:
    return Text("result.link_instead", expires=timestamp(expires_at))


REENCODED_TITLE = Text("result.reencoded_title")


def reencoded(from_bytes: int, to_bytes: int) -> Text:
    return Text("result.reencoded", original=_mib(from_bytes), size=_mib(to_bytes))


def generation_time(job: Job) -> Text | None:
    if job.submitted_at and job.completed_at:
        return duration_text((job.completed_at - job.submitted_at).total_seconds())
    return None


# Cancel ------------------------------------------------------------------------------------------

CANCEL_LABEL = Text("cancel.label")


def cancelled(actor_id: int, requester_id: int) -> Text:
    if actor_id == requester_id:
        return Text("cancel.by_you")
    return Text("cancel.by_moderator", moderator=f"<@{actor_id}>")


def cancel_done(job_id: int) -> Text:
    return Text("cancel.done", job=job_id)


CANCEL_FAILED = Text("cancel.failed")
CANCEL_NOT_ALLOWED = Text("cancel.not_allowed")
NO_SUCH_JOB = Text("cancel.no_such_job")

# Buttons on a result ----------------------------------------------------------------------------

REGENERATE_LABEL = Text("buttons.regenerate")
EDIT_LABEL = Text("buttons.edit")
CONTINUE_LABEL = Text("buttons.continue")
LOOP_LABEL = Text("buttons.loop")
DELETE_LABEL = Text("buttons.delete")
EDIT_MODAL_TITLE = Text("buttons.edit_title")
EDIT_MODAL_FIELD = Text("buttons.edit_field")
BUTTON_NOT_YOURS = Text("buttons.not_yours")
DELETE_NOT_ALLOWED = Text("buttons.delete_not_allowed")
POST_ALREADY_DELETED = Text("buttons.already_deleted")
DELETE_FAILED = Text("buttons.delete_failed")
POST_DELETED = Text("buttons.deleted")
SOURCE_GONE = Text("buttons.source_gone")
CLIP_GONE = Text("buttons.clip_gone")
CLIP_UNREADABLE = Text("buttons.clip_unreadable")
CONTINUE_FRAME = Text("buttons.continue_frame")
BUTTON_FAILED = Text("buttons.failed")
FIELD_FROM = Text("result.field_from")


def made_from(kind: JobKind, parent_id: int, link: str | None) -> Text:
    """The result's note of the clip it was made from, e.g. "Continued from job #12"."""
    verb = kind.value if kind in DERIVED_KINDS else "other"
    if link is None:
        return Text(f"buttons.from.{verb}", job=parent_id)
    return Text(f"buttons.from_link.{verb}", job=parent_id, link=link)


def cannot_cancel(state: JobState) -> Text:
    if state == JobState.CANCELLED:
        return Text("cancel.already_cancelled")
    if state == JobState.DELIVERING:
        return Text("cancel.too_late")
    return Text("cancel.already_finished")


# Moderation log ----------------------------------------------------------------------------------

MOD_LOG_STATES = {
    JobState.DELIVERED: Text("mod_log.delivered"),
    JobState.FAILED: Text("mod_log.failed"),
    JobState.CANCELLED: Text("mod_log.cancelled"),
}
MOD_LOG_FIELDS = {
    name: Text(f"mod_log.field_{name}")
    for name in ("requester", "channel", "settings", "cost", "result")
}
MOD_LOG_ERASED = Text("mod_log.erased")


def mod_log_footer(job_id: int) -> Text:
    return Text("mod_log.footer", job=job_id)


def mod_log_title(job: Job) -> Text:
    label = MOD_LOG_STATES.get(job.state, STATE_LABELS[job.state])
    return Text("mod_log.title", job=job.id, state=label)


def mod_log_cost(job: Job) -> Text | str:
    if job.reserved_cents:  # not yet reported by the API
        return Text("mod_log.reserved", amount=dollars(job.reserved_cents))
    return dollars(job.cost_cents)


def mod_log_result(job: Job) -> Text | str:
    if job.post_deleted_at is not None:
        return post_deleted(job)
    if job.state == JobState.DELIVERED and job.message_id is not None:
        link = jump_url(job.origin.guild_id, job.origin.channel_id, job.message_id)
        return Text("mod_log.posted", link=link)
    if job.state == JobState.CANCELLED:
        if job.cancelled_by:
            return Text("mod_log.cancelled_by", user=f"<@{job.cancelled_by}>")
        return Text("mod_log.cancelled_plain")
    if job.state == JobState.FAILED:
        return job.error or SOMETHING_WENT_WRONG
    return Text("mod_log.in_progress")


# Server administration ---------------------------------------------------------------------------

#: Each limit as a heading, and as it reads inside a sentence.
LIMIT_LABELS = {name: Text(f"admin.limit.{name}") for name in LIMIT_NAMES}
LIMIT_NOUNS = {name: Text(f"admin.limit_noun.{name}") for name in LIMIT_NAMES}


def limit_value(name: LimitName, value: int | None) -> Text | str:
    """An effective limit as admins read it."""
    if value is None:
        return Text("admin.unlimited")
    if name == "cooldown":  # 0 here means no wait, not "blocked"
        return wait_text(timedelta(seconds=value)) if value else Text("admin.no_cooldown")
    if value == 0:
        return Text("admin.zero_blocked")
    if name == "monthly_spend":
        return dollars(value)
    return str(value)


def bad_limit_value(name: LimitName, text: str) -> Text:
    examples = {"cooldown": "`90s`, `5m`, `1h`", "monthly_spend": "`25`, `$12.50`"}
    zero = Text("admin.zero_for_none") if name == "cooldown" else Text("admin.zero_to_block")
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
    return Text("admin.channel_unusable", channel=f"<#{channel_id}>", names=_bold_list(missing))


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
    for name in ("channels", "roles", "mod_log", "limits", "blocked", "changes")
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

# Usage -------------------------------------------------------------------------------------------

STATE_LABELS = {state: Text(f"state.{state.value}") for state in JobState}
USAGE_TITLE = Text("usage.title")
USAGE_FIELDS = {
    name: Text(f"usage.field_{name}") for name in ("today", "month", "all", "here", "in_progress")
}
RECENT_CLIPS = Text("usage.recent")
USAGE_ERASED = Text("usage.erased")
OPEN_LINK = Text("usage.open")


def quota_lines(q: QuotaStatus) -> Text:
    def left(n: int | None, resets_at: datetime) -> Text:
        if n is None:
            return Text("admin.unlimited")
        return Text("usage.left", count=n, resets=timestamp(resets_at))

    parts: list[Text | str] = [
        Text("usage.today", left=left(q.daily_left, q.daily_resets_at)),
        Text("usage.this_month", left=left(q.monthly_left, q.monthly_resets_at)),
    ]
    if q.ready_at is not None:
        parts.append(Text("usage.cooldown", ready=timestamp(q.ready_at)))
    return lines(parts)


def forgotten(count: int) -> Text:
    return Text("usage.forgotten", count=count)


NO_JOBS_YET = Text("usage.no_jobs_yet")


def usage_totals(t: UsageTotals) -> Text:
    cancelled = Text("usage.cancelled", count=t.cancelled) if t.cancelled else ""
    return Text(
        "usage.totals",
        count=t.generations,
        succeeded=t.succeeded,
        failed=t.failed,
        cancelled=cancelled,
        seconds=t.video_seconds,
        spent=dollars(t.cost_cents),
    )


# Formatting --------------------------------------------------------------------------------------


# History, show and notifications -----------------------------------------------------------------

HISTORY_TITLE = Text("history.title")
NO_HISTORY = Text("history.none")
HISTORY_NEWER = Text("history.newer")
HISTORY_OLDER = Text("history.older")
JOB_NOT_FOUND = Text("history.not_found")
SHOW_FIELDS = {
    name: Text(f"history.field_{name}")
    for name in ("settings", "cost", "times", "post", "clip", "why", "cancelled")
}
CLIP_ERASED = Text("history.clip_erased")
SENT_BY_DM = Text("history.sent_by_dm")


def history_footer(first: int, last: int, total: int) -> Text:
    return Text("history.footer", first=first, last=last, total=total)


def history_line(job: Job, prompt: str, reason: str | None) -> Text:
    """One job in `/animate-history`: `prompt` is a short, escaped preview ("" once erased),
    `reason` a failure's reason in short; a link to its post while it stands."""
    link = post_url(job)
    state, when = STATE_LABELS[job.state], timestamp(job.created_at)
    if link is None:
        head = Text("history.head", job=job.id, state=state, when=when)
    else:
        head = Text("history.head_posted", job=job.id, state=state, when=when, link=link)
    if job.post_deleted_at is not None:
        head = Join((head, post_deleted(job)), " · ")
    parts: list[Text | str] = [head, settings_line(job.settings)]
    parts.append(Text("history.prompt", prompt=prompt or USAGE_ERASED))
    if reason is not None:
        parts.append(Text("history.why", reason=reason))
    return lines(parts)


def job_choice(job_id: int, state_emoji: str, prompt: str) -> Text:
    """An autocomplete choice: `#123 · ✅ · a cat turns its head…`."""
    return Text("history.choice", job=job_id, state=state_emoji, prompt=prompt or USAGE_ERASED)


def show_title(job: Job) -> Text:
    return Text("history.show_title", job=job.id, state=STATE_LABELS[job.state])


def show_times(job: Job) -> Text:
    parts: list[Text | str] = [Text("history.requested", when=timestamp(job.created_at, "f"))]
    if took := generation_time(job):
        parts.append(Text("history.generated_in", took=took))
    if job.finished_at is not None:
        parts.append(Text("history.finished", when=timestamp(job.finished_at)))
    return lines(parts)


def clip_link(url: str, expires_at: datetime) -> Text:
    return Text("history.clip_link", url=url, expires=timestamp(expires_at))


def clip_expired(expires_at: datetime) -> Text:
    return Text("history.clip_expired", expires=timestamp(expires_at))


def post_deleted(job: Job) -> Text:
    """What stands in for a result post's link once the post was deleted."""
    assert job.post_deleted_at is not None
    return Text("history.post_deleted", when=timestamp(job.post_deleted_at))


def post_url(job: Job) -> str | None:
    """A link to the job's result post while it stands: none once deleted, none for a DM
    (the job does not keep the DM's channel)."""
    if job.message_id is None or job.post_deleted_at is not None:
        return None
    if job.delivered_via is DeliveryRoute.DM:
        return None
    return jump_url(job.origin.guild_id, job.origin.channel_id, job.message_id)


def result_mention(user_id: int) -> str:
    # Sent with an allowlist holding this user alone: it pings them and nobody else.
    return f"<@{user_id}>"


def notify_setting(enabled: bool) -> Text:
    return Text("notify.is_on") if enabled else Text("notify.is_off")


def notify_changed(enabled: bool) -> Text:
    return Text("notify.turned_on") if enabled else Text("notify.turned_off")


def jump_url(guild_id: int | None, channel_id: int, message_id: int) -> str:
    """Link that opens a message in the Discord client."""
    return f"https://discord.com/channels/{guild_id or '@me'}/{channel_id}/{message_id}"


def timestamp(moment: datetime, style: str = "R") -> str:
    """A Discord timestamp, which every client shows in its own language and time zone."""
    return f"<t:{int(moment.timestamp())}:{style}>"


def dollars(cents: int) -> str:
    return f"${cents / 100:,.2f}"


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB"


def _bold_list(flags: list[str]) -> Text:
    return Join((Text("bold", text=PERMISSION_NAMES[f]) for f in flags), ", ")


def wait_text(wait: timedelta) -> Text:
    """A coarse, friendly length of time: `3 h 12 min`, `45 s`, `2 days 4 h`."""
    seconds = max(1, int(wait.total_seconds() + 0.999))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return Text("time.days_hours", count=days, hours=hours)
    if hours:
        return Text("time.hours_minutes", hours=hours, minutes=minutes)
    if minutes:
        if minutes < 5:
            return Text("time.minutes_seconds", minutes=minutes, seconds=secs)
        return Text("time.minutes", minutes=minutes)
    return Text("time.seconds", seconds=secs)


def duration_text(seconds: float) -> Text:
    """How long something took: `1 min 5 s`, `42 s`."""
    seconds = max(0, round(seconds))
    minutes, secs = divmod(seconds, 60)
    if minutes:
        return Text("time.minutes_seconds", minutes=minutes, seconds=secs)
    return Text("time.seconds", seconds=secs)
