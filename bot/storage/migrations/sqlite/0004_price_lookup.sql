-- What the API charged for given settings (the spending-cap reservation), found without
-- scanning the history.
CREATE INDEX jobs_by_price_settings ON jobs (duration_s, resolution, generate_audio, id)
    WHERE prediction_id IS NOT NULL;
