"""What a member's own commands say: `/usage` (their quota, totals and recent clips, and forgetting
them), `/animate-history` and `/animate-show`, and the mention preference of `/animate-notify`,
as `Text` rendered in the reader's language.

The wording lives in the catalogues (`bot/i18n/locales/<language>.toml`, sections `[usage]`,
`[history]` and `[notify]`); this module names each message and gathers its values. How a job
itself reads (its state, settings and post) is the job engine's, in `bot.jobs.messages`.
"""

from __future__ import annotations

from datetime import datetime

from bot.i18n.format import dollars, lines, timestamp
from bot.i18n.text import Join, Text
from bot.jobs.messages import STATE_LABELS, generation_time, post_deleted, post_url, settings_line
from bot.jobs.model import Job
from bot.members.model import QuotaStatus, UsageTotals

# Usage --------------------------------------------------------------------------------------------

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


# History and show ---------------------------------------------------------------------------------

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
    parts: list[Text | str] = [head, settings_line(job.model, job.settings)]
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


# Notifications ------------------------------------------------------------------------------------


def notify_setting(enabled: bool) -> Text:
    return Text("notify.is_on") if enabled else Text("notify.is_off")


def notify_changed(enabled: bool) -> Text:
    return Text("notify.turned_on") if enabled else Text("notify.turned_off")
