"""HTTP plumbing the route handlers share: Discord-style errors, JSON responses, routes."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes.discord.recording import RecordedFile, RecordedRequest

API_PREFIX = "/api/v10"
CDN_PREFIX = "/cdn"


class DiscordError(Exception):
    """Raised inside handlers to answer with a Discord-style JSON error."""

    def __init__(self, status: int, code: int, message: str) -> None:
        """Store the HTTP status and the Discord error code/message."""
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.body: dict[str, Any] = {"code": code, "message": message}


def not_found() -> DiscordError:
    return DiscordError(404, 0, "404: Not Found")


def unknown_message() -> DiscordError:
    return DiscordError(404, 10008, "Unknown Message")


def invalid_webhook_token() -> DiscordError:
    return DiscordError(401, 50027, "Invalid Webhook Token")


def json_response(
    data: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """JSON response whose Content-Type is exactly ``application/json`` (dpy requires it)."""
    return web.Response(
        body=json.dumps(data).encode(),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def truthy(value: str | None) -> bool:
    return value is not None and value.lower() in {"1", "true"}


@dataclass
class Call:
    """A parsed request handed to a route handler."""

    request: web.Request
    match: re.Match[str]
    record: RecordedRequest

    @property
    def body(self) -> Any:
        return self.record.json

    @property
    def files(self) -> list[RecordedFile]:
        return self.record.files

    def int_param(self, name: str) -> int:
        return int(self.match[name])


Handler = Callable[[Call], Awaitable[web.StreamResponse]]


@dataclass
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    auth: bool = True
    spec_path: str | None = None
    api: bool = True
