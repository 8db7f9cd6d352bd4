"""The job service: the engine's face. It accepts /animate requests, cancels jobs and deletes
posts for whoever may, and at start resumes every job a previous run left open.

Discord-free. The cogs hand in plain values; results and progress go out through a
`JobNotifier`. Every state change is a guarded write to the store before the next step (see
`bot.jobs.model.TRANSITIONS`), so a restart picks each job up where it stopped. The steps live
in their own units: `admission`, `generation` (dispatch, submit, poll), `delivery` and
`notices`, sharing one `JobRuntime`.
"""

from __future__ import annotations

import logging
import secrets

from bot.errors import UserError
from bot.guilds.policy import Access, Actor, Limits
from bot.i18n.text import Text
from bot.jobs import messages
from bot.jobs.admission import Admission
from bot.jobs.batches import Batches, variation_settings
from bot.jobs.defaults import DefaultLayers
from bot.jobs.delivery import Delivery
from bot.jobs.generation import Generation
from bot.jobs.leases import LeaseKeeper
from bot.jobs.model import (
    FailureKind,
    GenerationSettings,
    Job,
    JobChange,
    JobKind,
    JobState,
    LeaseLostError,
    NewJob,
    Origin,
)
from bot.jobs.notices import Notices
from bot.jobs.notifier import JobNotifier, PostFailedError
from bot.jobs.posting import ResultPoster
from bot.jobs.request import AnimateRequest, ValidatedRequest, validate
from bot.jobs.runtime import JobRuntime, Work
from bot.jobs.server_model import ServerModels
from bot.media.files import DiscordFiles
from bot.video.catalogue import UnknownModelError, model_by_id
from bot.video.model import VideoModel
from bot.video.vibedream import VibedreamClient

log = logging.getLogger(__name__)

#: How long after an unexpected error a job's step is picked up again from its stored state.
_RECOVER_AFTER_S = 30.0


