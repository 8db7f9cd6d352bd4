"""Every sentence the bot says to users, in one place; the cogs add the Discord frame."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.models import (
    GenerationSettings,
    Job,
    JobKind,
    JobState,
    LimitName,
    QuotaStatus,
    UsageTotals,
)

#: Cells in the progress bar. Each cell is one message edit while a job generates, so it is
#: kept short: with a 120 s estimate the bar moves every 20 s, and the timestamp
#: beside it, which Discord keeps current, shows the seconds.
BAR_WIDTH = 6

# Input validation -----------------------------------------------------------------------------

PROMPT_EMPTY = (
    "Your prompt is empty. Describe what should happen in the video, "
    "e.g. *the cat turns its head and blinks*."
)
GUILD_ONLY = "`/animate` works in server channels only."


def prompt_too_long(length: int, limit: int) -> str:
    return f"Your prompt is {length} characters long; please shorten it to at most {limit}."


def not_an_image(label: str, detail: str) -> str:
    return f"The `{label}` attachment {detail}. Please attach a JPEG, PNG, GIF or WebP image."


def image_too_big(label: str, size: int, limit: int) -> str:
    return (
        f"The `{label}` image is {_mib(size)}; the limit is {_mib(limit)}. "
        "Please attach a smaller image."
    )


def image_side_out_of_range(label: str, width: int, height: int, low: int, high: int) -> str:
    return (
        f"The `{label}` image is {width}×{height} px; each side must be between {low} and "
        f"{high} px. Please resize it."
    )


def image_aspect_out_of_range(label: str, width: int, height: int, low: float, high: float) -> str:
    return (
        f"The `{label}` image is {width}×{height} px (aspect ratio {width / height:.2f}); the "
        f"model accepts ratios between {low:g} and {high:g}. Please crop it."
    )


def value_out_of_range(name: str, value: object, allowed: str) -> str:
    return f"`{name}` cannot be {value}; allowed: {allowed}."


def missing_permissions(names: list[str]) -> str:
    listed = ", ".join(f"**{n}**" for n in names)
    return (
        f"I can't post the finished clip in this channel: I am missing {listed} here. "
        "Ask a moderator to grant me those permissions, or use a channel where I have them."
    )


def too_many_open_jobs(limit: int) -> str:
    return (
        f"You already have {limit} clips waiting or in progress. "
        "Please wait for one of them to finish, then try again."
    )


def image_unreadable(label: str) -> str:
    return f"I couldn't read the `{label}` attachment. Please upload it again."


# Server rules -------------------------------------------------------------------------------------


def blocked(reason: str) -> str:
    return f"A moderator has blocked you from using `/animate` on this server. Reason: {reason}"


def channel_not_allowed(channel_ids: list[int]) -> str:
    where = ", ".join(f"<#{c}>" for c in channel_ids[:10])
    return f"`/animate` can't be used in this channel on this server. Try {where}."


NSFW_ONLY = "On this server `/animate` works only in age-restricted channels. Try one of those."


def role_required(role_ids: list[int]) -> str:
    roles = ", ".join(f"<@&{r}>" for r in role_ids[:10])
    return f"On this server `/animate` is for members with one of these roles: {roles}."


SWITCHED_OFF = "The admins of this server have switched `/animate` off for now."


def daily_limit(limit: int, wait: timedelta) -> str:
    return (
        f"You've reached this server's daily limit of {_count(limit, 'clip')}; "
        f"it resets in {wait_text(wait)} (midnight UTC)."
    )


def monthly_limit(limit: int, wait: timedelta) -> str:
    return (
        f"You've reached this server's monthly limit of {_count(limit, 'clip')}; "
        f"it resets in {wait_text(wait)}."
    )


def in_flight_limit(limit: int) -> str:
    plural = "clip" if limit == 1 else "clips"
    return (
        f"You already have {limit} {plural} waiting or in progress on this server, the most "
        "allowed at once. Try again when one of them is done."
    )


def cooldown(wait: timedelta) -> str:
    return f"Please wait {wait_text(wait)} before starting another clip (this server's cooldown)."


def spend_cap(cap_cents: int, wait: timedelta) -> str:
    return (
        f"This server has used its monthly video budget of {dollars(cap_cents)}; it resets in "
        f"{wait_text(wait)}. Nothing was charged. An admin can raise the budget."
    )


SERVICE_UNAVAILABLE = (
    "The video service is unavailable right now. Nothing was charged; please try again later."
)
SHUTTING_DOWN = "I'm restarting right now. Nothing was charged; please try again in a minute."
NOT_ALLOWED = "You don't have permission to do that here."
SOMETHING_WENT_WRONG = "Something went wrong on my side. Nothing was charged; please try again."

# Progress ---------------------------------------------------------------------------------------


def queued(position: int) -> str:
    ahead = "you're next" if position <= 1 else f"{position - 1} ahead of you"
    return f"⏳ **Queued** — position {position} ({ahead})."


SUBMITTING = "📨 **Sending** your image to the video service…"
SERVICE_BUSY = "⏳ The video service is busy or unreachable; your job is kept and will be retried."


def generating(
    started_at: datetime,
    elapsed_s: float,
    estimate_s: tuple[float, float] | None,
    settings: GenerationSettings,
) -> str:
    # A Discord timestamp counts up in the client by itself, so the text only changes (and the
    # message is only edited) when the bar moves.
    lines = [f"🎬 **Generating** — started <t:{int(started_at.timestamp())}:R>"]
    if estimate_s:
        low, high = estimate_s
        lines.append(f"`{progress_bar(elapsed_s / high)}` estimate {low:g}–{high:g} s")
    lines.append(settings_line(settings))
    return "\n".join(lines)


def progress_bar(fraction: float, width: int = BAR_WIDTH) -> str:
    """A text bar; it stops short of full until the job really finishes."""
    filled = max(0, min(width - 1, round(min(max(fraction, 0.0), 0.95) * width)))
    return "█" * filled + "░" * (width - filled)


def done(link: str, took: str | None) -> str:
    after = f" in {took}" if took else ""
    return f"✅ **Done**{after} — your clip is posted: {link}"


def failed(reason: str) -> str:
    return f"❌ **Your clip could not be made.** {reason}"


def failed_in_channel(user_id: int, job_id: int, reason: str) -> str:
    # Rendered with mentions disabled, so the user's name shows without a ping.
    return f"❌ <@{user_id}>, your clip (job #{job_id}) could not be made. {reason}"


def failed_by_dm(job_id: int, reason: str) -> str:
    return f"❌ About your clip (job #{job_id}): {reason}"


def done_by_dm(took: str | None) -> str:
    after = f" in {took}" if took else ""
    return f"✅ **Done**{after} — I couldn't post in the channel, so I sent you the clip by DM."


# Failure reasons (stored in the job's `error` and shown to the user) -------------------------


def api_failed(api_error: str | None) -> str:
    reason = (api_error or "").strip() or "The video service did not say why."
    return f"The video service said: “{reason[:500]}”"


def api_rejected(message: str) -> str:
    return f"The video service refused the request: “{message[:500]}”. Nothing was charged."


SUBMIT_OUTCOME_UNKNOWN = (
    "I lost contact with the video service while sending your job, so I can't tell whether it "
    "started. To avoid charging you twice it was not re-sent; please try again."
)
TIMED_OUT = "The video service took too long to finish this clip, so I stopped waiting."
IMAGE_LINK_EXPIRED = (
    "Your image's link expired while the job waited in the queue. Please run `/animate` again."
)
DOWNLOAD_FAILED = "The clip was made but I couldn't download it safely from the video service."
POST_FAILED = "The clip was made but I couldn't post it in this channel."


def undeliverable(output_url: str, expires_at: datetime) -> str:
    return (
        "The clip was made, but I couldn't post it: the channel is gone or I may not post "
        f"there. Here is a link instead (it expires <t:{int(expires_at.timestamp())}:R>): "
        f"{output_url}"
    )


# Results -----------------------------------------------------------------------------------------

RESULT_TITLE = "🎬 Your clip is ready"


def settings_line(s: GenerationSettings) -> str:
    camera = "fixed camera" if s.camera_fixed else "moving camera"
    audio = "with audio" if s.generate_audio else "no audio"
    return (
        f"{s.duration_s} s · {s.resolution} · aspect {s.aspect_ratio} · seed {s.seed} · "
        f"{camera} · {audio}"
    )


def link_instead(expires_at: datetime) -> str:
    return (
        "The clip is larger than this server's upload limit, so here is a link instead. "
        f"It expires <t:{int(expires_at.timestamp())}:R>; download it before then."
    )


def generation_time(job: Job) -> str | None:
    if job.submitted_at and job.completed_at:
        return _duration((job.completed_at - job.submitted_at).total_seconds())
    return None


# Cancel ------------------------------------------------------------------------------------------

CANCEL_LABEL = "Cancel"


def cancelled(actor_id: int, requester_id: int) -> str:
    who = "you" if actor_id == requester_id else f"a moderator (<@{actor_id}>)"
    return f"🛑 **Cancelled** by {who}. This clip will not be posted."


def cancel_done(job_id: int) -> str:
    return f"Job #{job_id} is cancelled; it will not be posted."


CANCEL_FAILED = "Something went wrong on my side while cancelling; please try again."
NO_REASON_GIVEN = "no reason given"
CANCEL_NOT_ALLOWED = (
    "Only the person who asked for this clip, or a member with **Manage Messages**, can cancel it."
)
NO_SUCH_JOB = "I can't find that job on this server."

# Buttons on a result ----------------------------------------------------------------------------

REGENERATE_LABEL = "Regenerate"
EDIT_LABEL = "Edit prompt"
CONTINUE_LABEL = "Continue"
LOOP_LABEL = "Loop"
DELETE_LABEL = "Delete"
EDIT_MODAL_TITLE = "Edit the prompt"
EDIT_MODAL_FIELD = "Prompt"
BUTTON_NOT_YOURS = (
    "Only the person who asked for this clip can make new clips from it. "
    "Use `/animate` to make your own."
)
DELETE_NOT_ALLOWED = (
    "Only the person who asked for this clip, or a member with **Manage Messages**, can delete it."
)
POST_ALREADY_DELETED = "That post was already deleted."
DELETE_FAILED = "I couldn't delete that post just now; please try again in a moment."
POST_DELETED = "🗑️ Deleted."
SOURCE_GONE = (
    "The source image of this clip is no longer available. Please start again with `/animate`."
)
CLIP_GONE = (
    "This clip can no longer be downloaded, so I can't continue it. "
    "Please start again with `/animate`."
)
CLIP_UNREADABLE = "I couldn't read the last frame of this clip, so I can't continue it."
CONTINUE_FRAME = "Continuing from this frame…"
BUTTON_FAILED = "Something went wrong on my side; please try again."


def made_from(kind: JobKind, parent_id: int, link: str | None) -> str:
    """The result's note of the clip it was made from, e.g. "Continued from job #12"."""
    verb = {
        JobKind.REGENERATE: "Regenerated from",
        JobKind.EDIT: "Prompt edited from",
        JobKind.CONTINUE: "Continued from",
        JobKind.LOOP: "Looped from",
    }.get(kind, "Made from")
    name = f"job #{parent_id}"
    return f"{verb} [{name}]({link})" if link else f"{verb} {name}"


