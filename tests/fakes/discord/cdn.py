"""The fake CDN: user attachments, uploaded files and embed images at (signed) URLs,
served with byte ranges until their message is deleted.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes.discord.http import CDN_PREFIX, Call
from tests.fakes.discord.payloads import attachment_object, snowflake


@dataclass
class CdnFile:
    """A file the fake CDN serves at ``paths``; signed URLs need ``hm`` and an unexpired ``ex``."""

    paths: set[str]
    data: bytes
    content_type: str | None
    signature: str | None
    expires_at: int


class Cdn:
    """Files the fake serves (a part of ``FakeDiscord``)."""

    def add_attachment(
        self,
        filename: str,
        data: bytes,
        content_type: str | None = None,
        *,
        width: int | None = None,
        height: int | None = None,
        channel_id: int | None = None,
    ) -> dict[str, Any]:
        """Store bytes on the fake CDN and return a user-upload attachment object."""
        attachment_id = snowflake()
        url = self._cdn_put(attachment_id, filename, data, content_type, channel_id)
        attachment = attachment_object(
            attachment_id=attachment_id,
            filename=filename,
            size=len(data),
            url=url,
            content_type=content_type,
            width=width,
            height=height,
            ephemeral=True,
        )
        self._attachment_objects[attachment["id"]] = attachment
        return attachment

    def _cdn_put(
        self,
        attachment_id: int,
        filename: str,
        data: bytes,
        content_type: str | None,
        channel_id: int | None = None,
    ) -> str:
        """Serve ``data`` as a channel attachment; return its signed URL (valid 24 h)."""
        channel_id = channel_id or self._channel_id
        now = int(time.time())
        expires_at = now + 24 * 3600
        signature = secrets.token_hex(32)
        path = f"{CDN_PREFIX}/attachments/{channel_id}/{attachment_id}/{filename}"
        self._cdn[attachment_id] = CdnFile({path}, data, content_type, signature, expires_at)
        return f"{self.base_url}{path}?ex={expires_at:x}&is={now:x}&hm={signature}&"

    def image_embed(
        self,
        data: bytes,
        *,
        width: int,
        height: int,
        filename: str = "image.png",
        content_type: str = "image/png",
        url: str | None = None,
        unfurl: bool = False,
    ) -> dict[str, Any]:
        """An embed showing an image: ``image.url``, ``image.proxy_url``, width and height.

        ``proxy_url`` (Discord's media proxy) is served by the fake CDN, and so is ``url``
        unless given. ``unfurl=True`` gives the shape Discord makes for an image link a
        user pastes (``type: "image"``, the picture in ``thumbnail``) instead of a rich
        embed's ``image``.
        """
        media_id = snowflake()
        proxy_path = f"{CDN_PREFIX}/external/{media_id}/{filename}"
        origin_path = f"{CDN_PREFIX}/origin/{media_id}/{filename}"
        self._cdn[media_id] = CdnFile({proxy_path, origin_path}, data, content_type, None, 2**62)
        media = {
            "url": url or self.base_url + origin_path,
            "proxy_url": self.base_url + proxy_path,
            "width": width,
            "height": height,
            "content_type": content_type,
        }
        if unfurl:
            return {"type": "image", "url": media["url"], "thumbnail": media}
        return {"type": "rich", "image": media}

    async def _cdn_get(self, call: Call) -> web.Response:
        stored = self._cdn.get(call.int_param("aid"))
        query = call.request.query
        if (
            stored is None
            or call.request.path not in stored.paths
            or (
                stored.signature is not None
                and (
                    query.get("hm") != stored.signature
                    or int(query.get("ex", "0"), 16) < time.time()
                )
            )
        ):
            return web.Response(status=404, text="This content is no longer available.")
        data = stored.data
        headers = {"Accept-Ranges": "bytes"}
        content_type = stored.content_type or "application/octet-stream"
        range_header = call.request.headers.get("Range")
        if range_header is None:
            return web.Response(body=data, content_type=content_type, headers=headers)
        m = re.fullmatch(r"bytes=(\d*)-(\d*)", range_header.strip())
        total = len(data)
        if m is None or (not m[1] and not m[2]):
            return web.Response(status=416, headers={"Content-Range": f"bytes */{total}"})
        if m[1]:
            start, end = int(m[1]), min(int(m[2]) if m[2] else total - 1, total - 1)
        else:
            start, end = max(total - int(m[2]), 0), total - 1
        if start >= total or start > end:
            return web.Response(status=416, headers={"Content-Range": f"bytes */{total}"})
        headers["Content-Range"] = f"bytes {start}-{end}/{total}"
        return web.Response(
            status=206, body=data[start : end + 1], content_type=content_type, headers=headers
        )
