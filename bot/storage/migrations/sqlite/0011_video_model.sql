-- The video model seam: which model makes each job (its id in the API) and the options it
-- gets, as JSON named like the API's parameters, instead of one column per Seedance option:
--   {"duration": 5, "resolution": "720p", "aspect_ratio": "16:9", "camera_fixed": false,
--    "seed": 42, "generate_audio": true}
-- Every job so far was made by Seedance 1.5 Pro.
--
-- duration_s, resolution and generate_audio stay as columns, copies of `params` that a CHECK
-- keeps equal to it: the price and ETA lookups search them in their indexes, and read the ETA
-- from its index alone (SQLite does not count an index holding a generated column or an
-- expression as covering, so those would read every matching row from the table).
--
-- SQLite cannot drop columns that indexes use, so the table is rebuilt (create, copy, drop,
-- rename, then every index again). Also: the member's mention preference gets its own name.

CREATE TABLE jobs_new (
    id                      INTEGER PRIMARY KEY AUTOINCREMENT,
    state                   TEXT    NOT NULL,
    guild_id                INTEGER,
    channel_id              INTEGER NOT NULL,
    user_id                 INTEGER NOT NULL,
    application_id          INTEGER NOT NULL,
    interaction_token       TEXT,
    interaction_expires_at  REAL    NOT NULL,
    upload_limit_bytes      INTEGER NOT NULL,
    locale                  TEXT    NOT NULL DEFAULT 'en-US',
    guild_locale            TEXT    NOT NULL DEFAULT 'en-US',
    prompt                  TEXT    NOT NULL,
    image_url               TEXT    NOT NULL,
    last_image_url          TEXT,
    model                   TEXT    NOT NULL,
    params                  TEXT    NOT NULL,  -- JSON object: the model's parameters
    duration_s              INTEGER NOT NULL,
    resolution              TEXT    NOT NULL,
    generate_audio          INTEGER NOT NULL,
    nonce                   TEXT    NOT NULL,
    prediction_id           TEXT    UNIQUE,
    estimate_low_s          REAL,
    estimate_high_s         REAL,
    cost_cents              INTEGER NOT NULL DEFAULT 0,
    reserved_cents          INTEGER NOT NULL DEFAULT 0,  -- expected cost until settled
    created_at              REAL    NOT NULL,
    submitted_at            REAL,
    completed_at            REAL,
    finished_at             REAL,
    output_url              TEXT,
    error                   TEXT,
    message_id              INTEGER,
    delivered_as            TEXT,
    notified                INTEGER NOT NULL DEFAULT 0,  -- 1 once the user was told the outcome
    cancelled_by            INTEGER,
    mod_log_channel_id      INTEGER,
    mod_log_message_id      INTEGER,
    redacted                INTEGER NOT NULL DEFAULT 0,  -- prompt and links erased
    failure_kind            TEXT,
    delivered_via           TEXT,
    delivery_note           TEXT,
    kind                    TEXT    NOT NULL DEFAULT 'animate',
    parent_job_id           INTEGER REFERENCES jobs (id),
    post_deleted_at         REAL,
    updated_at              REAL    NOT NULL,
    CHECK (json_valid(params)
           AND duration_s IS json_extract(params, '$.duration')
           AND resolution IS json_extract(params, '$.resolution')
           AND generate_audio IS json_extract(params, '$.generate_audio'))
);

INSERT INTO jobs_new (
    id, state, guild_id, channel_id, user_id, application_id, interaction_token,
    interaction_expires_at, upload_limit_bytes, locale, guild_locale, prompt, image_url,
    last_image_url, model, params, duration_s, resolution, generate_audio, nonce, prediction_id,
    estimate_low_s, estimate_high_s, cost_cents, reserved_cents, created_at, submitted_at,
    completed_at, finished_at, output_url, error, message_id, delivered_as, notified,
    cancelled_by, mod_log_channel_id, mod_log_message_id, redacted, failure_kind, delivered_via,
    delivery_note, kind, parent_job_id, post_deleted_at, updated_at)
SELECT
    id, state, guild_id, channel_id, user_id, application_id, interaction_token,
    interaction_expires_at, upload_limit_bytes, locale, guild_locale, prompt, image_url,
    last_image_url, 'seedance-1.5-pro-i2v',
    json_object(
        'duration', duration_s,
        'resolution', resolution,
        'aspect_ratio', aspect_ratio,
        'camera_fixed', json(CASE WHEN camera_fixed THEN 'true' ELSE 'false' END),
        'seed', seed,
        'generate_audio', json(CASE WHEN generate_audio THEN 'true' ELSE 'false' END)),
    duration_s, resolution, CASE WHEN generate_audio THEN 1 ELSE 0 END, nonce, prediction_id,
    estimate_low_s, estimate_high_s, cost_cents, reserved_cents, created_at, submitted_at,
    completed_at, finished_at, output_url, error, message_id, delivered_as, notified,
    cancelled_by, mod_log_channel_id, mod_log_message_id, redacted, failure_kind, delivered_via,
    delivery_note, kind, parent_job_id, post_deleted_at, updated_at
FROM jobs;

-- Ids are never reused: carry on from the old table's counter, not the highest id copied.
UPDATE sqlite_sequence
SET seq = max(seq, coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'jobs'), 0))
WHERE name = 'jobs_new';

DROP TABLE jobs;
ALTER TABLE jobs_new RENAME TO jobs;

-- Every index of 0001-0010, again (DROP TABLE took them).
CREATE INDEX jobs_by_user_time ON jobs (user_id, created_at);
CREATE INDEX jobs_open ON jobs (state, user_id) WHERE notified = 0;
CREATE INDEX jobs_by_guild_time ON jobs (guild_id, created_at);
CREATE INDEX jobs_by_guild_user_time ON jobs (guild_id, user_id, created_at);
CREATE INDEX jobs_by_failure_kind ON jobs (failure_kind) WHERE failure_kind IS NOT NULL;
CREATE INDEX jobs_by_price_settings ON jobs (duration_s, resolution, generate_audio, id)
    WHERE prediction_id IS NOT NULL;
CREATE INDEX jobs_by_eta_settings
    ON jobs (resolution, duration_s, completed_at, submitted_at, state)
    WHERE state = 'delivered';
CREATE INDEX jobs_unredacted_by_time ON jobs (created_at) WHERE redacted = 0;

-- mention_on_done: mention the requester on their result post, so Discord notifies them.
ALTER TABLE user_prefs RENAME COLUMN notify_on_done TO mention_on_done;
