-- "Animate this image" forms that are open: which image each one is for. The form's custom id
-- carries only `key` (an image link is far longer than a custom id may be), so the image is
-- kept here, where a form opened before a restart still finds it. Rows are taken once, and
-- dropped once past `expires_at`.
CREATE TABLE open_forms (
    key         TEXT    PRIMARY KEY,
    user_id     INTEGER NOT NULL,
    image       TEXT    NOT NULL,  -- the image as Discord described it, as JSON
    expires_at  REAL    NOT NULL
);
CREATE INDEX open_forms_by_expiry ON open_forms (expires_at);
