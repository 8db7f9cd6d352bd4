-- Lineage: how a job was started and which job it was made from (Regenerate, Edit prompt,
-- Continue and Loop start a new job from a delivered one).
-- kind: 'animate', 'context', 'regenerate', 'edit', 'continue' or 'loop'.
-- parent_job_id: the job whose post's button started this one.
-- post_deleted_at: when the result post was deleted with its Delete button.
ALTER TABLE jobs ADD COLUMN kind TEXT NOT NULL DEFAULT 'animate';
ALTER TABLE jobs ADD COLUMN parent_job_id INTEGER REFERENCES jobs (id);
ALTER TABLE jobs ADD COLUMN post_deleted_at REAL;
