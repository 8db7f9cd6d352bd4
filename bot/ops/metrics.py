"""The bot's Prometheus metrics (`prometheus-client`), recorded as things happen.

Three sources: the job engine through its port (`PrometheusMetrics` is a `JobMetrics`), the
video API's HTTP session (`api_trace_config`: every request's latency and error class), and
discord.py's log line for each rate-limit wait (`RateLimitWatcher`). Jobs by state are read
from the store at scrape time, so they are true after a restart and across processes. Labels
hold only kinds, states, routes and status classes: never a user, a prompt or a link.
"""

from __future__ import annotations

import logging
import time
from types import SimpleNamespace

import aiohttp
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)

from bot.jobs.model import IN_FLIGHT, UNFINISHED, JobKind, JobState
from bot.ops.startup import PROBE_PREDICTION_ID
from bot.storage import JobStore

_API_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_LAG_BUCKETS_S = (0.5, 1.0, 2.0, 2.5, 3.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)
_REENCODE_BUCKETS_S = (1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 180.0, 300.0)
#: The logger and the opening of discord.py's line for a 429 it is about to wait out.
_DISCORD_HTTP_LOGGER = "discord.http"
_RATE_LIMITED = "We are being rate limited."


class PrometheusMetrics:
    """Every metric the bot serves on `/metrics`, in a registry of its own."""

    def __init__(self) -> None:
        # No `*_created` twin of every counter: a scraper learns restarts from the counters.
        disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped upstream
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.jobs = Gauge("animate_jobs", "Unfinished jobs by state.", ["state"], registry=r)
        self.waiting = Gauge("animate_jobs_waiting", "Jobs queued for the video API.", registry=r)
        self.at_api = Gauge(
            "animate_jobs_at_api", "Jobs holding an in-flight slot at the video API.", registry=r
        )
        self.started = Counter("animate_jobs_started", "Jobs accepted.", ["kind"], registry=r)
        self.delivered = Counter("animate_jobs_delivered", "Clips posted.", ["kind"], registry=r)
        self.failed = Counter("animate_jobs_failed", "Jobs that failed.", ["kind"], registry=r)
        self.api_seconds = Histogram(
            "animate_api_request_seconds",
            "Video API request latency, by route (submit, status).",
            ["route"],
            buckets=_API_BUCKETS_S,
            registry=r,
        )
        self.api_errors = Counter(
            "animate_api_errors",
            "Video API requests that failed, by route and status class (4xx, 5xx, network).",
            ["route", "status_class"],
            registry=r,
        )
        self.delivery_lag = Histogram(
            "animate_delivery_lag_seconds",
            "From the API's completedAt to the clip posted.",
            buckets=_LAG_BUCKETS_S,
            registry=r,
        )
        self.rate_limit_waits = Counter(
            "animate_discord_rate_limit_waits", "Discord 429s waited out.", registry=r
        )
        self.rate_limit_seconds = Counter(
            "animate_discord_rate_limit_wait_seconds", "Time spent waiting them out.", registry=r
        )
        self.reencodes = Counter(
            "animate_reencodes",
            "Clips re-encoded to fit an upload limit, by outcome (fitted, gave_up).",
            ["outcome"],
            registry=r,
        )
        self.reencode_seconds = Histogram(
            "animate_reencode_seconds",
            "Time per re-encode.",
            buckets=_REENCODE_BUCKETS_S,
            registry=r,
        )
        # Every series exists from the start at zero, so a rate over the first job is right.
        for kind in JobKind:
            for counter in (self.started, self.delivered, self.failed):
                counter.labels(kind=kind.value)
        for state in sorted(UNFINISHED):
            self.jobs.labels(state=state.value)
        for outcome in ("fitted", "gave_up"):
            self.reencodes.labels(outcome=outcome)
        for route in ("submit", "status"):
            self.api_seconds.labels(route=route)
            for status_class in ("4xx", "5xx", "network"):
                self.api_errors.labels(route=route, status_class=status_class)

    # The engine's port (bot.jobs.metrics.JobMetrics) ------------------------------------------

    def job_started(self, kind: JobKind) -> None:
        """Count an accepted job."""
        self.started.labels(kind=kind.value).inc()

    def job_delivered(self, kind: JobKind, lag_s: float) -> None:
        """Count a posted clip and how long after it was made."""
        self.delivered.labels(kind=kind.value).inc()
        self.delivery_lag.observe(lag_s)

    def job_failed(self, kind: JobKind) -> None:
        """Count a failed job."""
        self.failed.labels(kind=kind.value).inc()

    def clip_reencoded(self, seconds: float, *, fitted: bool) -> None:
        """Count a re-encode and its time."""
        self.reencodes.labels(outcome="fitted" if fitted else "gave_up").inc()
        self.reencode_seconds.observe(seconds)

    # Read at scrape time ----------------------------------------------------------------------

    async def refresh(self, store: JobStore) -> None:
        """Set the job gauges from the store (one grouped count over the open jobs' index)."""
        counts = await store.unfinished_by_state()
        for state in UNFINISHED:
            self.jobs.labels(state=state.value).set(counts.get(state, 0))
        self.waiting.set(counts.get(JobState.QUEUED, 0))
        self.at_api.set(sum(counts.get(state, 0) for state in IN_FLIGHT))

    # The video API's session ------------------------------------------------------------------

    def api_trace_config(self, base_url: str) -> aiohttp.TraceConfig:
        """Hooks for the video API's session: each request's latency and failures by route."""
        base = base_url.rstrip("/")
        trace = aiohttp.TraceConfig()

        def route_of(method: str, url: str) -> str | None:
            if not url.startswith(base) or url.endswith(PROBE_PREDICTION_ID):
                return None  # the start's key check is no status request
            if method == "POST" and url.endswith("/generate"):
                return "submit"
            if method == "GET" and "/predictions/" in url:
                return "status"
            return None

        async def on_start(
            _: aiohttp.ClientSession, ctx: SimpleNamespace, __: aiohttp.TraceRequestStartParams
        ) -> None:
            ctx.started = time.perf_counter()  # uvloop's clock counts whole milliseconds

        async def on_end(
            _: aiohttp.ClientSession, ctx: SimpleNamespace, params: aiohttp.TraceRequestEndParams
        ) -> None:
            route = route_of(params.method, str(params.url))
            if route is None:
                return
            self.api_seconds.labels(route=route).observe(time.perf_counter() - ctx.started)
            status = params.response.status
            if status >= 400:
                self.api_errors.labels(route=route, status_class=f"{status // 100}xx").inc()

        async def on_exception(
            _: aiohttp.ClientSession,
            __: SimpleNamespace,
            params: aiohttp.TraceRequestExceptionParams,
        ) -> None:
            route = route_of(params.method, str(params.url))
            if route is not None:
                self.api_errors.labels(route=route, status_class="network").inc()

        trace.on_request_start.append(on_start)
        trace.on_request_end.append(on_end)
        trace.on_request_exception.append(on_exception)
        return trace

    def watch_rate_limits(self) -> RateLimitWatcher:
        """Count discord.py's rate-limit waits from its log; returns the handler it added."""
        watcher = RateLimitWatcher(self)
        logger = logging.getLogger(_DISCORD_HTTP_LOGGER)
        if logger.getEffectiveLevel() > logging.WARNING:
            # Its warnings must reach the watcher whatever LOG_LEVEL prints.
            logger.setLevel(logging.WARNING)
        logger.addHandler(watcher)
        return watcher


class RateLimitWatcher(logging.Handler):
    """discord.py waits out a 429 after logging it with the wait in seconds (its third
    argument); it offers no other hook, so the line is what is counted."""

    def __init__(self, metrics: PrometheusMetrics) -> None:
        super().__init__(logging.WARNING)
        self._metrics = metrics

    def emit(self, record: logging.LogRecord) -> None:
        """Count a rate-limit wait."""
        if not isinstance(record.msg, str) or not record.msg.startswith(_RATE_LIMITED):
            return
        if "Retrying in" not in record.msg:
            return  # too long a wait: discord.py raises instead of waiting
        args = record.args if isinstance(record.args, tuple) else ()
        wait_s = args[-1] if args and isinstance(args[-1], int | float) else 0.0
        self._metrics.rate_limit_waits.inc()
        self._metrics.rate_limit_seconds.inc(float(wait_s))
