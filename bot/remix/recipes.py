"""A new request made from a delivered job by one of its post's buttons. Pure: no I/O."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import yarl

from bot.errors import UserError
from bot.jobs.model import REMIX_KINDS, ImageInput, Job, JobKind
from bot.jobs.request import ValidatedRequest, check_end_frame, clean_prompt
from bot.media.files import link_expires_within
from bot.remix import messages
from bot.settings import Settings
from bot.video.catalogue import MODELS

#: Reuse a stored image link for a new job only while it has this long to live: longer than
#: the margin checked at submit (`bot.jobs`), since the new job may wait in the queue first.
_LINK_MARGIN = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class PostFiles:
    """What a result post carries, as the platform describes it at the press (fresh links)."""

    first: ImageInput | None = None
    last: ImageInput | None = None
    clip_url: str | None = None


def remix_request(
    parent: Job,
    kind: JobKind,
    files: PostFiles,
    settings: Settings,
    now: datetime,
    *,
    prompt: str | None = None,
    frame: ImageInput | None = None,
) -> ValidatedRequest:
    """The request `kind` makes from `parent`: Regenerate keeps everything but the seed, Edit
    takes a new prompt (checked like /animate's), Continue starts from `frame` (the parent's
    last frame) with a new seed, Loop ends on the image it starts from. Raises UserError."""
    if kind not in REMIX_KINDS:
        raise ValueError(f"{kind} is not made from a parent job")
    if kind is JobKind.FINAL:
        return final_request(parent, files, now)
    if parent.redacted:
        raise UserError(messages.SOURCE_GONE)
    text = parent.prompt if prompt is None else clean_prompt(prompt, settings.prompt_max_chars)
    # The new clip is made with the parent's model and settings (whether this server still
    # offers that model is checked at admission, naming the one it uses now).
    # A model the catalogue lost is refused at admission, like one no longer offered.
    model = MODELS.get(parent.model)
    job_settings = parent.settings
    seeds = model.options.seeds if model is not None else None
    if kind in (JobKind.REGENERATE, JobKind.CONTINUE) and seeds is not None:
        job_settings = replace(job_settings, seed=_new_seed(job_settings.seed, seeds))
    if kind is JobKind.LOOP and model is not None:
        check_end_frame(model, has_end_frame=True)
    if kind is JobKind.CONTINUE:
        if frame is None:
            raise ValueError("Continue needs the parent's last frame")
        return ValidatedRequest(
            prompt=text, image=frame, last_image=None, model=parent.model, settings=job_settings
        )
    first = files.first or _stored(parent.image_url, now)
    if first is None:
        raise UserError(messages.SOURCE_GONE)
    last: ImageInput | None = first if kind is JobKind.LOOP else None
    if kind is not JobKind.LOOP and parent.last_image_url is not None:
        last = files.last or _stored(parent.last_image_url, now)
        if last is None:
            raise UserError(messages.SOURCE_GONE)
    return ValidatedRequest(
        prompt=text, image=first, last_image=last, model=parent.model, settings=job_settings
    )


def final_request(draft: Job, files: PostFiles, now: datetime) -> ValidatedRequest:
    """A draft's Render final: the same images, prompt and seed, at the settings the draft
    kept for it (the options typed with the draft, else the defaults then). Raises UserError
    when it is no draft, or its images are gone (post deleted, links expired, erased)."""
    if draft.final_settings is None:
        raise UserError(messages.NOT_A_DRAFT)
    if draft.redacted:
        raise UserError(messages.DRAFT_IMAGES_GONE)
    first = files.first or _stored(draft.image_url, now)
    last = None
    if draft.last_image_url is not None:
        last = files.last or _stored(draft.last_image_url, now)
    if first is None or (draft.last_image_url is not None and last is None):
        raise UserError(messages.DRAFT_IMAGES_GONE)
    return ValidatedRequest(
        prompt=draft.prompt,
        image=first,
        last_image=last,
        model=draft.model,
        settings=draft.final_settings,
    )


def _stored(url: str, now: datetime) -> ImageInput | None:
    """The job's own link to an image, while it still works (Discord's expire in about a day)."""
    if not url or link_expires_within(url, now, _LINK_MARGIN):
        return None
    name = yarl.URL(url).name or "image"
    return ImageInput(
        url=url, filename=name, size_bytes=0, content_type=None, width=None, height=None
    )


def _new_seed(old: int | None, seeds: range) -> int:
    seed = random.choice(seeds)
    while seed == old:
        seed = random.choice(seeds)
    return seed