class JobService:
    """Accepts, cancels and resumes jobs; the units it is made of drive each one to its end."""

    def __init__(
        self,
        *,
        runtime: JobRuntime,
        api: VibedreamClient,
        model: VideoModel,
        poster: ResultPoster,
        files: DiscordFiles,
    ) -> None:
        self._rt = runtime
        #: Which model a server's new jobs are made with (`model` unless its admins chose
        #: another); a job keeps the one it was stored with.
        self.models = ServerModels(runtime.settings, model)
        self._notices = Notices(runtime, group_ended=self._settle_group)
        self._admission = Admission(runtime, files, self.models)
        self._batches = Batches(
            runtime, poster, sync_mod_log=self._notices.sync_mod_log, recover=self._recover_later
        )
        self._delivery = Delivery(
            runtime,
            poster,
            self._notices,
            recover=self._recover_later,
            group_made=self._settle_group,
        )
        self._generation = Generation(
            runtime,
            api,
            self._delivery,
            self._notices,
            self.models.availability,
            recover=self._recover_later,
        )
        self._leases = LeaseKeeper(runtime, self._resume)

    # Lifecycle ------------------------------------------------------------------------------

    async def start(self, notifier: JobNotifier) -> None:
        """Resume the jobs this process may take (on SQLite, every job left open by the
        previous run; see `LeaseKeeper.jobs_to_resume`), then start dispatching, renewing
        this process's leases and taking over expired ones."""
        self._rt.start(notifier)
        for job in await self._leases.jobs_to_resume():
            await self._resume(job)
        await self._rt.listen()
        self._generation.start()
        self._leases.start()

    @property
    def running(self) -> bool:
        """True while the engine dispatches jobs and runs their timers (for the health check)."""
        return not self._rt.closing and self._generation.running and self._rt.scheduler.running

    async def stop(self, grace_s: float = 5.0) -> None:
        """Stop taking and starting work, let running steps finish briefly, then cancel them.

        Every state is already persisted, so whatever is cancelled resumes on the next start;
        the grace period mainly lets a submit on the wire get its answer, since a submit cut
        off mid-flight cannot safely be re-sent.
        """
        self._rt.closing = True
        self._generation.stop()
        await self._leases.stop()
        await self._rt.stop(grace_s)
        await self._leases.release()

    @property
    def leases(self) -> LeaseKeeper:
        """This process's lease keeper (tests and the bench drive its renewal and sweep)."""
        return self._leases

    async def _resume(self, job: Job) -> None:
        """Resume a job from its stored state (at start, after a takeover, after a crashed
        step). A failure, say a database error, is tried again later: the job is this
        process's now, and no other process would take it while its lease is renewed."""
        try:
            await self._resume_from(job)
        except LeaseLostError:
            self._rt.drop(job.id)
        except Exception:
            log.exception("job %d: resuming in state %s failed", job.id, job.state)
            self._recover_later(job.id)

    async def _resume_from(self, job: Job) -> None:
        log.info("job %d: resuming in state %s", job.id, job.state)
        progress = self._rt.progress
        match job.state:
            case JobState.QUEUED:
                progress.follow(job.id, 0)
            case JobState.CLAIMED:
                # Nothing was on the wire: it simply goes back to its place in the queue.
                await self._rt.move(job.id, JobState.QUEUED)
                progress.follow(job.id, 0)
                self._rt.wake_dispatch()
            case JobState.SUBMITTING:
                # The submit may or may not have reached the API: never send it twice.
                self._step(job.id, self._generation.fail_outcome_unknown(job))
            case JobState.SUBMITTED:
                self._generation.schedule_poll(job, 0)
                progress.follow(job.id, 0)
            case JobState.COMPLETED | JobState.DELIVERING:
                self._delivery.start(job.id)
            case JobState.FAILED:
                self._step(job.id, self._notices.failure(job))
            case JobState.CANCELLED:
                if job.reserved_cents and job.prediction_id is None:
                    job = await self._settle_cut_off_submit(job)
                self._step(job.id, self._notices.cancelled(job))
            case JobState.DELIVERED:
                pass
        if job.mod_log_message_id is None and job.state != JobState.DELIVERED:
            self._notices.sync_mod_log(job.id)  # posted if the server keeps a log

    async def _settle_cut_off_submit(self, job: Job) -> Job:
        """A job cancelled with a submit on the wire, stopped before its answer: it may have
        been charged, so it is settled like any submit whose outcome is unknown."""
        reason = messages.SUBMIT_OUTCOME_UNKNOWN.render(job.origin.locale)
        change = JobChange(
            failure_kind=FailureKind.SUBMIT_UNKNOWN,
            error=reason,
            finished_at=self._rt.now(),
            cost_cents=job.reserved_cents,
            reserved_cents=0,
        )
        return await self._rt.update(job.id, change)

    def _settle_group(self, group_id: int) -> None:
        self._batches.start(group_id)

    def _step(self, job_id: int, step: Work) -> None:
        self._rt.spawn(job_id, step, on_crash=lambda: self._recover_later(job_id))

    def _recover_later(self, job_id: int) -> None:
        """Pick a job whose step crashed (say, a database error) up again later from its
        stored state, rather than leave it stranded until a restart."""
        log.info("job %d: resuming in %g s", job_id, _RECOVER_AFTER_S)
        self._rt.scheduler.call_later(
            ("recover", job_id), _RECOVER_AFTER_S, lambda: self._recover(job_id)
        )

    async def _recover(self, job_id: int) -> None:
        try:
            job = await self._rt.store.get_job(job_id)
        except Exception as exc:
            log.warning("job %d: cannot read it to resume it (%s)", job_id, exc)
            self._recover_later(job_id)
            return
        if job is None or job.notified:
            return
        # A job past the queue is resumed only by its lease's holder; a cancelled one by
        # anyone (telling its requester twice is better than never).
        if job.state in (JobState.QUEUED, JobState.CANCELLED) or self._rt.holds(job):
            await self._resume(job)
            self._rt.wake_dispatch()  # it may be back in the queue
        else:
            log.info("job %d: not resumed here: %s holds it now", job.id, job.owner)

    # Intake ---------------------------------------------------------------------------------

    async def server_model(self, guild_id: int) -> VideoModel:
        """The model a new job on this server runs on."""
        return self.models.for_server(await self._rt.store.guild_config(guild_id))

    async def check(self, request: AnimateRequest, guild_id: int, user_id: int) -> ValidatedRequest:
        """Validate against the server's model what can be checked without downloading
        anything, filling what was left out from the member's and the server's defaults (two
        small reads), so the cog can answer at once."""
        layers, model = await self.defaults(guild_id, user_id)
        return validate(request, self._rt.settings, model, layers)

    async def defaults(self, guild_id: int, user_id: int) -> tuple[DefaultLayers, VideoModel]:
        """The member's and the server's defaults and the server's locks, and the model a new
        job of theirs runs on."""
        store = self._rt.store
        config = await store.guild_config(guild_id)
        saved = await store.member_defaults(guild_id, user_id)
        variations = saved.variations
        if variations is not None:
            # A default saved before the server lowered its maximum asks for what it allows
            # (a number typed above it is refused, saying so).
            most = Limits.resolve(config, self._rt.settings).max_variations
            variations = min(variations, most)
        layers = DefaultLayers(
            member=saved.options,
            server=config.defaults,
            locks=config.locks,
            variations=variations,
        )
        return layers, self.models.for_server(config)

    async def check_admission(
        self, access: Access, settings: GenerationSettings, model_id: str
    ) -> None:
        """Raise UserError if a job of this model with these settings may not start now
        (nothing is reserved: `accept` checks again as it admits)."""
        await self._admission.rules(access, settings, self._model(model_id))

    def _model(self, model_id: str) -> VideoModel:
        try:
            return model_by_id(model_id)
        except UnknownModelError:
            # A stored job of a model the catalogue no longer has: refused like a retired one.
            raise UserError(messages.model_not_offered(model_id, self.models.default.id)) from None

    async def accept(
        self,
        request: ValidatedRequest,
        origin: Origin,
        access: Access,
        *,
        kind: JobKind = JobKind.ANIMATE,
        parent_job_id: int | None = None,
    ) -> Job:
        """Apply the server's rules, verify the images' bytes, then store and queue the job.

        Raises UserError saying why (and until when) the request cannot run; a refused
        request costs nothing.
        """
        model = self._model(request.model)
        rules = await self._admission.rules(access, request.settings, model, request.variations)
        await self._admission.check_images(request)
        every = variation_settings(
            request.settings, request.variations, model, seed_typed=request.seed_typed
        )
        news = [
            NewJob(
                origin=origin,
                model=request.model,
                prompt=request.prompt,
                image_url=request.image.url,
                last_image_url=request.last_image.url if request.last_image else None,
                settings=settings,
                nonce=secrets.token_hex(8),
                kind=kind,
                parent_job_id=parent_job_id,
                final_settings=request.final_settings,
            )
            for settings in every
        ]
        if len(news) == 1:
            admitted = [await self._admission.admit(news[0], rules)]
        else:
            admitted = await self._admission.admit_group(news, rules)
        for job in admitted:
            self._rt.metrics.job_started(kind)
            log.info(
                "job %d: queued (%s, %s, group %s) for user %d in channel %d",
                job.id,
                kind,
                job.model,
                job.group_id,
                origin.user_id,
                origin.channel_id,
            )
            if rules.config.mod_log_channel_id is not None:
                self._notices.sync_mod_log(job.id)
        # Its place in line, if it waits (a group's progress is its first job's).
        self._rt.progress.follow_if_it_lasts(admitted[0].id)
        self._rt.wake_dispatch()
        return admitted[0]

    # Cancel and delete ----------------------------------------------------------------------

    async def cancel(self, job_id: int, actor: Actor) -> Job:
        """Cancel a job for its requester or a moderator of its server. Raises UserError."""
        store = self._rt.store
        job = await self._own_job(job_id, actor, messages.CANCEL_NOT_ALLOWED)
        # Any process may cancel any job; the job's holder learns of it at its next write.
        cancelled = await store.cancel_job(job_id, actor.user_id, self._rt.now(), self._rt.lease)
        if cancelled is None:
            current = await store.get_job(job_id)
            raise UserError(messages.cannot_cancel(current.state if current else job.state))
        log.info("job %d: %s -> cancelled by user %d", job.id, job.state, actor.user_id)
        self._cancelled(cancelled)
        if job.group_id is not None:  # Cancel on a group's progress stops every variation
            for other in await store.group_jobs(job.group_id):
                stopped = await store.cancel_job(
                    other.id, actor.user_id, self._rt.now(), self._rt.lease
                )
                if stopped is not None:
                    log.info("job %d: cancelled with its group %d", other.id, job.group_id)
                    self._cancelled(stopped)
        return cancelled

    def _cancelled(self, job: Job) -> None:
        self._generation.cancel_poll(job.id)
        if job.owner == self._rt.name:
            self._rt.hold(job)  # it was queued: this process tells the requester
        self._rt.wake_dispatch()  # its slot is free
        # The token was read before the update; the stored row keeps it until notified.
        self._step(job.id, self._notices.cancelled(job))

    async def delete_post(self, job_id: int, actor: Actor) -> Job:
        """Delete a job's result post, for its requester or a moderator. Raises UserError."""
        job = await self._own_job(job_id, actor, messages.DELETE_NOT_ALLOWED)
        if job.post_deleted_at is not None or job.message_id is None:
            raise UserError(messages.POST_ALREADY_DELETED)
        try:
            await self._rt.notifier.delete_post(job)
        except PostFailedError as exc:
            log.warning("job %d: could not delete its post: %s", job.id, exc)
            raise UserError(messages.DELETE_FAILED) from exc
        if not await self._rt.store.mark_post_deleted(job.id, self._rt.now()):
            raise UserError(messages.POST_ALREADY_DELETED)  # another press got there first
        if job.group_id is not None:  # a group's post carried every variation
            for other in await self._rt.store.group_jobs(job.group_id):
                if other.id != job.id and other.message_id == job.message_id:
                    await self._rt.store.mark_post_deleted(other.id, self._rt.now())
        log.info("job %d: post deleted by user %d", job.id, actor.user_id)
        self._notices.sync_mod_log(job.id)
        deleted = await self._rt.store.get_job(job.id)
        assert deleted is not None
        return deleted

    async def _own_job(self, job_id: int, actor: Actor, not_allowed: Text) -> Job:
        """The job, if the actor is its requester or a moderator of its server."""
        job = await self._rt.store.get_job(job_id)
        if job is None or job.origin.guild_id != actor.guild_id:
            raise UserError(messages.NO_SUCH_JOB)
        if actor.user_id != job.origin.user_id and not actor.can_manage_messages:
            raise UserError(not_allowed)
        return job
