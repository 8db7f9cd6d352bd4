"""Rows to models and back: epoch seconds to datetimes, JSON parameters to settings."""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime
from typing import Any

from bot.guilds.model import Block
from bot.jobs.model import (
    DeliveryRoute,
    FailureKind,
    GenerationSettings,
    Job,
    JobChange,
    JobKind,
    JobState,
    NewJob,
    Origin,
    RefusedInput,
)
from bot.storage.database import AnyRow


def ts(moment: datetime) -> float:
    """A moment as stored: UTC epoch seconds."""
    return moment.timestamp()


def at(value: float) -> datetime:
    """A stored moment as an aware UTC datetime."""
    return datetime.fromtimestamp(value, UTC)


def maybe_at(value: float | None) -> datetime | None:
    """`at`, passing None through."""
    return None if value is None else at(value)


def params_json(settings: GenerationSettings) -> str:
    """A job's settings as its `params` column: JSON named like the API's parameters (null
    for an option the job's model lacks)."""
    return json.dumps(
        {
            "duration": settings.duration_s,
            "resolution": settings.resolution,
            "aspect_ratio": settings.aspect_ratio,
            "camera_fixed": settings.camera_fixed,
            "seed": settings.seed,
            "generate_audio": settings.generate_audio,
        },
        separators=(",", ":"),
    )


@functools.lru_cache(maxsize=4096)
def settings_from_json(text: str) -> GenerationSettings:
    """The inverse of `params_json` (cached: a job's row is read many times while it runs, and
    its settings never change)."""
    params = json.loads(text)
    return GenerationSettings(
        duration_s=params["duration"],
        resolution=params["resolution"],
        aspect_ratio=params["aspect_ratio"],
        camera_fixed=_maybe_bool(params.get("camera_fixed")),
        seed=params.get("seed"),
        generate_audio=bool(params["generate_audio"]),
    )


def new_job_values(new: NewJob, now: datetime, *, reserve_cents: int) -> dict[str, Any]:
    """The columns of a new, queued job."""
    o, s = new.origin, new.settings
    return {
        "state": JobState.QUEUED.value,
        "guild_id": o.guild_id,
        "channel_id": o.channel_id,
        "user_id": o.user_id,
        "application_id": o.application_id,
        "interaction_token": o.interaction_token,
        "interaction_expires_at": ts(o.interaction_expires_at),
        "upload_limit_bytes": o.upload_limit_bytes,
        "locale": o.locale,
        "guild_locale": o.guild_locale,
        "prompt": new.prompt,
        "image_url": new.image_url,
        "last_image_url": new.last_image_url,
        "model": new.model,
        "params": params_json(s),
        # The lookup keys, copies of `params` (see migration 0011).
        "duration_s": s.duration_s,
        "resolution": s.resolution,
        "generate_audio": s.generate_audio,
        "nonce": new.nonce,
        "cost_cents": 0,
        "reserved_cents": reserve_cents,
        "notified": False,
        "redacted": False,
        "kind": new.kind.value,
        "parent_job_id": new.parent_job_id,
        "final_params": None if new.final_settings is None else params_json(new.final_settings),
        "created_at": ts(now),
        "updated_at": ts(now),
        "epoch": 0,  # queued: no lease yet (the claim takes one)
    }


def change_values(change: JobChange) -> dict[str, Any]:
    """The columns a `JobChange` writes: each fact it carries (None leaves a column as is)."""
    values: dict[str, Any] = {}
    for column in _PLAIN_FACTS:
        if (value := getattr(change, column)) is not None:
            values[column] = value
    for column in _MOMENTS:
        if (moment := getattr(change, column)) is not None:
            values[column] = ts(moment)
    if change.estimate_s is not None:
        values["estimate_low_s"], values["estimate_high_s"] = change.estimate_s
    if change.failure_kind is not None:
        values["failure_kind"] = change.failure_kind.value
    if change.delivered_via is not None:
        values["delivered_via"] = change.delivered_via.value
    if change.refused_input is not None:
        values["refused_input"] = change.refused_input.value
    if change.notified is not None:
        values["notified"] = change.notified
    if change.drop_token:
        values["interaction_token"] = None
    return values


_PLAIN_FACTS = (
    "prediction_id",
    "cost_cents",
    "reserved_cents",
    "output_url",
    "error",
    "message_id",
    "delivered_as",
    "delivery_note",
    "mod_log_channel_id",
    "mod_log_message_id",
)
_MOMENTS = ("submitted_at", "completed_at", "finished_at")


def job(result: AnyRow) -> Job:
    """A job from its row (every column of `jobs`)."""
    row = result._mapping
    return Job(
        id=row["id"],
        state=JobState(row["state"]),
        origin=Origin(
            guild_id=row["guild_id"],
            channel_id=row["channel_id"],
            user_id=row["user_id"],
            application_id=row["application_id"],
            interaction_token=row["interaction_token"] or "",
            interaction_expires_at=at(row["interaction_expires_at"]),
            upload_limit_bytes=row["upload_limit_bytes"],
            locale=row["locale"],
            guild_locale=row["guild_locale"],
        ),
        prompt=row["prompt"],
        image_url=row["image_url"],
        last_image_url=row["last_image_url"],
        model=row["model"],
        settings=settings_from_json(row["params"]),
        nonce=row["nonce"],
        created_at=at(row["created_at"]),
        prediction_id=row["prediction_id"],
        estimate_low_s=_maybe_float(row["estimate_low_s"]),
        estimate_high_s=_maybe_float(row["estimate_high_s"]),
        cost_cents=row["cost_cents"],
        submitted_at=maybe_at(row["submitted_at"]),
        completed_at=maybe_at(row["completed_at"]),
        output_url=row["output_url"],
        error=row["error"],
        message_id=row["message_id"],
        delivered_as=row["delivered_as"],
        finished_at=maybe_at(row["finished_at"]),
        notified=bool(row["notified"]),
        reserved_cents=row["reserved_cents"],
        cancelled_by=row["cancelled_by"],
        mod_log_channel_id=row["mod_log_channel_id"],
        mod_log_message_id=row["mod_log_message_id"],
        redacted=bool(row["redacted"]),
        failure_kind=FailureKind(row["failure_kind"]) if row["failure_kind"] else None,
        delivered_via=DeliveryRoute(row["delivered_via"]) if row["delivered_via"] else None,
        delivery_note=row["delivery_note"],
        kind=JobKind(row["kind"]),
        parent_job_id=row["parent_job_id"],
        post_deleted_at=maybe_at(row["post_deleted_at"]),
        group_id=row["group_id"],
        group_index=row["group_index"],
        final_settings=settings_from_json(row["final_params"]) if row["final_params"] else None,
        refused_input=RefusedInput(row["refused_input"]) if row["refused_input"] else None,
        owner=row["owner"],
        epoch=row["epoch"],
    )


def block(result: AnyRow) -> Block:
    """A member's block from its row."""
    row = result._mapping
    return Block(row["user_id"], row["reason"], row["blocked_by"], at(row["blocked_at"]))


def _maybe_bool(value: object) -> bool | None:
    return None if value is None else bool(value)


def _maybe_float(value: float | None) -> float | None:
    # SQLite may hand back a whole REAL as an int (from RETURNING): the model says float.
    return None if value is None else float(value)
