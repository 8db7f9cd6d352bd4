"""What the job engine says: admission, progress, failures, cancelling and deleting, the result
post and the moderation log's entry, as `Text` rendered in the reader's language. What is wrong
with a request is in `bot.jobs.request_messages`.

The wording lives in the catalogues (`bot/i18n/locales/<language>.toml`); this module names each
message and gathers its values, and the Discord edge renders it.
"""

from __future__ import annotations

from datetime import datetime

from bot.i18n import common
from bot.i18n.format import dollars, duration_text, jump_url, lines, mib, timestamp
from bot.i18n.text import Join, Text
from bot.jobs.expectations import Eta, EtaBasis, Forecast, bar_fraction
from bot.jobs.model import (
    DeliveryRoute,
    FailureKind,
    GenerationSettings,
    Job,
    JobState,
    OptionDefaults,
    RefusedInput,
)
from bot.video.catalogue import DEFAULT_MODEL, MODELS
from bot.video.model import VideoModel

#: Cells in the progress bar. Each cell is one message edit while a job generates, so it is
#: kept short: with a 90 s ETA the bar moves every 18 s, and the timestamps beside it, which
#: Discord keeps current, show the seconds. (Against a learned ETA most jobs see every cell,
#: where against the API's high end they saw about two thirds: five cells, not six, keep the
#: edits per job where they were.)
BAR_WIDTH = 5


# Admission --------------------------------------------------------------------------------------


def too_many_open_jobs(limit: int) -> Text:
    return Text("input.too_many_open_jobs", count=limit)


def variations_above_server_max(count: int, maximum: int) -> Text:
    return Text("input.variations_above_server_max", count=count, maximum=maximum)


SERVICE_UNAVAILABLE = Text("service.unavailable")
SHUTTING_DOWN = Text("service.shutting_down")


def model_not_offered(model: str, server_model: str) -> Text:
    """A remix whose parent's model this server no longer offers."""
    return Text("models.not_offered", model=model, current=server_model)


def model_age_restricted(model: str) -> Text:
    return Text("models.age_restricted", model=model)


def model_unavailable_now(model: str) -> Text:
    return Text("models.unavailable_now", model=model)


def parent_model_unavailable(model: str, server_model: str) -> Text:
    """A remix of a clip whose model is unavailable, on a server that now uses another."""
    return Text("models.parent_unavailable", model=model, current=server_model)


def model_of(job: Job) -> VideoModel:
    """The model a job was stored with (the default's facts for an id the catalogue lost)."""
    return MODELS.get(job.model, DEFAULT_MODEL)


# Progress ---------------------------------------------------------------------------------------


def queued(position: int, forecast: Forecast, job: Job) -> Text:
    ahead = Text("progress.next") if position <= 1 else Text("progress.ahead", count=position - 1)
    place = Text("progress.queued", position=position, ahead=ahead)
    return lines([place, expectation(forecast, job)])


SUBMITTING = Text("progress.submitting")
SERVICE_BUSY = Text("progress.service_busy")


def submitting(forecast: Forecast, job: Job) -> Text:
    return lines([SUBMITTING, expectation(forecast, job)])


def expectation(forecast: Forecast, job: Job) -> Text:
    """The cost and the earliest ready time, shown while a job waits to be sent."""
    return Text(
        "progress.expectation",
        cost=forecast_cost(forecast, job),
        ready=timestamp(forecast.ready_at),
        basis=eta_basis(forecast.eta, job),
    )


def forecast_cost(forecast: Forecast, job: Job) -> Text | str:
    """The cost a progress message shows: known, or the job's model's "from" price."""
    if forecast.cost_cents is None:
        return Text("progress.cost_from", cost=dollars(model_of(job).listed_price_cents))
    return dollars(forecast.cost_cents)


def eta_basis(eta: Eta, job: Job) -> Text:
    """Where an expected time comes from, in a few words."""
    s = job.settings
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
    low, high = model_of(job).documented_estimate_s
    return Text("progress.eta_docs", low=f"{low:g}", high=f"{high:g}")