def cannot_cancel(state: JobState) -> str:
    if state == JobState.CANCELLED:
        return "This job was already cancelled."
    if state == JobState.DELIVERING:
        return "Too late to cancel: the clip is being posted right now."
    return "This job has already finished, so there is nothing to cancel."


# Moderation log ----------------------------------------------------------------------------------

MOD_LOG_STATES = {
    JobState.DELIVERED: "✅ Delivered",
    JobState.FAILED: "❌ Failed",
    JobState.CANCELLED: "🛑 Cancelled",
}


def mod_log_title(job: Job) -> str:
    label = MOD_LOG_STATES.get(job.state, STATE_LABELS[job.state])
    return f"Job #{job.id} · {label}"


def mod_log_cost(job: Job) -> str:
    if job.reserved_cents:  # not yet reported by the API
        return f"up to {dollars(job.reserved_cents)} (reserved)"
    return dollars(job.cost_cents)


def mod_log_result(job: Job) -> str:
    if job.state == JobState.DELIVERED and job.message_id is not None:
        link = jump_url(job.origin.guild_id, job.origin.channel_id, job.message_id)
        return f"[Posted clip]({link})"
    if job.state == JobState.CANCELLED:
        return f"Cancelled by <@{job.cancelled_by}>" if job.cancelled_by else "Cancelled"
    if job.state == JobState.FAILED:
        return job.error or SOMETHING_WENT_WRONG
    return "In progress"


