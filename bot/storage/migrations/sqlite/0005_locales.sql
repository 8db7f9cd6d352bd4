-- The languages a job speaks: the requester's Discord locale for everything it tells them
-- (progress, result, failure reasons), and the server's for its moderation-log entry.
ALTER TABLE jobs ADD COLUMN locale TEXT NOT NULL DEFAULT 'en-US';
ALTER TABLE jobs ADD COLUMN guild_locale TEXT NOT NULL DEFAULT 'en-US';
