"""The tables as the queries see them: SQLAlchemy metadata mirroring the migrations.

The migrations (`migrations/<dialect>/NNNN_*.sql`) create and change the tables; this module
only describes them, so the store's statements render for SQLite and PostgreSQL alike. Keep the
two in step: a column added by a migration is added here too.

Times are UTC epoch seconds (REAL), so range queries stay cheap; `bot.storage.rows` converts.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

#: Stored 0/1 in SQLite, a real boolean elsewhere; never a CHECK constraint of its own.
_Flag = sa.Boolean(create_constraint=False)

#: One row per job, written before anything is sent to the video API.
jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("guild_id", sa.BigInteger),
    sa.Column("channel_id", sa.BigInteger, nullable=False),
    sa.Column("user_id", sa.BigInteger, nullable=False),
    sa.Column("application_id", sa.BigInteger, nullable=False),
    sa.Column("interaction_token", sa.Text),
    sa.Column("interaction_expires_at", sa.Float, nullable=False),
    sa.Column("upload_limit_bytes", sa.Integer, nullable=False),
    sa.Column("locale", sa.Text, nullable=False),
    sa.Column("guild_locale", sa.Text, nullable=False),
    sa.Column("prompt", sa.Text, nullable=False),
    sa.Column("image_url", sa.Text, nullable=False),
    sa.Column("last_image_url", sa.Text),
    # The video model (its id in the API) and its parameters, as JSON named like the API's.
    sa.Column("model", sa.Text, nullable=False),
    sa.Column("params", sa.Text, nullable=False),
    # Lookup keys copied from `params` (a CHECK keeps them equal): the price and ETA lookups
    # read them from their indexes alone.
    sa.Column("duration_s", sa.Integer, nullable=False),
    sa.Column("resolution", sa.Text, nullable=False),
    sa.Column("generate_audio", _Flag, nullable=False),
    sa.Column("nonce", sa.Text, nullable=False),
    sa.Column("prediction_id", sa.Text, unique=True),
    sa.Column("estimate_low_s", sa.Float),
    sa.Column("estimate_high_s", sa.Float),
    sa.Column("cost_cents", sa.Integer, nullable=False),
    sa.Column("reserved_cents", sa.Integer, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("submitted_at", sa.Float),
    sa.Column("completed_at", sa.Float),
    sa.Column("finished_at", sa.Float),
    sa.Column("output_url", sa.Text),
    sa.Column("error", sa.Text),
    sa.Column("message_id", sa.BigInteger),
    sa.Column("delivered_as", sa.Text),
    sa.Column("notified", _Flag, nullable=False),
    sa.Column("cancelled_by", sa.BigInteger),
    sa.Column("mod_log_channel_id", sa.BigInteger),
    sa.Column("mod_log_message_id", sa.BigInteger),
    sa.Column("redacted", _Flag, nullable=False),
    sa.Column("failure_kind", sa.Text),
    sa.Column("delivered_via", sa.Text),
    sa.Column("delivery_note", sa.Text),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("parent_job_id", sa.Integer, sa.ForeignKey("jobs.id")),
    sa.Column("post_deleted_at", sa.Float),
    sa.Column("updated_at", sa.Float, nullable=False),
    # The lease of a job past the queue (migration 0013): its holder, until when (by the
    # database's clock, `bot.storage.clock.db_now`), and the fencing token.
    sa.Column("owner", sa.Text),
    sa.Column("lease_until", sa.Float),
    sa.Column("epoch", sa.Integer, nullable=False),
    # Variations share one post (migration 0014): the group's first job, and the place in it.
    sa.Column("group_id", sa.Integer, sa.ForeignKey("jobs.id")),
    sa.Column("group_index", sa.Integer),
    # A draft's Render final settings, as JSON like `params` (NULL: not a draft).
    sa.Column("final_params", sa.Text),
    sa.Column("refused_input", sa.Text),
)

#: Small key/value facts about the deployment (e.g. the hash of the synced command tree).
meta = sa.Table(
    "meta",
    metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

#: One row per configured server; `config` is a GuildConfig as JSON.
guild_config = sa.Table(
    "guild_config",
    metadata,
    sa.Column("guild_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("config", sa.Text, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

guild_blocks = sa.Table(
    "guild_blocks",
    metadata,
    sa.Column("guild_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("user_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("blocked_by", sa.BigInteger, nullable=False),
    sa.Column("blocked_at", sa.Float, nullable=False),
)

#: Who changed what on a server, and when.
guild_audit = sa.Table(
    "guild_audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("guild_id", sa.BigInteger, nullable=False),
    sa.Column("actor_id", sa.BigInteger, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("at", sa.Float, nullable=False),
)

#: Members' own settings: one row per member who changed one (no row: the defaults).
user_prefs = sa.Table(
    "user_prefs",
    metadata,
    sa.Column("user_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("mention_on_done", _Flag, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

#: A member's saved defaults for the options they leave out, per server (NULL: none saved).
member_defaults = sa.Table(
    "member_defaults",
    metadata,
    sa.Column("guild_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("user_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("duration_s", sa.Integer),
    sa.Column("resolution", sa.Text),
    sa.Column("aspect_ratio", sa.Text),
    sa.Column("camera_fixed", _Flag),
    sa.Column("generate_audio", _Flag),
    sa.Column("variations", sa.Integer),
    sa.Column("updated_at", sa.Float, nullable=False),
)

#: "Animate this image" forms that are open, and the image each one is for (as JSON).
open_forms = sa.Table(
    "open_forms",
    metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("user_id", sa.BigInteger, nullable=False),
    sa.Column("image", sa.Text, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
)
