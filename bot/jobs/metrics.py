"""The engine's metrics port: what a job's life tells an operator's dashboard.

The engine calls these at the moments they describe; the composition root hands in a recorder
(`bot.ops.metrics.PrometheusMetrics` when `METRICS_PORT` is set). Only the job's kind and
plain numbers go through: never a user, a prompt or a link.
"""

from __future__ import annotations

from typing import Protocol

from bot.jobs.model import JobKind


class JobMetrics(Protocol):
    """Counts and timings of jobs, recorded as they happen."""

    def job_started(self, kind: JobKind) -> None:
        """A job was accepted and queued."""

    def job_delivered(self, kind: JobKind, lag_s: float) -> None:
        """A job's clip was posted, `lag_s` after the API finished making it."""

    def job_failed(self, kind: JobKind) -> None:
        """A job ended failed."""

    def clip_reencoded(self, seconds: float, *, fitted: bool) -> None:
        """A clip over an upload limit was re-encoded for `seconds`; `fitted` if it now fits."""


class NoMetrics:
    """Records nothing: the engine's default when metrics are off (and in most tests)."""

    def job_started(self, kind: JobKind) -> None:
        """Record nothing."""

    def job_delivered(self, kind: JobKind, lag_s: float) -> None:
        """Record nothing."""

    def job_failed(self, kind: JobKind) -> None:
        """Record nothing."""

    def clip_reencoded(self, seconds: float, *, fitted: bool) -> None:
        """Record nothing."""


NO_METRICS: JobMetrics = NoMetrics()
