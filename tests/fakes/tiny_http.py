"""A one-handler aiohttp server on 127.0.0.1, for answers the fake video API cannot give."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class SeenRequest:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class TinyServer:
    """Serves every path with `handler` and records what arrived.

    A handler may `await server.hang()` to accept a request and never answer it; hanging
    handlers are let go when the server closes, so teardown does not wait on them.
    """

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[SeenRequest] = []
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    async def __aenter__(self) -> TinyServer:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self._port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def url(self, path: str = "/") -> str:
        """Absolute URL of `path` on this server."""
        return f"http://127.0.0.1:{self._port}{path}"

    async def hang(self) -> None:
        """Wait until the server closes (for handlers that must never answer)."""
        await self._closing.wait()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(SeenRequest(request.method, request.path, dict(request.headers), body))
        return await self.handler(request)
