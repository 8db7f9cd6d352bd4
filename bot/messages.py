"""Every sentence the bot says to users, in one place; the cogs add the Discord frame."""

from __future__ import annotations

from datetime import datetime

from bot.models import GenerationSettings, Job, JobState, UsageTotals

BAR_WIDTH = 12

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


SERVICE_UNAVAILABLE = (
    "The video service is unavailable right now. Nothing was charged; please try again later."
)
SHUTTING_DOWN = "I'm restarting right now. Nothing was charged; please try again in a minute."
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
}
USAGE_TITLE = "Your /animate usage"
NO_JOBS_YET = "No clips yet. Try `/animate` with an image and a prompt!"


def usage_totals(t: UsageTotals) -> str:
    return (
        f"{t.generations} generations ({t.succeeded} succeeded, {t.failed} failed)\n"
        f"{t.video_seconds} s of video · {dollars(t.cost_cents)}"
    )


def jump_url(guild_id: int | None, channel_id: int, message_id: int) -> str:
    """Link that opens a message in the Discord client."""
    return f"https://discord.com/channels/{guild_id or '@me'}/{channel_id}/{message_id}"


def dollars(cents: int) -> str:
    return f"${cents / 100:,.2f}"


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB"


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    minutes, secs = divmod(seconds, 60)
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"
