"""Recognising files by their bytes, ClipDownloader and DiscordFiles against real HTTP
servers, and when a signed Discord link expires."""

from __future__ import annotations

import asyncio
import errno
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.errors import ClipTooLargeError, DownloadError
from bot.media.files import (
    ClipDownloader,
    DiscordFiles,
    RemoteHead,
    is_mp4,
    link_expires_within,
    sniff_image,
)
from bot.settings import Settings
from tests.fakes.fake_vibedream import FTYP_BOX, FakeVibedream
from tests.fakes.tiny_http import TinyServer

# First bytes of real files of each format.
JPEG_HEAD = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01"
PNG_HEAD = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
GIF87_HEAD = b"GIF87a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00"
GIF89_HEAD = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff"
WEBP_HEAD = b"RIFF\x24\x00\x00\x00WEBPVP8 "
WAV_HEAD = b"RIFF\x24\x00\x00\x00WAVEfmt "
MB = 1024 * 1024


@pytest.fixture
def clip_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "clips"
    folder.mkdir()
    return folder


def downloader(
    http: aiohttp.ClientSession,
    clip_dir: Path,
    *,
    hosts: frozenset[str] = frozenset({"127.0.0.1"}),
    require_https: bool = False,
    max_bytes: int = 10 * MB,
) -> ClipDownloader:
    return ClipDownloader(
        http,
        allowed_hosts=hosts,
        require_https=require_https,
        max_bytes=max_bytes,
        directory=clip_dir,
        timeout_s=10,
    )


def discord_files(http: aiohttp.ClientSession, directory: Path | None = None) -> DiscordFiles:
    """A reader that takes the local test servers for Discord's CDN."""
    return DiscordFiles(http, hosts=frozenset({"127.0.0.1"}), directory=directory)


async def clip_url(fake: FakeVibedream, http: aiohttp.ClientSession) -> str:
    """Submit to the fake, finish the prediction at once and return its output URL."""
    fake.hold()
    async with http.post(
        f"{fake.base_url}/models/seedance-1.5-pro-i2v/generate",
        json={"prompt": "The cat blinks", "image": "https://example.com/cat.png"},
        headers={"Authorization": f"Bearer {fake.api_key}"},
    ) as response:
        prediction_id = (await response.json())["id"]
    outputs = fake.complete_now(prediction_id).outputs
    assert outputs is not None
    return outputs[0]


def asset_requests(fake: FakeVibedream) -> list[int]:
    """Statuses the fake answered on its clip route, in order."""
    return [r.status for r in fake.requests if r.route == "asset"]


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def mp4_bytes(size: int) -> bytes:
    return FTYP_BOX + bytes(size - len(FTYP_BOX))


# Sniffing --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (JPEG_HEAD, "JPEG"),
        (PNG_HEAD, "PNG"),
        (GIF87_HEAD, "GIF"),
        (GIF89_HEAD, "GIF"),
        (WEBP_HEAD, "WebP"),
    ],
)
def test_sniff_image_names_each_accepted_format(head: bytes, expected: str) -> None:
    assert sniff_image(head) == expected


@pytest.mark.parametrize(
    "head",
    [
        b"",
        WAV_HEAD,  # RIFF, but audio
        b"BM6\x0c\x00\x00\x00\x00\x00\x006\x00\x00\x00(\x00",  # BMP
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0",
        b"<!DOCTYPE html><html>",
        FTYP_BOX[:16],
        b"\x89PNG\r\n",  # cut short
    ],
)
def test_sniff_image_rejects_other_bytes(head: bytes) -> None:
    assert sniff_image(head) is None


def test_is_mp4_recognises_an_ftyp_box() -> None:
    assert is_mp4(FTYP_BOX)


@pytest.mark.parametrize("head", [b"", FTYP_BOX[:11], PNG_HEAD, b"\x00\x00\x00\x18moov\x00\x00"])
def test_is_mp4_rejects_other_bytes(head: bytes) -> None:
    assert not is_mp4(head)


# Downloads from the fake video API -------------------------------------------------------------


