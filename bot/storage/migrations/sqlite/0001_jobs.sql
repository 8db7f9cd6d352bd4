-- Jobs: one row per /animate request, written before anything is sent to the API.
-- Times are UTC epoch seconds (REAL) so range queries stay cheap.
CREATE TABLE jobs (
    id                      INTEGER PRIMARY KEY AUTOINCREMENT,
    state                   TEXT    NOT NULL,
    guild_id                INTEGER,
    channel_id              INTEGER NOT NULL,
    user_id                 INTEGER NOT NULL,
    application_id          INTEGER NOT NULL,
    interaction_token       TEXT,
    interaction_expires_at  REAL    NOT NULL,
    upload_limit_bytes      INTEGER NOT NULL,
    prompt                  TEXT    NOT NULL,
    image_url               TEXT    NOT NULL,
    last_image_url          TEXT,
    duration_s              INTEGER NOT NULL,
    resolution              TEXT    NOT NULL,
    aspect_ratio            TEXT    NOT NULL,
    camera_fixed            INTEGER NOT NULL,
    seed                    INTEGER NOT NULL,
    generate_audio          INTEGER NOT NULL,
    nonce                   TEXT    NOT NULL,
    prediction_id           TEXT    UNIQUE,
    estimate_low_s          REAL,
    estimate_high_s         REAL,
    cost_cents              INTEGER NOT NULL DEFAULT 0,
    created_at              REAL    NOT NULL,
    submitted_at            REAL,
    completed_at            REAL,
    finished_at             REAL,
    output_url              TEXT,
    error                   TEXT,
    message_id              INTEGER,
    delivered_as            TEXT,
    notified                INTEGER NOT NULL DEFAULT 0,  -- 1 once the user was told the outcome
    updated_at              REAL    NOT NULL
);

-- /usage: a user's jobs by time.
CREATE INDEX jobs_by_user_time ON jobs (user_id, created_at);
-- Resume and dispatch: only jobs whose user has not yet been told the outcome,
-- a small set however large the history grows.
CREATE INDEX jobs_open ON jobs (state, user_id) WHERE notified = 0;

-- Small key/value facts about the deployment (e.g. the hash of the synced command tree).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
