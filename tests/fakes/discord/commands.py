"""Application commands: bulk overwrites (global and guild), listing, and the locale rule."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tests.fakes.discord.constants import CHAT_INPUT_COMMAND, LOCALES
from tests.fakes.discord.http import Call, DiscordError
from tests.fakes.discord.payloads import snowflake


def unknown_locales(command: dict[str, Any]) -> list[str]:
    """Paths of ``*_localizations`` keys in a command (options, choices) that are no locale."""
    found: list[str] = []

    def visit(node: dict[str, Any], path: str) -> None:
        for key in ("name_localizations", "description_localizations"):
            for locale in node.get(key) or {}:
                if locale not in LOCALES:
                    found.append(f"{path}.{key}.{locale}")
        for child in ("options", "choices"):
            for index, item in enumerate(node.get(child) or []):
                visit(item, f"{path}.{child}[{index}]")

    visit(command, command.get("name", "?"))
    return found


class Commands:
    """``/applications/{id}[/guilds/{id}]/commands`` (a part of ``FakeDiscord``)."""

    @property
    def commands(self) -> list[dict[str, Any]]:
        """The command set of the most recent bulk overwrite (PUT), as echoed back."""
        return self._commands.get(self._last_command_scope, [])

    def commands_for(self, guild_id: int | None = None) -> list[dict[str, Any]]:
        """Registered commands of one scope (``None`` = global)."""
        return self._commands.get(guild_id, [])

    def _command_ref(
        self, name: str, command_type: int = CHAT_INPUT_COMMAND
    ) -> tuple[int, int | None]:
        """(command id, guild id or None) of a registered command, else a fresh id."""
        for scope in (self._guild_id, None):
            for cmd in self._commands.get(scope, []):
                if cmd["name"] == name and cmd.get("type", 1) == command_type:
                    return int(cmd["id"]), scope
        return snowflake(), None

    def _scope(self, call: Call) -> int | None:
        if call.int_param("app") != self._application_id:
            raise DiscordError(403, 50001, "Missing Access")
        gid = call.match.groupdict().get("gid")
        if gid is not None and int(gid) != self._guild_id:
            raise DiscordError(403, 50001, "Missing Access")
        return int(gid) if gid is not None else None

    async def _put_commands(self, call: Call) -> web.Response:
        scope = self._scope(call)
        if not isinstance(call.body, list):
            raise DiscordError(400, 50035, "Invalid Form Body")
        old_ids = {(c["name"], c.get("type", 1)): c["id"] for c in self._commands.get(scope, [])}
        echoed = []
        for cmd in call.body:
            if cmd.get("type") in (2, 3) and (cmd.get("description") or cmd.get("options")):
                # User and message commands take neither (docs application-commands.mdx).
                raise DiscordError(400, 50035, "Invalid Form Body")
            if bad := unknown_locales(cmd):
                self.violations.extend(f"PUT {call.record.path}: not a locale: {b}" for b in bad)
                raise DiscordError(400, 50035, "Invalid Form Body")
            out = {
                "type": 1,
                "description": "",
                "options": [],
                "nsfw": False,
                "default_member_permissions": None,
                **cmd,
            }
            perms = out["default_member_permissions"]
            out["default_member_permissions"] = None if perms is None else str(perms)
            out["id"] = old_ids.get((out["name"], out["type"])) or str(snowflake())
            out["application_id"] = str(self._application_id)
            out["version"] = str(snowflake())
            if scope is not None:
                out["guild_id"] = str(scope)
            echoed.append(out)
        self._commands[scope] = echoed
        self._last_command_scope = scope
        return self._ok(call, echoed)

    async def _get_commands(self, call: Call) -> web.Response:
        return self._ok(call, self._commands.get(self._scope(call), []))