async def test_download_saves_the_whole_clip_to_a_temp_file(
    fake_api: FakeVibedream, http: aiohttp.ClientSession, clip_dir: Path
) -> None:
    fake_api.clip_bytes = 300 * 1024
    url = await clip_url(fake_api, http)

    clip = await downloader(http, clip_dir).download(url)

    assert clip.path.parent == clip_dir
    assert clip.size_bytes == 300 * 1024
    assert clip.path.stat().st_size == 300 * 1024
    assert clip.path.read_bytes()[:24] == FTYP_BOX


async def test_discard_removes_the_downloaded_file(
    fake_api: FakeVibedream, http: aiohttp.ClientSession, clip_dir: Path
) -> None:
    clip = await downloader(http, clip_dir).download(await clip_url(fake_api, http))

    clip.discard()
    clip.discard()  # a second call is harmless

    assert files_in(clip_dir) == []


async def test_download_from_a_host_not_in_the_allowlist_sends_nothing(
    fake_api: FakeVibedream, http: aiohttp.ClientSession, clip_dir: Path
) -> None:
    url = await clip_url(fake_api, http)  # on 127.0.0.1, which is not allowed below
    clips = downloader(http, clip_dir, hosts=frozenset({"assets.vibedream.ai"}))

    with pytest.raises(DownloadError, match=r"127\.0\.0\.1"):
        await clips.download(url)

    assert asset_requests(fake_api) == []


async def test_download_over_plain_http_is_refused_when_https_is_required(
    fake_api: FakeVibedream, http: aiohttp.ClientSession, clip_dir: Path
) -> None:
    url = await clip_url(fake_api, http)

    with pytest.raises(DownloadError, match="scheme 'http'"):
        await downloader(http, clip_dir, require_https=True).download(url)

    assert asset_requests(fake_api) == []


async def test_redirect_to_a_host_not_in_the_allowlist_is_not_followed(
    fake_api: FakeVibedream, http: aiohttp.ClientSession, clip_dir: Path
) -> None:
    url = await clip_url(fake_api, http)
    # Same server under another name: following the redirect would show up as a request.
    fake_api.redirect_assets_to = url.replace("127.0.0.1", "localhost")

    with pytest.raises(DownloadError, match="localhost"):
        await downloader(http, clip_dir).download(url)

    assert asset_requests(fake_api) == [302]
    assert files_in(clip_dir) == []


async def test_redirect_to_an_allowed_host_is_followed(
    fake_api: FakeVibedream, http: aiohttp.ClientSession, clip_dir: Path
) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=mp4_bytes(4096), content_type="video/mp4")

    url = await clip_url(fake_api, http)
    async with TinyServer(handler) as mirror:
        fake_api.redirect_assets_to = mirror.url("/mirror/clip.mp4")
        clip = await downloader(http, clip_dir).download(url)

    assert clip.size_bytes == 4096
    assert [r.path for r in mirror.requests] == ["/mirror/clip.mp4"]


async def test_endless_redirects_are_given_up(
    fake_api: FakeVibedream, http: aiohttp.ClientSession, clip_dir: Path
) -> None:
    url = await clip_url(fake_api, http)
    fake_api.redirect_assets_to = url  # points at itself

    with pytest.raises(DownloadError, match="too many redirects"):
        await downloader(http, clip_dir).download(url)

    assert asset_requests(fake_api) == [302] * 4


async def test_clip_over_the_cap_is_refused_and_nothing_is_kept(
    fake_api: FakeVibedream, http: aiohttp.ClientSession, clip_dir: Path
) -> None:
    fake_api.clip_bytes = 200 * 1024
    url = await clip_url(fake_api, http)

    with pytest.raises(ClipTooLargeError):
        await downloader(http, clip_dir).download(url, max_bytes=100 * 1024)

    assert files_in(clip_dir) == []


