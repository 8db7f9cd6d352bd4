-- Variations: the jobs of one request (`/animate variations:N`) share one result post. Each
-- names its group's first job (`group_id`, that job's own id included) and its place in it
-- (`group_index`, from 0); the group's post uses the first job's nonce, so it posts once.
-- Drafts: `final_params` holds, as JSON text like `params`, the settings a draft's Render
-- final is made with (NULL: not a draft).
ALTER TABLE jobs ADD COLUMN group_id bigint REFERENCES jobs (id);
ALTER TABLE jobs ADD COLUMN group_index integer CHECK (group_index BETWEEN 0 AND 3);
ALTER TABLE jobs ADD COLUMN final_params text;

CREATE INDEX jobs_by_group ON jobs (group_id, group_index) WHERE group_id IS NOT NULL;
