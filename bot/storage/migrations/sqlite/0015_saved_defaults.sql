-- Saved defaults (issue 14): a member's own defaults for the options they leave out of
-- /animate, one row per member and server (each server has its own video model and locks).
-- NULL in a column: no default saved for that option (the server's, then the bot's decide).
-- A server's defaults and locks live in its `guild_config` JSON, which needs no migration.
CREATE TABLE member_defaults (
    guild_id        INTEGER NOT NULL,
    user_id         INTEGER NOT NULL,
    duration_s      INTEGER,
    resolution      TEXT,
    aspect_ratio    TEXT,
    camera_fixed    INTEGER CHECK (camera_fixed IN (0, 1)),
    generate_audio  INTEGER CHECK (generate_audio IN (0, 1)),
    variations      INTEGER CHECK (variations BETWEEN 1 AND 4),
    updated_at      REAL    NOT NULL,
    PRIMARY KEY (guild_id, user_id)
);

-- Honest failures: which input the video API objected to (prompt, image, last_image, output),
-- when its answer says so; NULL otherwise.
ALTER TABLE jobs ADD COLUMN refused_input TEXT;