async def test_a_per_call_cap_cannot_raise_the_downloaders_own_cap(
    fake_api: FakeVibedream, http: aiohttp.ClientSession, clip_dir: Path
) -> None:
    fake_api.clip_bytes = 200 * 1024
    url = await clip_url(fake_api, http)

    with pytest.raises(ClipTooLargeError):
        await downloader(http, clip_dir, max_bytes=100 * 1024).download(url, max_bytes=MB)


async def test_clip_of_exactly_the_cap_is_accepted(
    fake_api: FakeVibedream, http: aiohttp.ClientSession, clip_dir: Path
) -> None:
    fake_api.clip_bytes = 100 * 1024
    url = await clip_url(fake_api, http)

    clip = await downloader(http, clip_dir).download(url, max_bytes=100 * 1024)

    assert clip.size_bytes == 100 * 1024


async def test_server_error_on_the_clip_is_a_retryable_download_error(
    fake_api: FakeVibedream, http: aiohttp.ClientSession, clip_dir: Path
) -> None:
    url = await clip_url(fake_api, http)
    fake_api.fail_next("asset", 503)

    with pytest.raises(DownloadError) as caught:
        await downloader(http, clip_dir).download(url)

    assert caught.value.retryable


async def test_missing_clip_is_a_final_download_error(
    fake_api: FakeVibedream, http: aiohttp.ClientSession, clip_dir: Path
) -> None:
    url = await clip_url(fake_api, http)

    with pytest.raises(DownloadError, match="HTTP 404") as caught:
        await downloader(http, clip_dir).download(url.replace(".mp4", "-missing.mp4"))

    assert not caught.value.retryable


# Downloads from servers that misbehave ---------------------------------------------------------


async def test_clip_without_declared_length_is_cut_off_at_the_cap_and_not_kept(
    http: aiohttp.ClientSession, clip_dir: Path
) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "video/mp4"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for _ in range(8):
            await response.write(mp4_bytes(64 * 1024))
        await response.write_eof()
        return response

    async with TinyServer(handler) as server:
        clips = downloader(http, clip_dir, max_bytes=200 * 1024)
        with pytest.raises(ClipTooLargeError):
            await clips.download(server.url("/clip.mp4"))

    assert files_in(clip_dir) == []


async def test_clip_declared_larger_than_the_cap_is_refused_without_reading_it(
    http: aiohttp.ClientSession, clip_dir: Path
) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "video/mp4"})
        response.content_length = 1024 * MB
        await response.prepare(request)
        await response.write(FTYP_BOX)
        await server.hang()  # the rest never comes: only the declared length can tell
        return response

    async with TinyServer(handler) as server:
        clips = ClipDownloader(
            http,
            allowed_hosts=frozenset({"127.0.0.1"}),
            require_https=False,
            max_bytes=10 * MB,
            directory=clip_dir,
            timeout_s=3,
        )
        with pytest.raises(ClipTooLargeError):
            await clips.download(server.url("/clip.mp4"))

    assert files_in(clip_dir) == []


async def test_file_that_is_not_an_mp4_is_refused_and_not_kept(
    http: aiohttp.ClientSession, clip_dir: Path
) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=b"<html>" + bytes(4096) + b"</html>", content_type="video/mp4")

    async with TinyServer(handler) as server:
        with pytest.raises(DownloadError, match="not an mp4") as caught:
            await downloader(http, clip_dir).download(server.url("/clip.mp4"))

    assert not caught.value.retryable
    assert files_in(clip_dir) == []


@pytest.mark.parametrize("content_type", ["text/html", "application/json", "image/png"])
async def test_clip_served_as_another_content_type_is_refused_unread(
    content_type: str, http: aiohttp.ClientSession, clip_dir: Path
) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=mp4_bytes(4096), content_type=content_type)

    async with TinyServer(handler) as server:
        with pytest.raises(DownloadError, match="not a video") as caught:
            await downloader(http, clip_dir).download(server.url("/clip.mp4"))

    assert not caught.value.retryable
    assert files_in(clip_dir) == []


