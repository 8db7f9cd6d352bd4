"""Whether a member may start a job now, and admitting it: the server's rules, the member's
quota and the server's spending cap (with the job's expected cost reserved against it), and
the images' bytes. A refused request costs nothing and says why."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

from bot.errors import DownloadError, UserError
from bot.guilds.model import GuildConfig, QuotaUsage
from bot.guilds.policy import Access, Limits, check_access, check_quota
from bot.i18n.text import Text
from bot.jobs import messages, request_messages
from bot.jobs.defaults import check_typed_lock
from bot.jobs.model import GenerationSettings, ImageInput, Job, NewJob
from bot.jobs.request import ValidatedRequest, check_image_bytes
from bot.jobs.runtime import JobRuntime
from bot.jobs.server_model import ServerModels
from bot.media.files import SNIFF_BYTES, DiscordFiles
from bot.video.model import VideoModel

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Rules:
    """What a request was checked against: the rules its job must be admitted under."""

    config: GuildConfig
    limits: Limits
    expected_cents: int
    cooldown_s: int
    #: How many jobs the request makes (its variations): each counts against every limit.
    count: int = 1


class Admission:
    """Checks requests against the rules as they stand, and admits them atomically."""

    def __init__(self, runtime: JobRuntime, files: DiscordFiles, models: ServerModels) -> None:
        self._rt = runtime
        self._files = files
        self._models = models

    async def rules(
        self, access: Access, settings: GenerationSettings, model: VideoModel, count: int = 1
    ) -> Rules:
        """The server's rules and the member's quota as they stand: raises UserError if
        `count` jobs (a request's variations) of `model` with these settings may not start now
        (`admit` checks again, atomically)."""
        if self._rt.closing:
            raise UserError(messages.SHUTTING_DOWN)
        store = self._rt.store
        config = await store.guild_config(access.guild_id)
        block = await store.get_block(access.guild_id, access.user_id)
        if (refusal := check_access(config, access, block)) is not None:
            raise UserError(refusal)
        self._models.check_usable(model, config, nsfw=access.nsfw)
        # The server's locks hold for every job: also one a result's button makes from a clip
        # made before the lock (a typed value is refused earlier, by `bot.jobs.request`).
        check_typed_lock(settings.duration_s, config.locks.max_duration_s, "duration")
        check_typed_lock(settings.resolution, config.locks.max_resolution, "resolution")
        limits = Limits.resolve(config, self._rt.settings)
        if count > limits.max_variations:
            raise UserError(messages.variations_above_server_max(count, limits.max_variations))
        expected = await store.expected_cost(model.id, settings)
        if expected is None:
            # Never less than the model's own floor price: a dearer model reserves more.
            expected = max(self._rt.settings.expected_cost_cents, model.listed_price_cents)
        cooldown = limits.cooldown or 0
        usage = await store.quota_usage(access.guild_id, access.user_id, self._rt.now(), cooldown)
        if (refusal := self._refusal(limits, usage, expected, count)) is not None:
            raise UserError(refusal)
        return Rules(config, limits, expected, cooldown, count)

    async def check_images(self, request: ValidatedRequest) -> None:
        """Read the first bytes of each image: raises UserError if one is not a usable image."""
        images = [("image", request.image), ("last_image", request.last_image)]
        await asyncio.gather(*(self._check_bytes(img, label) for label, img in images if img))

    async def admit(self, new: NewJob, rules: Rules) -> Job:
        """Store the job as queued, reserving its expected cost, if the quota still allows it
        (usage and insert are one transaction, so concurrent requests never overshoot)."""
        admitted = await self._rt.store.admit(
            new,
            self._rt.now(),
            reserve_cents=rules.expected_cents,
            cooldown_s=rules.cooldown_s,
            decide=lambda usage: self._refusal(rules.limits, usage, rules.expected_cents),
        )
        if isinstance(admitted, Text):
            raise UserError(admitted)
        return admitted

    async def admit_group(self, news: Sequence[NewJob], rules: Rules) -> list[Job]:
        """Store a request's variations as queued jobs of one group, reserving each one's
        expected cost: all of them if every limit still allows them all, else none (one
        transaction, like `admit`)."""
        count = len(news)
        admitted = await self._rt.store.admit_group(
            news,
            self._rt.now(),
            reserve_cents=rules.expected_cents,
            cooldown_s=rules.cooldown_s,
            decide=lambda usage: self._refusal(rules.limits, usage, rules.expected_cents, count),
        )
        if isinstance(admitted, Text):
            raise UserError(admitted)
        return admitted

    def _refusal(
        self, limits: Limits, usage: QuotaUsage, expected_cents: int, count: int = 1
    ) -> Text | None:
        """Why `count` more jobs would break a limit: the last of them is checked, as if the
        others were already admitted (so a group is all or nothing)."""
        if count > 1:
            more = count - 1
            usage = replace(
                usage,
                today=usage.today + more,
                month=usage.month + more,
                open_here=usage.open_here + more,
                open_anywhere=usage.open_anywhere + more,
                guild_month_cents=usage.guild_month_cents + more * expected_cents,
            )
        cap = self._rt.settings.max_jobs_queued_per_user
        if usage.open_anywhere >= cap:
            return messages.too_many_open_jobs(cap)
        return check_quota(limits, usage, expected_cents, self._rt.now())

    async def _check_bytes(self, image: ImageInput, label: str) -> None:
        try:
            head = await self._files.head(image.url, SNIFF_BYTES)
        except DownloadError as exc:
            log.info("could not read the %s attachment: %s", label, exc)
            raise UserError(request_messages.image_unreadable(label)) from exc
        check_image_bytes(head.data, label)
        # Checked here too: an embed's image (or a stored one) comes with no size of its own.
        limit = self._rt.settings.image_max_bytes
        if head.size_bytes is not None and head.size_bytes > limit:
            raise UserError(request_messages.image_too_big(label, head.size_bytes, limit))
