"""Models the API recently called unknown or unavailable (retired upstream, say): refused at
once for a while, without asking the API again, then tried again."""

from __future__ import annotations

import time
from collections.abc import Callable


class ModelAvailability:
    """Which models are marked unavailable, until when (in this process: a restart tries
    them again, which costs at most one refused submit)."""

    def __init__(self, retry_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._retry_s = retry_s
        self._clock = clock
        self._until: dict[str, float] = {}

    def mark_unavailable(self, model_id: str) -> bool:
        """Refuse `model_id` for the retry period; False if it was already marked."""
        already = self.is_unavailable(model_id)
        self._until[model_id] = self._clock() + self._retry_s
        return not already

    def is_unavailable(self, model_id: str) -> bool:
        """True while `model_id` is marked."""
        until = self._until.get(model_id)
        if until is None:
            return False
        if self._clock() >= until:
            del self._until[model_id]
            return False
        return True
