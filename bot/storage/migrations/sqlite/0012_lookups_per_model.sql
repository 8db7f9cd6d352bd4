-- The expected cost and generation time are learned per video model: each model has its own
-- price and speed, so the lookups (Store.expected_cost, Store.recent_generation_s) search the
-- model first. The indexes keep the shape of 0004 and 0008 with `model` in front; the ETA one
-- still covers its query (read from the index alone).
DROP INDEX jobs_by_price_settings;
CREATE INDEX jobs_by_price_settings
    ON jobs (model, duration_s, resolution, generate_audio, id)
    WHERE prediction_id IS NOT NULL;

DROP INDEX jobs_by_eta_settings;
CREATE INDEX jobs_by_eta_settings
    ON jobs (model, resolution, duration_s, completed_at, submitted_at, state)
    WHERE state = 'delivered';