@pytest.mark.parametrize("content_type", ["video/mp4", "application/octet-stream", None])
async def test_clip_served_as_a_video_or_plain_bytes_is_accepted(
    content_type: str | None, http: aiohttp.ClientSession, clip_dir: Path
) -> None:
    async def handler(request: web.Request) -> web.Response:
        response = web.Response(body=mp4_bytes(4096))
        if content_type is None:
            response.headers.popall("Content-Type", None)
        else:
            response.content_type = content_type
        return response

    async with TinyServer(handler) as server:
        clip = await downloader(http, clip_dir).download(server.url("/clip.mp4"))

    assert clip.size_bytes == 4096
    clip.discard()


async def test_clip_cut_short_by_the_server_is_retryable_and_not_kept(
    http: aiohttp.ClientSession, clip_dir: Path
) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "video/mp4"})
        response.content_length = 64 * 1024
        await response.prepare(request)
        await response.write(mp4_bytes(1024))
        assert request.transport is not None
        request.transport.close()  # hang up 1 KiB into a declared 64 KiB
        return response

    async with TinyServer(handler) as server:
        with pytest.raises(DownloadError) as caught:
            await downloader(http, clip_dir).download(server.url("/clip.mp4"))

    assert caught.value.retryable
    assert files_in(clip_dir) == []


# DiscordFiles.head ----------------------------------------------------------------------------


async def test_head_returns_only_the_first_bytes(
    fake_api: FakeVibedream, http: aiohttp.ClientSession
) -> None:
    url = await clip_url(fake_api, http)

    head = await discord_files(http).head(url, 16)

    assert head.data == FTYP_BOX[:16]
    assert head.size_bytes == 64 * 1024  # the whole clip's size, from Content-Range


async def test_head_asks_for_just_that_range(
    fake_api: FakeVibedream, http: aiohttp.ClientSession
) -> None:
    url = await clip_url(fake_api, http)

    await discord_files(http).head(url, 16)

    (asset,) = [r for r in fake_api.requests if r.route == "asset"]
    assert asset.headers["Range"] == "bytes=0-15"


async def test_head_of_a_missing_file_is_a_download_error(
    fake_api: FakeVibedream, http: aiohttp.ClientSession
) -> None:
    with pytest.raises(DownloadError, match="HTTP 404"):
        await discord_files(http).head(f"{fake_api.origin}/outputs/nope/0-0.mp4")


async def test_head_of_an_empty_file_is_empty(http: aiohttp.ClientSession) -> None:
    async def empty(request: web.Request) -> web.Response:
        # What a server answers a range request on a zero-byte file.
        return web.Response(status=416, headers={"Content-Range": "bytes */0"})

    async with TinyServer(empty) as server:
        assert await discord_files(http).head(server.url("/empty.png")) == RemoteHead(b"", 0)


async def test_head_waits_for_all_first_bytes_when_they_arrive_in_pieces(
    http: aiohttp.ClientSession,
) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "image/webp"})
        await response.prepare(request)
        await response.write(WEBP_HEAD[:4])
        # The rest comes in a later packet; the client has already seen the first four bytes.
        await asyncio.sleep(0.05)
        await response.write(WEBP_HEAD[4:] + bytes(64))
        await response.write_eof()
        return response

    async with TinyServer(handler) as server:
        head = await discord_files(http).head(server.url("/cat.webp"), 16)

    assert head.data == WEBP_HEAD


async def test_head_of_a_file_shorter_than_asked_returns_what_there_is(
    http: aiohttp.ClientSession,
) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "image/png"})
        await response.prepare(request)
        await response.write(PNG_HEAD[:4])
        await asyncio.sleep(0.05)
        await response.write(PNG_HEAD[4:8])
        await response.write_eof()
        return response

    async with TinyServer(handler) as server:
        reading = discord_files(http).head(server.url("/cat.png"), 16)
        head = await asyncio.wait_for(reading, timeout=5)

    assert head.data == PNG_HEAD[:8]


