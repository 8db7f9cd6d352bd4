"""Which image each open "Animate this image" form is for.

A form's custom id holds only a short random key: an image link is far longer than the 100
characters a custom id may have. The image is kept in the database, so a form opened before a
restart still works after it; each is given once, to the member who opened it, for 30 minutes.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bot.models import ImageInput
from bot.store import Store

#: How long an opened form stays usable.
FORM_TTL = timedelta(minutes=30)


class OpenForms:
    """Open forms and their images, in the store."""

    def __init__(
        self, store: Store, *, now: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._store = store
        self._now = now

    async def open(self, user_id: int, image: ImageInput) -> str:
        """Remember the image; returns the key the form carries."""
        key = secrets.token_urlsafe(12)
        now = self._now()
        await self._store.save_form(key, user_id, image, now + FORM_TTL, now)
        return key

    async def take(self, key: str, user_id: int) -> ImageInput | None:
        """The form's image, once; None if unknown, expired or opened by someone else."""
        return await self._store.take_form(key, user_id, self._now())