# Server administration ---------------------------------------------------------------------------

LIMIT_LABELS: dict[LimitName, str] = {
    "daily": "Clips per member per day",
    "monthly": "Clips per member per month",
    "cooldown": "Cooldown between a member's clips",
    "in_flight": "Clips a member may have running at once",
    "monthly_spend": "Server spending cap per month",
}


def limit_value(name: LimitName, value: int | None) -> str:
    """An effective limit as admins read it."""
    if value is None:
        return "unlimited"
    if name == "cooldown":  # 0 here means no wait, not "blocked"
        return wait_text(timedelta(seconds=value)) if value else "none"
    if value == 0:
        return "0 (blocked)"
    if name == "monthly_spend":
        return dollars(value)
    return str(value)


def bad_limit_value(name: LimitName, text: str) -> str:
    examples = {"cooldown": "`90s`, `5m`, `1h`", "monthly_spend": "`25`, `$12.50`"}
    example = examples.get(name, "`5`")
    zero = "`0` for none" if name == "cooldown" else "`0` to block"
    return (
        f"`{text[:50]}` is not a value for {LIMIT_LABELS[name].lower()}. Use a number such as "
        f"{example}, {zero}, `unlimited`, or `default`."
    )


def limit_too_large(name: LimitName, text: str, maximum: int) -> str:
    return (
        f"`{text[:50]}` is more than {LIMIT_LABELS[name].lower()} can be set to "
        f"(at most {limit_value(name, maximum)}). Use `unlimited` for no limit."
    )