async def test_head_on_a_host_that_is_not_discords_sends_nothing(
    http: aiohttp.ClientSession,
) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=PNG_HEAD, content_type="image/png")

    async with TinyServer(handler) as server:
        # The same server under another name, which is not in the list.
        with pytest.raises(DownloadError, match="'localhost' is not in DISCORD_CDN_HOSTS"):
            await discord_files(http).head(server.url("/cat.png").replace("127.0.0.1", "localhost"))
        with pytest.raises(DownloadError, match="scheme 'file' is not allowed"):
            await discord_files(http).head("file:///etc/passwd")

    assert server.requests == []


async def test_head_follows_no_redirect(http: aiohttp.ClientSession) -> None:
    async def handler(request: web.Request) -> web.Response:
        if request.path == "/elsewhere.png":
            return web.Response(body=PNG_HEAD, content_type="image/png")
        return web.Response(status=302, headers={"Location": "/elsewhere.png"})

    async with TinyServer(handler) as server:
        with pytest.raises(DownloadError, match="HTTP 302"):
            await discord_files(http).head(server.url("/cat.png"))

    assert [r.path for r in server.requests] == ["/cat.png"]


# DiscordFiles.fetch ---------------------------------------------------------------------------


async def test_fetch_follows_no_redirect(http: aiohttp.ClientSession, tmp_path: Path) -> None:
    async def handler(request: web.Request) -> web.Response:
        if request.path == "/elsewhere.png":
            return web.Response(body=PNG_HEAD + bytes(64), content_type="image/png")
        return web.Response(status=302, headers={"Location": "/elsewhere.png"})

    files = discord_files(http, tmp_path)
    async with TinyServer(handler) as server:
        with pytest.raises(DownloadError, match="HTTP 302"):
            await files.fetch(
                server.url("/source.png"),
                max_bytes=1024,
                suffix=".png",
                accept=lambda head: sniff_image(head) is not None,
                what="image",
            )
        saved = await files.fetch(
            server.url("/elsewhere.png"),
            max_bytes=1024,
            suffix=".png",
            accept=lambda head: sniff_image(head) is not None,
            what="image",
        )
    assert saved.head.startswith(PNG_HEAD)
    saved.discard()
    assert os.listdir(tmp_path) == []  # the refused one left nothing behind


async def test_fetch_from_a_host_that_is_not_discords_sends_nothing(
    http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=PNG_HEAD + bytes(64), content_type="image/png")

    async with TinyServer(handler) as server:
        with pytest.raises(DownloadError, match="'localhost' is not in DISCORD_CDN_HOSTS"):
            await discord_files(http, tmp_path).fetch(
                server.url("/cat.png").replace("127.0.0.1", "localhost"),
                max_bytes=1024,
                suffix=".png",
                accept=lambda head: sniff_image(head) is not None,
                what="image",
            )

    assert server.requests == []
    assert os.listdir(tmp_path) == []


def test_discord_files_come_from_discords_cdn_or_from_the_compatible_server_in_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def settings(**env: str) -> Settings:
        for name, value in {"DISCORD_TOKEN": "x", "VIBEDREAM_API_KEY": "y", **env}.items():
            monkeypatch.setenv(name, value)
        return Settings(_env_file=None)  # type: ignore[call-arg]

    own = settings()
    custom = settings(DISCORD_API_URL="http://127.0.0.1:8123/api/v10")
    monkeypatch.delenv("DISCORD_API_URL")
    listed = settings(DISCORD_CDN_HOSTS="cdn.example.org, Media.Example.org")

    assert custom.discord_file_hosts == own.discord_file_hosts | {"127.0.0.1"}
    assert listed.discord_file_hosts == {"cdn.example.org", "media.example.org"}


# Local disk failures ---------------------------------------------------------------------------


