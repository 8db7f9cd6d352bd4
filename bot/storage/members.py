"""A member's own things: the mention preference, open forms, their history pages and
choices, and forgetting (a member's request, or the retention purge)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import TypeAdapter
from sqlalchemy import bindparam, func

from bot.jobs.model import ImageInput, Job, OptionDefaults
from bot.members.model import HistoryPage, MemberDefaults
from bot.storage import rows
from bot.storage.database import Database
from bot.storage.schema import jobs, member_defaults, open_forms, user_prefs

j = jobs.c
#: An open form's image, as stored in `open_forms.image`.
_IMAGE_JSON = TypeAdapter(ImageInput)

_MENTION = sa.select(user_prefs.c.mention_on_done).where(user_prefs.c.user_id == bindparam("user"))

_DEFAULTS = sa.select(member_defaults).where(
    member_defaults.c.guild_id == bindparam("guild"),
    member_defaults.c.user_id == bindparam("user"),
)

_DROP_EXPIRED_FORMS = sa.delete(open_forms).where(open_forms.c.expires_at <= bindparam("now"))
_INSERT_FORM = sa.insert(open_forms)
_TAKE_FORM = (
    sa.delete(open_forms)
    .where(
        open_forms.c.key == bindparam("key"),
        open_forms.c.user_id == bindparam("user"),
        open_forms.c.expires_at > bindparam("now"),
    )
    .returning(open_forms.c.image)
)
_DROP_USERS_FORMS = sa.delete(open_forms).where(open_forms.c.user_id == bindparam("user"))

# History: keyset paging along `jobs_by_guild_user_time` (its rows end in the id). A page starts
# at its neighbour's key, so jobs started meanwhile shift no page, and no page re-reads the ones
# before it.
_MINE = sa.and_(j.guild_id == bindparam("guild"), j.user_id == bindparam("user"))
_page_key = sa.tuple_(j.created_at, j.id)
_cursor_job = jobs.alias("cursor_job")
_CURSOR_KEY = sa.tuple_(
    sa.select(_cursor_job.c.created_at)
    .where(_cursor_job.c.id == bindparam("cursor"))
    .scalar_subquery(),
    bindparam("cursor"),
)
_NEWEST = sa.select(jobs).where(_MINE).order_by(j.created_at.desc(), j.id.desc())
_PAGE_NEWEST = _NEWEST.limit(bindparam("size"))
_PAGE_OLDER = _NEWEST.where(_page_key < _CURSOR_KEY).limit(bindparam("size"))
_PAGE_NEWER = (
    sa.select(jobs)
    .where(_MINE, _page_key > _CURSOR_KEY)
    .order_by(j.created_at, j.id)
    .limit(bindparam("size"))
)
_COUNT_NEWER = sa.select(func.count()).where(
    _MINE, _page_key > sa.tuple_(bindparam("at"), bindparam("id"))
)
_COUNT_ALL = sa.select(func.count()).where(_MINE)
# Autocomplete: "\" escapes the wildcards typed by the member.
_CHOICES = _NEWEST.where(
    sa.cast(j.id, sa.Text).like(bindparam("id_pattern"), escape="\\"),
    j.prompt.ilike(bindparam("text_pattern"), escape="\\"),
).limit(bindparam("limit"))

# Erasing keeps counts, durations and costs, so quotas and totals remain true. Only finished
# jobs whose requester was told, and not yet erased (the partial index `jobs_unredacted_by_time`
# holds exactly those, so the daily purge does not scan the table).
_REDACT = sa.update(jobs).values(
    prompt="", image_url="", last_image_url=None, output_url=None, redacted=True
)
_REDACTABLE = sa.and_(j.notified == True, j.redacted == False)  # noqa: E712 - renders `= 1`, `= 0`
_REDACT_USER = _REDACT.where(j.user_id == bindparam("user"), _REDACTABLE)
_REDACT_BEFORE = _REDACT.where(j.created_at < bindparam("cutoff"), _REDACTABLE)


class SqlMembers:
    """`MemberStore` over a `Database`."""

    _db: Database

    async def mention_on_done(self, user_id: int) -> bool:
        """Whether the member wants to be mentioned on their result posts (default yes)."""
        enabled = await self._db.value(_MENTION, {"user": user_id})
        return True if enabled is None else bool(enabled)

    async def set_mention_on_done(self, user_id: int, enabled: bool, now: datetime) -> None:
        """Turn the mention on the member's result posts on or off."""
        await self._db.upsert(
            user_prefs,
            ("user_id",),
            {"user_id": user_id, "mention_on_done": enabled, "updated_at": rows.ts(now)},
        )

    async def member_defaults(self, guild_id: int, user_id: int) -> MemberDefaults:
        """The member's saved defaults on a server (none saved: all None)."""
        row = await self._db.row(_DEFAULTS, {"guild": guild_id, "user": user_id})
        if row is None:
            return MemberDefaults()
        return MemberDefaults(
            options=OptionDefaults(
                duration_s=row.duration_s,
                resolution=row.resolution,
                aspect_ratio=row.aspect_ratio,
                camera_fixed=None if row.camera_fixed is None else bool(row.camera_fixed),
                generate_audio=None if row.generate_audio is None else bool(row.generate_audio),
            ),
            variations=row.variations,
        )

    async def set_member_defaults(
        self, guild_id: int, user_id: int, defaults: MemberDefaults, now: datetime
    ) -> None:
        """Save the member's defaults on a server, replacing what was saved."""
        o = defaults.options
        await self._db.upsert(
            member_defaults,
            ("guild_id", "user_id"),
            {
                "guild_id": guild_id,
                "user_id": user_id,
                "duration_s": o.duration_s,
                "resolution": o.resolution,
                "aspect_ratio": o.aspect_ratio,
                "camera_fixed": o.camera_fixed,
                "generate_audio": o.generate_audio,
                "variations": defaults.variations,
                "updated_at": rows.ts(now),
            },
        )

    async def save_form(
        self, key: str, user_id: int, image: ImageInput, expires_at: datetime, now: datetime
    ) -> None:
        """Remember which image the form `key` is for; forms past their time are dropped."""
        await self._db.write(_DROP_EXPIRED_FORMS, {"now": rows.ts(now)})
        await self._db.write(
            _INSERT_FORM,
            {
                "key": key,
                "user_id": user_id,
                "image": _IMAGE_JSON.dump_json(image).decode(),
                "expires_at": rows.ts(expires_at),
            },
        )

    async def take_form(self, key: str, user_id: int, now: datetime) -> ImageInput | None:
        """The image of the form `key`, once, to the member who opened it while it lasts;
        forms past their time are dropped."""
        await self._db.write(_DROP_EXPIRED_FORMS, {"now": rows.ts(now)})
        image = await self._db.value(_TAKE_FORM, {"key": key, "user": user_id, "now": rows.ts(now)})
        return None if image is None else _IMAGE_JSON.validate_json(image)

    async def history_page(
        self, guild_id: int, user_id: int, *, size: int, before: int | None, after: int | None
    ) -> HistoryPage:
        """A page of `size` of a member's jobs on a server, newest first: the newest, or those
        just older than job `before`, or those just newer than job `after`."""
        mine: dict[str, Any] = {"guild": guild_id, "user": user_id}
        paging = {**mine, "size": size, "cursor": before or after}
        if after is not None:
            found = await self._db.rows(_PAGE_NEWER, paging)
            found.reverse()
        elif before is not None:
            found = await self._db.rows(_PAGE_OLDER, paging)
        else:
            found = await self._db.rows(_PAGE_NEWEST, paging)
        newer = 0
        if found:
            top = found[0]
            newer = await self._db.value(_COUNT_NEWER, {**mine, "at": top.created_at, "id": top.id})
        total = await self._db.value(_COUNT_ALL, mine)
        return HistoryPage(tuple(rows.job(r) for r in found), int(newer), int(total))

    async def job_choices(
        self, guild_id: int, user_id: int, *, id_prefix: str, text: str, limit: int
    ) -> list[Job]:
        """A member's newest jobs on a server whose id starts with `id_prefix` and whose
        prompt contains `text` (any case); empty strings match everything."""
        found = await self._db.rows(
            _CHOICES,
            {
                "guild": guild_id,
                "user": user_id,
                "id_pattern": _escape_like(id_prefix) + "%",
                "text_pattern": "%" + _escape_like(text) + "%",
                "limit": limit,
            },
        )
        return [rows.job(row) for row in found]

    async def redact_user(self, user_id: int) -> int:
        """Erase the prompts and links of a user's finished jobs, and drop their open forms;
        returns how many jobs."""
        await self._db.write(_DROP_USERS_FORMS, {"user": user_id})
        return await self._db.write(_REDACT_USER, {"user": user_id})

    async def redact_before(self, cutoff: datetime) -> int:
        """Erase the prompts and links of finished jobs created before `cutoff`."""
        return await self._db.write(_REDACT_BEFORE, {"cutoff": rows.ts(cutoff)})


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