def channel_unusable(channel_id: int, missing: list[str]) -> str:
    listed = ", ".join(f"**{m}**" for m in missing)
    return f"I can't use <#{channel_id}>: I am missing {listed} there. Fix that, then try again."


NOT_A_TEXT_CHANNEL = "Please pick a text channel (or a forum/thread's parent channel)."
CANNOT_BLOCK_BOT = "Bots can't use `/animate`, so there is no need to block one."


def blocked_member(user_id: int, reason: str) -> str:
    return f"<@{user_id}> is now blocked from `/animate` on this server. Reason: {reason}"


def unblocked_member(user_id: int) -> str:
    return f"<@{user_id}> may use `/animate` again."


def not_blocked(user_id: int) -> str:
    return f"<@{user_id}> was not blocked."


EVERY_CHANNEL = "every channel"
AGE_RESTRICTED_ONLY = "(age-restricted channels only)"
EVERYONE = "everyone"
OFF = "off"
NO_BLOCKS = "none"


def more_lines(count: int) -> str:
    return f"… and {count} more"


CONFIG_SAVED = "✅ Saved. This is the configuration now:"
CONFIG_TITLE = "/animate on this server"
ADMIN_ONLY = "Only members with **Manage Server** can change how `/animate` works here."
SERVER_USAGE_TITLE = "Server usage"
NO_JOBS_IN_PERIOD = "No clips in this period."