async def test_download_into_a_missing_directory_is_retryable_and_leaves_nothing(
    fake_api: FakeVibedream, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    url = await clip_url(fake_api, http)
    missing = tmp_path / "not-there"

    with pytest.raises(DownloadError) as caught:
        await downloader(http, missing).download(url)

    assert caught.value.retryable
    assert not isinstance(caught.value, ClipTooLargeError)
    assert not missing.exists()
    assert files_in(tmp_path) == []


async def test_clip_that_cannot_be_written_is_retryable_and_not_kept(
    fake_api: FakeVibedream,
    http: aiohttp.ClientSession,
    clip_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_api.clip_bytes = 300 * 1024
    url = await clip_url(fake_api, http)
    real_fdopen = os.fdopen

    class FullDisk:
        """A file whose every write fails as on a full disk."""

        def __init__(self, file: Any) -> None:
            self._file = file

        def write(self, data: bytes) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

        def __enter__(self) -> FullDisk:
            return self

        def __exit__(self, *exc_info: object) -> None:
            self._file.close()

    def fdopen(fd: int, *args: Any, **kwargs: Any) -> Any:
        return FullDisk(real_fdopen(fd, *args, **kwargs))

    monkeypatch.setattr(os, "fdopen", fdopen)
    with pytest.raises(DownloadError, match="No space left") as caught:
        await downloader(http, clip_dir).download(url)

    assert caught.value.retryable
    assert files_in(clip_dir) == []


@pytest.mark.parametrize(
    "url",
    [
        "https://cdn.discordapp.com/attachments/1/2/cat.png?ex=6a&is=69&hm=ab",
        "https://media.discordapp.net/attachments/1/2/cat.png?ex=6a&is=69&hm=ab",
        # Where Discord's proxy serves the pictures of embeds (a pasted image link).
        "https://images-ext-1.discordapp.net/external/abc/https/example.com/pics/dog.jpg",
        "https://images-ext-2.discordapp.net/external/abc/https/example.com/pics/dog.jpg",
        "https://media.discordapp.net/external/abc/https/example.com/pics/dog.jpg",
    ],
)
def test_discords_own_file_links_are_read_with_the_default_hosts(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "x")
    monkeypatch.setenv("VIBEDREAM_API_KEY", "y")
    monkeypatch.delenv("DISCORD_API_URL", raising=False)
    monkeypatch.delenv("DISCORD_CDN_HOSTS", raising=False)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    files = DiscordFiles(None, hosts=settings.discord_file_hosts)  # type: ignore[arg-type]

    assert str(files.check_url(url)) == url
    with pytest.raises(DownloadError, match="not in DISCORD_CDN_HOSTS"):
        files.check_url(url.replace("discordapp", "discord-app"))


# link_expires_within ----------------------------------------------------------------------------

EXPIRY = 0x65A1B2C3
SIGNED = f"https://cdn.discordapp.com/attachments/1/2/cat.png?ex={EXPIRY:x}&is=65a06143&hm=ab12&"


NO_MARGIN = timedelta(0)


def at(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, UTC)


def test_signed_link_is_valid_before_its_expiry() -> None:
    assert not link_expires_within(SIGNED, at(EXPIRY - 1), NO_MARGIN)


def test_signed_link_is_expired_at_its_expiry() -> None:
    assert link_expires_within(SIGNED, at(EXPIRY), NO_MARGIN)


def test_signed_link_is_expired_after_its_expiry() -> None:
    assert link_expires_within(SIGNED, at(EXPIRY + 3600), NO_MARGIN)


def test_signed_link_counts_as_expired_within_the_margin() -> None:
    assert link_expires_within(SIGNED, at(EXPIRY - 60), timedelta(minutes=2))
    assert not link_expires_within(SIGNED, at(EXPIRY - 180), timedelta(minutes=2))


def test_expiry_is_read_as_hexadecimal() -> None:
    # Read as decimal, "65a1b2c3" would not even parse; "1000" would be 1000 s, not 4096 s.
    assert not link_expires_within("https://cdn.example.com/cat.png?ex=1000", at(2000), NO_MARGIN)


@pytest.mark.parametrize(
    "url",
    [
        "https://cdn.example.com/cat.png",
        "https://cdn.example.com/cat.png?ex=",
        "https://cdn.example.com/cat.png?ex=not-hex",
    ],
)
def test_link_without_a_readable_expiry_never_expires(url: str) -> None:
    assert not link_expires_within(url, at(4_000_000_000), NO_MARGIN)
