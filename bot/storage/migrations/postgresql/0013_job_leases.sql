-- Job leases, so several bot processes can share one database and survivors finish the jobs
-- of one that died. A job past the queue belongs to the process named in `owner` until
-- `lease_until` (epoch seconds by the DATABASE's clock, never a process's); the holder renews
-- it. `epoch` is the fencing token: every claim and every takeover adds one, and every later
-- write of the job names the epoch it holds, so a process that lost the lease moves nothing.
-- Queued jobs carry no lease (whichever process has a free slot claims them).
ALTER TABLE jobs ADD COLUMN owner text;
ALTER TABLE jobs ADD COLUMN lease_until double precision;
ALTER TABLE jobs ADD COLUMN epoch integer NOT NULL DEFAULT 0;

-- Jobs open at the upgrade were left by a bot without leases: an expired lease makes them the
-- first process's to take over, by the same rules as a restart.
UPDATE jobs SET lease_until = 0 WHERE notified = 0 AND state <> 'queued';

-- The takeover sweep (expired leases of open jobs) and each process's renewal read the open
-- set only.
CREATE INDEX jobs_leases ON jobs (lease_until) WHERE notified = 0;