def server_totals(t: UsageTotals) -> str:
    return (
        f"{_count(t.generations, 'job')}: {t.succeeded} succeeded, {t.failed} failed, "
        f"{t.cancelled} cancelled\n{t.video_seconds} s of video · {dollars(t.cost_cents)} spent"
    )


def top_user(user_id: int, t: UsageTotals) -> str:
    """One member's line in the server report (rendered without pinging)."""
    return (
        f"<@{user_id}> — {_count(t.generations, 'clip')}, {t.video_seconds} s, "
        f"{dollars(t.cost_cents)}"
    )


CSV_TOO_LARGE = "The CSV export is larger than I can upload here; pick a shorter period."
REPORT_PERIODS = {"day": "Today (UTC)", "month": "This month (UTC)", "all": "All time"}
AUDIT_EMPTY = "No changes recorded yet."

# Usage -------------------------------------------------------------------------------------------

STATE_LABELS = {
    JobState.QUEUED: "⏳ queued",
    JobState.CLAIMED: "📨 sending",
    JobState.SUBMITTING: "📨 sending",
    JobState.SUBMITTED: "🎬 generating",
    JobState.COMPLETED: "📦 posting",
    JobState.DELIVERING: "📦 posting",
    JobState.DELIVERED: "✅ delivered",
    JobState.FAILED: "❌ failed",
    JobState.CANCELLED: "🛑 cancelled",
}
USAGE_TITLE = "Your /animate usage"


def quota_lines(q: QuotaStatus) -> str:
    def left(n: int | None, resets_at: datetime) -> str:
        if n is None:
            return "unlimited"
        return f"{n} left, resets <t:{int(resets_at.timestamp())}:R>"

    lines = [
        f"Today: {left(q.daily_left, q.daily_resets_at)}",
        f"This month: {left(q.monthly_left, q.monthly_resets_at)}",
    ]
    if q.ready_at is not None:
        lines.append(f"Cooldown: you can start again <t:{int(q.ready_at.timestamp())}:R>")
    return "\n".join(lines)


def forgotten(count: int) -> str:
    return (
        f"Done: I erased the prompts and image links of {count} finished job"
        f"{'' if count == 1 else 's'}. Counts and costs stay (without them) so limits and totals "
        "remain true. Jobs still running are erased once you run this again after they finish."
    )


NO_JOBS_YET = "No clips yet. Try `/animate` with an image and a prompt!"


def usage_totals(t: UsageTotals) -> str:
    cancelled = f", {t.cancelled} cancelled" if t.cancelled else ""
    return (
        f"{_count(t.generations, 'generation')} ({t.succeeded} succeeded, {t.failed} failed"
        f"{cancelled})\n{t.video_seconds} s of video · {dollars(t.cost_cents)}"
    )


def jump_url(guild_id: int | None, channel_id: int, message_id: int) -> str:
    """Link that opens a message in the Discord client."""
    return f"https://discord.com/channels/{guild_id or '@me'}/{channel_id}/{message_id}"


def dollars(cents: int) -> str:
    return f"${cents / 100:,.2f}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB"


def wait_text(wait: timedelta) -> str:
    """A coarse, friendly length of time: `3 h 12 min`, `45 s`, `2 days 4 h`."""
    seconds = max(1, int(wait.total_seconds() + 0.999))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} day{'s' if days > 1 else ''} {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s" if minutes < 5 else f"{minutes} min"
    return f"{secs} s"


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    minutes, secs = divmod(seconds, 60)
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"
