-- Faults an admin may need to see, kept apart from the user-facing `error` text.
-- failure_kind: why a failed job failed when it needs attention ('submit_unknown': the API may
--   have made and charged a prediction we never heard of; 'undeliverable': nowhere to post).
-- delivered_via / delivery_note: set when the result went out by an interaction followup or
--   a DM instead of the channel post, and why ('channel post refused: 403 ...').
ALTER TABLE jobs ADD COLUMN failure_kind TEXT;
ALTER TABLE jobs ADD COLUMN delivered_via TEXT;
ALTER TABLE jobs ADD COLUMN delivery_note TEXT;

-- Admins look jobs up by failure kind ("which submits must I check with the API?").
CREATE INDEX jobs_by_failure_kind ON jobs (failure_kind) WHERE failure_kind IS NOT NULL;
