"""Discord's rules the fake enforces on the bot: the 3 s ack window, interaction-token
expiry (401/50027), upload limits (413/40005), nonce dedupe, and the bot's permissions
on channel routes (404/10003, 403/50001, 403/50013).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from tests.fakes.discord.constants import VIEW_CHANNEL
from tests.fakes.discord.http import Call, DiscordError, invalid_webhook_token

if TYPE_CHECKING:
    from tests.fakes.discord.interactions import Interaction


class Rules:
    """Checks the route handlers apply before acting (a part of ``FakeDiscord``)."""

    def expire_token(self, token: str) -> None:
        """Make every later webhook call with this interaction token fail 401/50027."""
        self._expired_tokens.add(token)

    @staticmethod
    def _check_upload(call: Call, limit: int) -> None:
        if any(f.size > limit for f in call.files):
            raise DiscordError(413, 40005, "Request entity too large")

    def _callback_interaction(self, call: Call) -> Interaction:
        """The interaction a callback answers, within Discord's 3 s ack window.

        404/10062 if unknown, not yet sent or past the window; 400/40060 if already acked.
        """
        interaction = self._interactions.get(call.int_param("iid"))
        if (
            interaction is None
            or interaction.token != call.match["token"]
            or interaction.sent_at is None
        ):
            raise DiscordError(404, 10062, "Unknown interaction")
        if interaction.acked:
            raise DiscordError(400, 40060, "Interaction has already been acknowledged.")
        if time.monotonic() - interaction.sent_at > self.ack_deadline_s:
            raise DiscordError(404, 10062, "Unknown interaction")
        return interaction

    def _nonce_replay(
        self, channel_id: int, body: dict[str, Any], now: float
    ) -> dict[str, Any] | None:
        """The live message an earlier post made with this ``nonce``, when ``enforce_nonce``
        asks Discord to dedupe and that post is within ``nonce_window_s``."""
        nonce = body.get("nonce")
        if nonce is None or not body.get("enforce_nonce"):
            return None
        seen = self._nonces.get((channel_id, str(nonce)))
        if seen is not None and now - seen[1] <= self.nonce_window_s and seen[0] in self.messages:
            return self.messages[seen[0]]
        return None

    def _remember_nonce(
        self, channel_id: int, body: dict[str, Any], message: dict[str, Any], now: float
    ) -> None:
        """Note the message a post with a ``nonce`` made, for ``_nonce_replay``."""
        nonce = body.get("nonce")
        if nonce is not None:
            self._nonces[(channel_id, str(nonce))] = (int(message["id"]), now)

    def _webhook_interaction(self, call: Call) -> Interaction:
        """Resolve the interaction behind an application webhook route, enforcing expiry."""
        if call.int_param("app") != self._application_id:
            raise DiscordError(404, 10015, "Unknown Webhook")
        token = call.match["token"]
        interaction = self._by_token.get(token)
        if token in self._expired_tokens or interaction is None or interaction.sent_at is None:
            raise invalid_webhook_token()
        age = time.monotonic() - interaction.sent_at
        # Unacknowledged after the ack window, or older than 15 min: the token is dead (A1).
        if age > self.token_lifetime_s or (not interaction.acked and age > self.ack_deadline_s):
            raise invalid_webhook_token()
        return interaction

    def _live_channel(self, call: Call) -> int:
        """A channel the bot can see: 404/10003 if gone, 403/50001 without VIEW_CHANNEL."""
        channel_id = call.int_param("cid")
        if channel_id in self._deleted_channels or channel_id not in self._channels:
            raise DiscordError(404, 10003, "Unknown Channel")
        if not self.bot_permissions(channel_id) & VIEW_CHANNEL:
            raise DiscordError(403, 50001, "Missing Access")
        return channel_id

    def _require(self, channel_id: int, needed: int) -> None:
        if self.bot_permissions(channel_id) & needed != needed:
            raise DiscordError(403, 50013, "Missing Permissions")
