-- Which video model makes each job (its id in the API). Every job so far was Seedance 1.5 Pro.
ALTER TABLE jobs ADD COLUMN model TEXT NOT NULL DEFAULT 'seedance-1.5-pro-i2v';
