-- The daily retention purge (Store.redact_before) reads only the jobs it still has to erase,
-- instead of scanning the whole table: erased jobs leave this index.
CREATE INDEX jobs_unredacted_by_time ON jobs (created_at) WHERE redacted = 0;
