-- Members' own settings: one row per member who changed one (no row: the defaults).
-- notify_on_done: mention the requester on their result post, so Discord notifies them.
CREATE TABLE user_prefs (
    user_id         INTEGER PRIMARY KEY,
    notify_on_done  INTEGER NOT NULL DEFAULT 1,
    updated_at      REAL    NOT NULL
);
