"""The metrics: what the engine's port, the video API's session and discord.py's rate-limit
log record, and the `/healthz` and `/metrics` server over real HTTP."""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from bot.jobs.model import JobKind, JobState
from bot.ops.metrics import PrometheusMetrics
from bot.ops.server import HealthProbes, OpsServer
from bot.ops.startup import PROBE_PREDICTION_ID
from bot.storage.store import SqlStore
from bot.video.vibedream import VibedreamClient
from tests.factories import admit, move_to, new_job
from tests.fakes.fake_vibedream import FakeVibedream

NOW = datetime(2026, 1, 15, 12, tzinfo=UTC)


def value(metrics: PrometheusMetrics, name: str, **labels: str) -> float:
    found = metrics.registry.get_sample_value(name, labels)
    assert found is not None, (name, labels)
    return found


def test_the_engine_s_port_counts_each_job_by_kind_and_nothing_else() -> None:
    metrics = PrometheusMetrics()

    metrics.job_started(JobKind.CONTINUE)
    metrics.job_delivered(JobKind.CONTINUE, 1.5)
    metrics.job_failed(JobKind.LOOP)
    metrics.clip_reencoded(6.0, fitted=True)

    assert value(metrics, "animate_jobs_started_total", kind="continue") == 1
    assert value(metrics, "animate_jobs_started_total", kind="animate") == 0
    assert value(metrics, "animate_jobs_delivered_total", kind="continue") == 1
    assert value(metrics, "animate_jobs_failed_total", kind="loop") == 1
    assert value(metrics, "animate_delivery_lag_seconds_sum") == 1.5
    assert value(metrics, "animate_reencodes_total", outcome="fitted") == 1
    assert value(metrics, "animate_reencode_seconds_count") == 1


async def test_jobs_by_state_are_read_from_the_store(store: SqlStore) -> None:
    metrics = PrometheusMetrics()
    jobs = [await admit(store, new_job(user, now=NOW), NOW) for user in (1, 2, 3, 4)]
    await move_to(store, jobs[1].id, JobState.SUBMITTED)
    await move_to(store, jobs[2].id, JobState.CLAIMED)
    await move_to(store, jobs[3].id, JobState.CANCELLED)

    await metrics.refresh(store)

    assert value(metrics, "animate_jobs", state="queued") == 1
    assert value(metrics, "animate_jobs", state="submitted") == 1
    assert value(metrics, "animate_jobs", state="delivering") == 0
    assert value(metrics, "animate_jobs_waiting") == 1
    assert value(metrics, "animate_jobs_at_api") == 2


async def test_the_api_session_times_submits_and_polls_and_classes_errors(
    fake_api: FakeVibedream,
) -> None:
    metrics = PrometheusMetrics()
    trace = metrics.api_trace_config(fake_api.base_url)
    async with aiohttp.ClientSession(trace_configs=[trace]) as http:
        api = VibedreamClient(
            http, base_url=fake_api.base_url, api_key=SecretStr(fake_api.api_key), max_retries=0
        )
        body: dict[str, object] = {"prompt": "a cat", "image": "https://example.com/cat.png"}
        submitted = await api.submit("seedance-1.5-pro-i2v", body)
        await api.get_prediction(submitted.id)
        fake_api.fail_next("status", 502)
        with pytest.raises(Exception, match="502"):
            await api.get_prediction(submitted.id)
        with pytest.raises(Exception, match="404"):
            await api.get_prediction(PROBE_PREDICTION_ID)  # the start's key check

    assert value(metrics, "animate_api_request_seconds_count", route="submit") == 1
    assert value(metrics, "animate_api_request_seconds_count", route="status") == 2
    assert value(metrics, "animate_api_errors_total", route="status", status_class="5xx") == 1
    assert value(metrics, "animate_api_errors_total", route="status", status_class="4xx") == 0


