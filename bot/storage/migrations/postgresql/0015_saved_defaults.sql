-- Saved defaults (issue 14): a member's own defaults for the options they leave out of
-- /animate, one row per member and server (each server has its own video model and locks).
-- NULL in a column: no default saved for that option (the server's, then the bot's decide).
-- A server's defaults and locks live in its `guild_config` JSON, which needs no migration.
-- Flags are integer 0/1 like SQLite's, so the statements stay the same.
CREATE TABLE member_defaults (
    guild_id        bigint  NOT NULL,
    user_id         bigint  NOT NULL,
    duration_s      integer,
    resolution      text,
    aspect_ratio    text,
    camera_fixed    integer CHECK (camera_fixed IN (0, 1)),
    generate_audio  integer CHECK (generate_audio IN (0, 1)),
    variations      integer CHECK (variations BETWEEN 1 AND 4),
    updated_at      double precision NOT NULL,
    PRIMARY KEY (guild_id, user_id)
);

-- Honest failures: which input the video API objected to (prompt, image, last_image, output),
-- when its answer says so; NULL otherwise.
ALTER TABLE jobs ADD COLUMN refused_input text;