def generating(
    started_at: datetime,
    elapsed_s: float,
    forecast: Forecast,
    job: Job,
    *,
    late: bool = False,
) -> Text:
    # A Discord timestamp counts in the client by itself, so the text only changes (and the
    # message is only edited) when the bar moves, or once if the job runs late.
    values = {
        "bar": progress_bar(bar_fraction(elapsed_s, forecast.eta)),
        "ready": timestamp(forecast.ready_at),
        "basis": eta_basis(forecast.eta, job),
        "cost": forecast_cost(forecast, job),
    }
    expected = (
        Text("progress.expected_late", **values) if late else Text("progress.expected", **values)
    )
    return lines(
        [
            Text("progress.generating", started=timestamp(started_at)),
            expected,
            settings_line(job.model, job.settings),
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


def honest(
    why: Text, cost_cents: int, failure_kind: FailureKind | None, refused: RefusedInput | None
) -> Text:
    """A failure's reason as its requester is told it: why, whether anything was charged
    (the cost the API reported; "not charged" when it reported none), and which input the API
    objected to, when it said so."""
    parts: list[Text | str] = [why, charge_note(cost_cents, failure_kind)]
    if refused is not None:
        parts.append(Text(f"failure.refused_{refused.value}"))
    return Join(parts, sep=" ")


def charge_note(cost_cents: int, failure_kind: FailureKind | None) -> Text:
    """Whether the failed job was charged, plainly."""
    if failure_kind is FailureKind.SUBMIT_UNKNOWN:
        return Text("failure.charge_unknown", cost=dollars(cost_cents))
    if cost_cents > 0:
        return Text("failure.charged", cost=dollars(cost_cents))
    return NOT_CHARGED


NOT_CHARGED = Text("failure.not_charged")


def refused_input(api_message: str | None) -> RefusedInput | None:
    """Which input an API error names (the first one it mentions), if any: "Please modify
    your prompt" is the prompt, `last_image` or "end image" the end frame."""
    text = (api_message or "").lower()
    found: list[tuple[int, RefusedInput]] = []
    for refused, words in _INPUT_WORDS:
        at = [text.find(word) for word in words if word in text]
        if at:
            found.append((min(at), refused))
    return min(found, key=lambda hit: hit[0])[1] if found else None


#: The words by which an API error names each input; the end image's before the image's, so
#: "last_image" is not read as "image".
_INPUT_WORDS: tuple[tuple[RefusedInput, tuple[str, ...]], ...] = (
    (RefusedInput.LAST_IMAGE, ("last_image", "last image", "end image", "end frame")),
    (RefusedInput.PROMPT, ("prompt",)),
    (RefusedInput.IMAGE, ("image",)),
    (RefusedInput.OUTPUT, ("output",)),
)


SUBMIT_OUTCOME_UNKNOWN = Text("failure.submit_outcome_unknown")
#: The API refused our key while the job ran (what it cost is said beside it).
FAILED_UNAVAILABLE = Text("failure.service_unavailable")
#: The bot's own step failed before anything reached the API.
SUBMIT_ABORTED = Text("failure.submit_aborted")
#: The API called the job's model unknown or unavailable (retired upstream, say).
MODEL_UNAVAILABLE = Text("failure.model_unavailable")
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


# Variations and drafts ----------------------------------------------------------------------------


def variations_ready(ready: int, total: int) -> Text:
    return Text("variations.ready", ready=ready, total=total)


def variations_none_made(total: int) -> Text:
    return Text("variations.none_made", total=total)


def variations_title(total: int) -> Text:
    return Text("variations.title", total=total)


def variation_heading(number: int, seed: int | None) -> Text:
    if seed is None:
        return Text("variations.heading", number=number)
    return Text("variations.heading_seed", number=number, seed=seed)


def variations_footer(leader: Job, last_id: int) -> Text:
    return Text("variations.footer", first=leader.id, last=last_id, model=model_of(leader).name)


def variation_file(filename: str) -> Text:
    return Text("variations.file", filename=filename)


def variation_link(url: str, expires_at: datetime) -> Text:
    return Text("variations.link", url=url, expires=timestamp(expires_at))


def variation_cancelled(cost_cents: int) -> Text:
    if cost_cents > 0:  # cancelled once made (or while its submit was on the wire)
        return Text("variations.cancelled_charged", cost=dollars(cost_cents))
    return Text("variations.cancelled")


def variation_failed(reason: str) -> Text:
    """A variation that failed: its reason, which already says what was charged."""
    return Text("variations.failed", reason=reason)


FIELD_DRAFT = Text("draft.field_final")
FIELD_COST = Text("draft.field_cost")


def draft_and_final_cost(draft_cents: int, final_cents: int) -> Text:
    return Text("draft.costs", draft=dollars(draft_cents), final=dollars(final_cents))


def result_footer(job: Job) -> Text:
    return Text("result.footer", job=job.id, model=model_of(job).name)


def settings_line(model: str, s: GenerationSettings) -> Text:
    """What a clip was made with: its model and every option the model has."""
    parts: list[Text | str] = [
        f"`{model}`",
        Text("result.duration", duration=s.duration_s),
        s.resolution,
        Text("result.aspect", aspect=s.aspect_ratio),
    ]
    if s.seed is not None:
        parts.append(Text("result.seed", seed=s.seed))
    if s.camera_fixed is not None:
        parts.append(
            Text("result.camera_fixed") if s.camera_fixed else Text("result.camera_moving")
        )
    parts.append(Text("result.with_audio") if s.generate_audio else Text("result.no_audio"))
    return Join(parts, sep=" · ")


def defaults_line(d: OptionDefaults) -> Text | None:
    """The options a level of defaults sets (a member's, a server's), in a job's words; None
    when it sets none."""
    parts: list[Text | str] = []
    if d.duration_s is not None:
        parts.append(Text("result.duration", duration=d.duration_s))
    if d.resolution is not None:
        parts.append(d.resolution)
    if d.aspect_ratio is not None:
        parts.append(Text("result.aspect", aspect=d.aspect_ratio))
    if d.camera_fixed is not None:
        parts.append(
            Text("result.camera_fixed") if d.camera_fixed else Text("result.camera_moving")
        )
    if d.generate_audio is not None:
        parts.append(Text("result.with_audio") if d.generate_audio else Text("result.no_audio"))
    return Join(parts, sep=" · ") if parts else None


def result_mention(user_id: int) -> str:
    # Sent with an allowlist holding this user alone: it pings them and nobody else.
    return f"<@{user_id}>"


def link_instead(expires_at: datetime) -> Text:
    return Text("result.link_instead", expires=timestamp(expires_at))


REENCODED_TITLE = Text("result.reencoded_title")


def reencoded(from_bytes: int, to_bytes: int) -> Text:
    return Text("result.reencoded", original=mib(from_bytes), size=mib(to_bytes))


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


def cannot_cancel(state: JobState) -> Text:
    if state == JobState.CANCELLED:
        return Text("cancel.already_cancelled")
    if state == JobState.DELIVERING:
        return Text("cancel.too_late")
    return Text("cancel.already_finished")


# Delete (a result post's button) ----------------------------------------------------------------

DELETE_LABEL = Text("buttons.delete")
DELETE_NOT_ALLOWED = Text("buttons.delete_not_allowed")
POST_ALREADY_DELETED = Text("buttons.already_deleted")
DELETE_FAILED = Text("buttons.delete_failed")
POST_DELETED = Text("buttons.deleted")

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
        return job.error or common.SOMETHING_WENT_WRONG
    return Text("mod_log.in_progress")


# A job as lists and posts describe it ----------------------------------------------------------

STATE_LABELS = {state: Text(f"state.{state.value}") for state in JobState}


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
