-- The expected generation time: the latest delivered jobs with the same resolution and duration
-- (Store.recent_generation_s), read from this index alone however large the history grows.
-- `state` is repeated as a column only so that SQLite sees the index covers the query.
CREATE INDEX jobs_by_eta_settings
    ON jobs (resolution, duration_s, completed_at, submitted_at, state)
    WHERE state = 'delivered';
