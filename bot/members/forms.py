"""Which image each open "Animate this image" form is for.

A form's custom id holds only a short random key: an image link is far longer than the 100
characters a custom id may have. The image is kept in the database, so a form opened before a
restart still works after it; each is given once, to the member who opened it, for 30 minutes.
Expired rows are swept whenever a form is opened or sent, and a member's own by `/usage forget`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.jobs.model import ImageInput
from bot.periods import utc_now
from bot.storage import MemberStore

#: How long an opened form stays usable.
FORM_TTL = timedelta(minutes=30)


def form_key() -> str:
    """A new form's key: random, and short enough for a custom id with its prefix."""
    return secrets.token_urlsafe(12)


class OpenForms:
    """Open forms and their images, in the store."""

    def __init__(self, store: MemberStore, *, now: Callable[[], datetime] = utc_now) -> None:
        self._store = store
        self._now = now

    async def open(self, key: str, user_id: int, image: ImageInput) -> None:
        """Remember which image the form `key` is for."""
        now = self._now()
        await self._store.save_form(key, user_id, image, now + FORM_TTL, now)

    async def take(self, key: str, user_id: int) -> ImageInput | None:
        """The form's image, once; None if unknown, expired or opened by someone else."""
        return await self._store.take_form(key, user_id, self._now())