async def test_an_api_that_cannot_be_reached_counts_as_a_network_error() -> None:
    metrics = PrometheusMetrics()
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    base = f"http://127.0.0.1:{port}/api/v1"
    async with aiohttp.ClientSession(trace_configs=[metrics.api_trace_config(base)]) as http:
        api = VibedreamClient(http, base_url=base, api_key=SecretStr("k"), max_retries=0)
        with pytest.raises(Exception, match="cannot connect"):
            await api.get_prediction("abc")

    assert value(metrics, "animate_api_errors_total", route="status", status_class="network") == 1


def test_discord_py_s_rate_limit_waits_are_counted_from_its_log_line() -> None:
    metrics = PrometheusMetrics()
    watcher = metrics.watch_rate_limits()
    discord_http = logging.getLogger("discord.http")
    try:
        # discord.py's own words (discord/http.py), with its arguments.
        fmt = "We are being rate limited. %s %s responded with 429. Retrying in %.2f seconds."
        discord_http.warning(fmt, "POST", "https://discord.com/api/v10/channels/1", 1.25)
        too_long = "We are being rate limited. %s %s responded with 429. Timeout of %.2f was "
        discord_http.warning(too_long + "too long, erroring instead.", "GET", "u", 90.0)
        discord_http.warning("Something else %s", "entirely")
    finally:
        discord_http.removeHandler(watcher)

    assert value(metrics, "animate_discord_rate_limit_waits_total") == 1
    assert value(metrics, "animate_discord_rate_limit_wait_seconds_total") == 1.25


class Probes:
    def __init__(self) -> None:
        self.gateway = False
        self.engine = True
        self.database_error: Exception | None = None

    async def database(self) -> None:
        if self.database_error is not None:
            raise self.database_error

    def as_probes(self) -> HealthProbes:
        return HealthProbes(
            gateway_connected=lambda: self.gateway,
            database_answers=self.database,
            engine_running=lambda: self.engine,
        )


@pytest.fixture
async def served(store: SqlStore) -> AsyncIterator[tuple[Probes, PrometheusMetrics, str]]:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    probes, metrics = Probes(), PrometheusMetrics()
    server = OpsServer(
        host="127.0.0.1", port=port, probes=probes.as_probes(), metrics=metrics, store=store
    )
    async with server:
        yield probes, metrics, f"http://127.0.0.1:{port}"


async def test_healthz_says_what_is_down_and_200_once_all_is_up(
    served: tuple[Probes, PrometheusMetrics, str], http: aiohttp.ClientSession
) -> None:
    probes, _, base = served

    async def health() -> tuple[int, object]:
        async with http.get(f"{base}/healthz") as answer:
            return answer.status, await answer.json()

    assert await health() == (503, {"status": "unavailable", "reason": "gateway not connected"})
    probes.gateway = True
    probes.database_error = OSError("disk gone")
    assert await health() == (503, {"status": "unavailable", "reason": "database not answering"})
    probes.database_error = None
    probes.engine = False
    assert await health() == (503, {"status": "unavailable", "reason": "job engine not running"})
    probes.engine = True
    assert await health() == (200, {"status": "ok"})


async def test_metrics_are_served_in_prometheus_text_with_the_store_s_counts(
    served: tuple[Probes, PrometheusMetrics, str], http: aiohttp.ClientSession, store: SqlStore
) -> None:
    _, metrics, base = served
    await admit(store, new_job(42, now=NOW), NOW)
    metrics.job_started(JobKind.ANIMATE)

    async with http.get(f"{base}/metrics") as answer:
        content_type = answer.headers["Content-Type"]
        text = await answer.text()

    assert content_type.startswith("text/plain; version=0.0.4")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert samples[("animate_jobs", (("state", "queued"),))] == 1
    assert samples[("animate_jobs_started_total", (("kind", "animate"),))] == 1
    # No user, prompt or link can be in a label: these are all the labels there are.
    label_names = {name for _, labels in samples for name, _ in labels}
    assert label_names == {"state", "kind", "route", "status_class", "outcome", "le"}
