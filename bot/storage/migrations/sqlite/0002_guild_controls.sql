-- Community-server controls: per-guild configuration, blocks, an audit trail, spend
-- reservations, cancellation and the moderation-log post of each job.

ALTER TABLE jobs ADD COLUMN reserved_cents INTEGER NOT NULL DEFAULT 0;  -- expected cost until settled
ALTER TABLE jobs ADD COLUMN cancelled_by INTEGER;
ALTER TABLE jobs ADD COLUMN mod_log_channel_id INTEGER;
ALTER TABLE jobs ADD COLUMN mod_log_message_id INTEGER;
ALTER TABLE jobs ADD COLUMN redacted INTEGER NOT NULL DEFAULT 0;  -- prompt and links erased

-- Quotas and reports: a guild's jobs by time, and one user's jobs in a guild by time.
CREATE INDEX jobs_by_guild_time ON jobs (guild_id, created_at);
CREATE INDEX jobs_by_guild_user_time ON jobs (guild_id, user_id, created_at);

-- One row per configured guild; `config` is a GuildConfig serialised as JSON.
CREATE TABLE guild_config (
    guild_id    INTEGER PRIMARY KEY,
    config      TEXT    NOT NULL,
    updated_at  REAL    NOT NULL
);

CREATE TABLE guild_blocks (
    guild_id    INTEGER NOT NULL,
    user_id     INTEGER NOT NULL,
    reason      TEXT    NOT NULL,
    blocked_by  INTEGER NOT NULL,
    blocked_at  REAL    NOT NULL,
    PRIMARY KEY (guild_id, user_id)
);

-- Who changed what and when.
CREATE TABLE guild_audit (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id    INTEGER NOT NULL,
    actor_id    INTEGER NOT NULL,
    action      TEXT    NOT NULL,
    detail      TEXT    NOT NULL,
    at          REAL    NOT NULL
);
CREATE INDEX guild_audit_by_guild ON guild_audit (guild_id, id);
