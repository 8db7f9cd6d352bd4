"""The aiohttp server: lifecycle, URLs, and the one entry point every REST and CDN
request goes through (parse, record, validate against the spec, fault, route).
"""

from __future__ import annotations

import json
import logging
import re
import socket
import time
from types import TracebackType
from typing import Any, Self

from aiohttp import BodyPartReader, web

from tests.fakes.discord.http import (
    API_PREFIX,
    CDN_PREFIX,
    Call,
    DiscordError,
    Route,
    json_response,
    not_found,
)
from tests.fakes.discord.recording import RecordedRequest

_log = logging.getLogger(__name__)


class Server:
    """Serving HTTP and the gateway on a loopback port (a part of ``FakeDiscord``)."""

    async def start(self) -> None:
        """Start listening on a free loopback port."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def close(self) -> None:
        """Close gateway sockets and stop the server."""
        for ws in list(self._sockets):
            await ws.close(code=1001, message=b"fake shutting down")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        """Start the server."""
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server."""
        await self.close()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (after ``start()``)."""
        if self._port is None:
            raise RuntimeError("FakeDiscord is not started")
        return f"http://127.0.0.1:{self._port}"

    @property
    def api_url(self) -> str:
        """Value for ``discord.http.Route.BASE``."""
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        """Gateway URL (also sent as READY's ``resume_gateway_url``)."""
        return self.base_url.replace("http://", "ws://") + "/gateway"

    @property
    def cdn_base(self) -> str:
        """Base of attachment URLs (``{cdn_base}/attachments/{cid}/{aid}/{filename}``)."""
        return self.base_url + CDN_PREFIX

    def _match(
        self, method: str, path: str, api: bool
    ) -> tuple[Route | None, re.Match[str] | None, bool]:
        """Return (route, match, path_known) for a request."""
        path_known = False
        for route in self._routes:
            if route.api != api:
                continue
            m = route.pattern.fullmatch(path)
            if m is None:
                continue
            path_known = True
            if route.method == method:
                return route, m, True
        return None, None, path_known

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        """Single entry point for REST and CDN: parse, record, validate, route."""
        api = request.path.startswith(API_PREFIX + "/")
        path = request.path.removeprefix(API_PREFIX) if api else request.path
        record = RecordedRequest(
            method=request.method,
            path=path,
            query=dict(request.query),
            headers=dict(request.headers),
            json=None,
            files=[],
            status=0,
            at=time.monotonic(),
        )
        try:
            await self._read_body(request, record)
            route, match, path_known = self._match(request.method, path, api)
            if route is not None and route.spec_path is not None:
                for error in self._schemas.validate(route.method, route.spec_path, record.json):
                    self.violations.append(f"{request.method} {path}: {error}")
            response = self._injected_fault(request.method, path)
            if response is None:
                if route is None or match is None:
                    if path_known:
                        raise DiscordError(405, 0, "405: Method Not Allowed")
                    raise not_found()
                if route.auth and request.headers.get("Authorization") != f"Bot {self.token}":
                    raise DiscordError(401, 0, "401: Unauthorized")
                response = await route.handler(Call(request, match, record))
        except DiscordError as exc:
            response = json_response(exc.body, status=exc.status)
            record.response = exc.body
        except ConnectionResetError:
            # The client hung up mid-request (say, the bot was stopped during an upload): it
            # breaks no rule of the API, and the answer has no one to reach.
            return web.Response(status=400)
        except Exception as exc:  # a bug in the fake: answer 500 and make tests notice
            _log.exception("fake Discord failed on %s %s", request.method, path)
            self.violations.append(f"{request.method} {path}: FAKE SERVER ERROR {exc!r}")
            record.response = {"code": 0, "message": "500: Internal Server Error"}
            response = json_response(record.response, status=500)
        record.status = response.status
        await self._record(record)
        return response

    async def _read_body(self, request: web.Request, record: RecordedRequest) -> None:
        """Parse a JSON or multipart body into ``record`` (file parts are streamed)."""
        if request.content_type == "multipart/form-data":
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, BodyPartReader):
                    continue
                if part.name == "payload_json" and part.filename is None:
                    record.json = self._parse_json(await part.text())
                elif part.filename is not None or (part.name or "").startswith("files["):
                    record.files.append(await self._stream_file(part, self.keep_file_bytes))
            return
        raw = await request.read()
        if raw and request.content_type == "application/json":
            record.json = self._parse_json(raw.decode())

    @staticmethod
    def _parse_json(text: str) -> Any:
        try:
            return json.loads(text)
        except ValueError:
            raise DiscordError(400, 50109, "The request body contains invalid JSON.") from None

    @staticmethod
    def _ok(call: Call, data: Any, status: int = 200) -> web.Response:
        call.record.response = data
        return json_response(data, status=status)
