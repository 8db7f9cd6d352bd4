"""The operator's HTTP server (`METRICS_PORT`): `GET /healthz` and `GET /metrics`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType

from aiohttp import web
from prometheus_client.exposition import choose_encoder

from bot.ops.metrics import PrometheusMetrics
from bot.ops.startup import EXIT_CONFIG, StartupError
from bot.storage import JobStore

log = logging.getLogger(__name__)

#: How long the database may take to answer the health check before it counts as down.
_DATABASE_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class HealthProbes:
    """What `/healthz` asks, in this order; the first that fails is the reason given."""

    gateway_connected: Callable[[], bool]
    database_answers: Callable[[], Awaitable[object]]
    engine_running: Callable[[], bool]


class OpsServer:
    """Serves the health check and the metrics on `host:port` while the bot runs."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        probes: HealthProbes,
        metrics: PrometheusMetrics,
        store: JobStore,
    ) -> None:
        self._host = host
        self._port = port
        self._probes = probes
        self._metrics = metrics
        self._store = store
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics_page)
        self._runner = web.AppRunner(app, access_log=None)

    async def __aenter__(self) -> OpsServer:
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, self._host, self._port).start()
        except OSError as exc:
            await self._runner.cleanup()
            raise StartupError(
                f"cannot serve health and metrics on {self._host}:{self._port} "
                f"({exc.strerror or exc}): choose another METRICS_PORT or METRICS_HOST",
                EXIT_CONFIG,
            ) from None
        log.info("serving /healthz and /metrics on %s:%d", self._host, self._port)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._runner.cleanup()

    async def health(self) -> str | None:
        """None when healthy, else the short reason it is not."""
        if not self._probes.gateway_connected():
            return "gateway not connected"
        try:
            async with asyncio.timeout(_DATABASE_TIMEOUT_S):
                await self._probes.database_answers()
        except Exception as exc:
            log.warning("health check: the database does not answer: %r", exc)
            return "database not answering"
        if not self._probes.engine_running():
            return "job engine not running"
        return None

    async def _healthz(self, _: web.Request) -> web.Response:
        reason = await self.health()
        if reason is None:
            return web.json_response({"status": "ok"})
        return web.json_response({"status": "unavailable", "reason": reason}, status=503)

    async def _metrics_page(self, request: web.Request) -> web.Response:
        try:
            await self._metrics.refresh(self._store)
        except Exception as exc:  # the rest is still worth serving
            log.warning("metrics: could not count jobs by state: %r", exc)
        encode, content_type = choose_encoder(request.headers.get("Accept", ""))
        return web.Response(
            body=encode(self._metrics.registry), headers={"Content-Type": content_type}
        )
