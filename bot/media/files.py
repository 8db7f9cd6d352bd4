"""Recognising files by their own bytes, and fetching remote files safely."""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import aiohttp
import yarl

from bot.errors import ClipTooLargeError, DownloadError
from bot.settings import Settings

log = logging.getLogger(__name__)

IMAGE_CONTENT_TYPES = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/gif": "GIF",
    "image/webp": "WebP",
}
SNIFF_BYTES = 16
#: Content types a clip may be served with (none at all is accepted too; the bytes decide).
CLIP_CONTENT_TYPES = frozenset(
    {"video/mp4", "application/mp4", "application/octet-stream", "binary/octet-stream"}
)
#: Names (before the extension) of the input images a result post carries: its buttons find the
#: images there, under links Discord keeps fresh, long after the job's own links expired.
SOURCE_FIRST = "source-first"
SOURCE_LAST = "source-last"
IMAGE_EXTENSIONS = {"JPEG": ".jpg", "PNG": ".png", "GIF": ".gif", "WebP": ".webp"}
_CHUNK_BYTES = 64 * 1024
_HTTPS = frozenset({"https"})
_WEB = frozenset({"https", "http"})
_MAX_REDIRECTS = 3


def sniff_image(head: bytes) -> str | None:
    """Name the image format of a file from its first bytes: JPEG, PNG, GIF, WebP or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    return None


#: Use no signed link (to submit an image, or to re-post one) that expires sooner than this.
LINK_MARGIN = timedelta(minutes=2)


def link_expires_within(url: str, now: datetime, margin: timedelta) -> bool:
    """True when a signed Discord CDN link (`?ex=<hex unix time>`) expires within `margin`."""
    expiry = yarl.URL(url).query.get("ex")
    try:
        return expiry is not None and int(expiry, 16) <= (now + margin).timestamp()
    except ValueError:
        return False


def is_mp4(head: bytes) -> bool:
    """True when the bytes open with an ISO base media `ftyp` box, as every mp4 does."""
    return len(head) >= 12 and head[4:8] == b"ftyp"


@dataclass(frozen=True, slots=True)
class RemoteHead:
    """The first bytes of a remote file, and its whole size when the server said it."""

    data: bytes
    size_bytes: int | None


def _total_size(resp: aiohttp.ClientResponse) -> int | None:
    """The whole file's size: `Content-Range: bytes 0-15/12345` on a range answer, else the
    body's length on a full one."""
    if resp.status == 206:
        total = resp.headers.get("Content-Range", "").rpartition("/")[2]
        return int(total) if total.isdigit() else None
    return resp.content_length


@dataclass(frozen=True, slots=True)
class DownloadedClip:
    """A clip on local disk; delete it with `discard()` once posted."""

    path: Path
    size_bytes: int
    head: bytes = b""  # the first bytes, as sniffed
    #: The size before it was re-encoded to fit an upload limit; None for the clip as made.
    reencoded_from: int | None = None

    def discard(self) -> None:
        """Remove the file, if it is still there."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


@dataclass(frozen=True, slots=True)
class SourceImage:
    """A job's input image on local disk, to be posted with its result as `filename`."""

    file: DownloadedClip
    filename: str


class ClipDownloader:
    """Downloads clips only from allowlisted hosts, streamed to disk under a size cap."""

    @classmethod
    def from_settings(cls, session: aiohttp.ClientSession, settings: Settings) -> ClipDownloader:
        """The downloader the settings describe."""
        return cls(
            session,
            allowed_hosts=settings.vibedream_output_hosts,
            require_https=settings.vibedream_output_require_https,
            max_bytes=settings.max_clip_bytes,
            directory=settings.download_dir,
        )

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        allowed_hosts: frozenset[str],
        require_https: bool,
        max_bytes: int,
        directory: Path | None = None,
        timeout_s: float = 120.0,
    ) -> None:
        self._session = session
        self._allowed_hosts = allowed_hosts
        self._require_https = require_https
        self._max_bytes = max_bytes
        self._directory = directory
        self._timeout = aiohttp.ClientTimeout(total=timeout_s, sock_read=30)

    def check_url(self, url: str) -> yarl.URL:
        """Return the parsed URL if clips may be fetched from it, else raise DownloadError."""
        schemes = _HTTPS if self._require_https else _WEB
        return _allowed_url(url, schemes, self._allowed_hosts, "VIBEDREAM_OUTPUT_HOSTS")

    async def download(self, url: str, *, max_bytes: int | None = None) -> DownloadedClip:
        """Fetch an mp4 to a temporary file; every redirect hop is checked against the allowlist.

        Raises ClipTooLargeError as soon as the clip is known to exceed `max_bytes` (default:
        the downloader's own cap), without keeping any of it.
        """
        cap = min(max_bytes or self._max_bytes, self._max_bytes)
        target = self.check_url(url)
        try:
            for _ in range(_MAX_REDIRECTS + 1):
                async with self._session.get(
                    target, allow_redirects=False, timeout=self._timeout
                ) as response:
                    if response.status in (301, 302, 303, 307, 308):
                        location = response.headers.get("Location", "")
                        target = self.check_url(str(target.join(yarl.URL(location))))
                        continue
                    if response.status != 200:
                        retryable = response.status >= 500 or response.status == 429
                        raise DownloadError(f"HTTP {response.status}", retryable=retryable)
                    return await self._save(response, cap)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise DownloadError(f"{type(exc).__name__} while downloading", retryable=True) from exc
        raise DownloadError("too many redirects")

    async def _save(self, response: aiohttp.ClientResponse, cap: int) -> DownloadedClip:
        kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if kind and kind not in CLIP_CONTENT_TYPES:
            # An HTML or JSON answer with status 200 is an error page, not a clip.
            raise DownloadError(f"content type {kind!r} is not a video")
        return await _stream_to_file(
            response, cap, suffix=".mp4", directory=self._directory, accept=is_mp4, what="mp4"
        )


