-- The daily reconciliation's days (issue 28): a day stays `pending` until the
-- platform's check of it balances, and is tried again with backoff for as
-- long as it takes (the spec asks lots to retry until the day balances).
CREATE TABLE day_checks (
    check_date   TEXT PRIMARY KEY,              -- yyyy-MM-dd
    state        TEXT NOT NULL,                 -- pending | balanced
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_try     TEXT NOT NULL,                 -- local yyyy-MM-dd HH:mm:ss
    last_outcome TEXT NOT NULL DEFAULT '',      -- the last pass's marks, or why it failed
    updated_at   TEXT NOT NULL
);
CREATE INDEX day_checks_due ON day_checks (state, next_try);
