"""What the fake received: every request and uploaded file, and the ways to look them up."""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import BodyPartReader

HEAD_BYTES = 64
CHUNK = 1 << 16


@dataclass
class RecordedFile:
    """One uploaded file part: size, hash, first bytes, and all bytes if small enough.

    ``content_type`` is the part's own header (discord.py always sends
    ``application/octet-stream``; the stored attachment's ``content_type`` is guessed from
    the filename, as Discord does). ``data`` is ``None`` above ``FakeDiscord.keep_file_bytes``.
    """

    field: str
    filename: str | None
    size: int
    sha256: str
    head: bytes
    content_type: str | None = None
    data: bytes | None = None


@dataclass
class RecordedRequest:
    """One HTTP request the fake received, and the status it answered with."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any
    files: list[RecordedFile]
    status: int
    at: float
    response: Any = None


class Recording:
    """The request log and its queries (a part of ``FakeDiscord``)."""

    async def _record(self, record: RecordedRequest) -> None:
        async with self._cond:
            self.requests.append(record)
            self._cond.notify_all()

    def requests_to(self, method: str, path_regex: str) -> list[RecordedRequest]:
        """Recorded requests whose method matches ("*" = any) and whole path matches."""
        pattern = re.compile(path_regex)
        return [r for r in self.requests if method in ("*", r.method) and pattern.fullmatch(r.path)]

    def callbacks(self) -> list[RecordedRequest]:
        """Recorded interaction callback requests."""
        return self.requests_to("POST", r"/interactions/\d+/[^/]+/callback")

    def webhook_edits(self) -> list[RecordedRequest]:
        """Recorded PATCHes of interaction/webhook messages (incl. @original)."""
        return self.requests_to("PATCH", r"/webhooks/\d+/[^/]+/messages/[^/]+")

    async def wait_for_request(
        self,
        predicate: Callable[[RecordedRequest], bool],
        timeout: float = 10.0,  # noqa: ASYNC109 - part of the fake's public API
    ) -> RecordedRequest:
        """Return the first recorded request matching ``predicate``, waiting if needed."""

        async def _wait() -> RecordedRequest:
            async with self._cond:
                return await self._cond.wait_for(
                    lambda: next((r for r in self.requests if predicate(r)), None)
                )

        try:
            return await asyncio.wait_for(_wait(), timeout)
        except TimeoutError:
            recent = "\n".join(f"  {r.method} {r.path} -> {r.status}" for r in self.requests[-20:])
            raise TimeoutError(
                f"no matching request within {timeout}s; last requests:\n{recent or '  (none)'}"
            ) from None

    @staticmethod
    async def _stream_file(part: BodyPartReader, keep: int) -> RecordedFile:
        digest = hashlib.sha256()
        size = 0
        kept: bytearray | None = bytearray()
        head = b""
        while chunk := await part.read_chunk(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            if len(head) < HEAD_BYTES:
                head += chunk[: HEAD_BYTES - len(head)]
            if kept is not None:
                kept += chunk
                if len(kept) > keep:
                    kept = None
        return RecordedFile(
            part.name or "",
            part.filename,
            size,
            digest.hexdigest(),
            head,
            content_type=part.headers.get("Content-Type"),
            data=bytes(kept) if kept is not None else None,
        )