class DiscordFiles:
    """Reads files Discord hosts (attachments and media-proxy images whose links Discord put
    in a payload), only from its CDN hosts, following no redirect, under a size cap."""

    @classmethod
    def from_settings(cls, session: aiohttp.ClientSession, settings: Settings) -> DiscordFiles:
        """The reader the settings describe."""
        return cls(session, hosts=settings.discord_file_hosts, directory=settings.download_dir)

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        hosts: frozenset[str],
        directory: Path | None = None,
        timeout_s: float = 60.0,
    ) -> None:
        self._session = session
        self._hosts = hosts
        self._directory = directory
        self._timeout = aiohttp.ClientTimeout(total=timeout_s, sock_read=30)

    def check_url(self, url: str) -> yarl.URL:
        """Return the parsed URL if it is on Discord's CDN, else raise DownloadError."""
        return _allowed_url(url, _WEB, self._hosts, "DISCORD_CDN_HOSTS")

    async def head(self, url: str, n: int = SNIFF_BYTES) -> RemoteHead:
        """Read the first `n` bytes of a file, asking for just that range."""
        target = self.check_url(url)
        timeout = aiohttp.ClientTimeout(total=15)
        headers = {"Range": f"bytes=0-{n - 1}"}
        try:
            async with self._session.get(
                target, headers=headers, timeout=timeout, allow_redirects=False
            ) as resp:
                if resp.status == 416:  # not even byte 0 exists: the file is empty
                    return RemoteHead(b"", 0)
                if resp.status not in (200, 206):
                    raise DownloadError(f"HTTP {resp.status}")
                head = b""  # one read() may return only part of what is asked
                while len(head) < n and (chunk := await resp.content.read(n - len(head))):
                    head += chunk
                return RemoteHead(head, _total_size(resp))
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise DownloadError(type(exc).__name__) from exc

    async def fetch(
        self, url: str, *, max_bytes: int, suffix: str, accept: Callable[[bytes], bool], what: str
    ) -> DownloadedClip:
        """Stream a file to a temporary file, under a size cap; `accept` checks its first
        bytes. Raises DownloadError (ClipTooLargeError when over the cap)."""
        target = self.check_url(url)
        try:
            # Discord's CDN answers directly; a redirect could lead anywhere, so none is followed.
            async with self._session.get(
                target, timeout=self._timeout, allow_redirects=False
            ) as response:
                if response.status != 200:
                    retryable = response.status >= 500 or response.status == 429
                    raise DownloadError(f"HTTP {response.status}", retryable=retryable)
                return await _stream_to_file(
                    response,
                    max_bytes,
                    suffix=suffix,
                    directory=self._directory,
                    accept=accept,
                    what=what,
                )
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise DownloadError(f"{type(exc).__name__} while downloading", retryable=True) from exc


def _allowed_url(
    url: str, schemes: frozenset[str], hosts: frozenset[str], setting: str
) -> yarl.URL:
    """The parsed URL if its scheme and host are allowed, else DownloadError naming `setting`."""
    parsed = yarl.URL(url)
    if parsed.scheme not in schemes:
        raise DownloadError(f"scheme {parsed.scheme!r} is not allowed")
    if (parsed.host or "").lower() not in hosts:
        raise DownloadError(f"host {parsed.host!r} is not in {setting}")
    return parsed


async def _stream_to_file(
    response: aiohttp.ClientResponse,
    cap: int,
    *,
    suffix: str,
    directory: Path | None,
    accept: Callable[[bytes], bool],
    what: str,
) -> DownloadedClip:
    """Write the body to a temporary file, stopping as soon as it passes `cap` bytes."""
    declared = response.content_length
    if declared is not None and declared > cap:
        raise ClipTooLargeError(f"file is {declared} bytes, over the {cap} byte cap")
    try:
        fd, name = tempfile.mkstemp(prefix="dl-", suffix=suffix, dir=directory)
    except OSError as exc:
        raise DownloadError(f"cannot create a temporary file: {exc}", retryable=True) from exc
    path, size = Path(name), 0
    try:
        with os.fdopen(fd, "wb") as file:
            head = b""
            async for chunk in response.content.iter_chunked(_CHUNK_BYTES):
                size += len(chunk)
                if size > cap:
                    raise ClipTooLargeError(f"file exceeds the {cap} byte cap")
                if len(head) < SNIFF_BYTES:
                    head += chunk[:SNIFF_BYTES]
                file.write(chunk)
        if declared is not None and size != declared:
            raise DownloadError(f"truncated: got {size} of {declared} bytes", retryable=True)
        if not accept(head):
            raise DownloadError(f"the file is not an {what}")
    except BaseException as exc:
        path.unlink(missing_ok=True)  # noqa: ASYNC240 - one quick syscall
        if isinstance(exc, OSError) and not isinstance(exc, TimeoutError | aiohttp.ClientError):
            raise DownloadError(f"cannot write the file: {exc}", retryable=True) from exc
        raise
    return DownloadedClip(path=path, size_bytes=size, head=head)
