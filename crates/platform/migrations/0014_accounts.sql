-- People and integrations instead of one admin token (issue 27), the audit
-- trail of every change they make, and the records' history in time order.

-- A person who logs in to the console. role: admin (the whole city),
-- operator (the lots in `lots`), auditor (reads everything, changes
-- nothing), booth (one lot). lots: a JSON array of parking codes.
-- password: an Argon2id PHC string.
CREATE TABLE accounts (
    name         TEXT PRIMARY KEY,
    role         TEXT NOT NULL,
    lots         TEXT NOT NULL,
    password     TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    changed_at   TEXT NOT NULL
);

-- A console login: the SHA-256 of the cookie's random id (the id itself is
-- never stored), the form token every POST must carry, and when it ends
-- (Unix seconds of the wall clock, whatever the platform's clock says).
CREATE TABLE console_sessions (
    id_hash      TEXT PRIMARY KEY,
    account      TEXT NOT NULL,
    csrf         TEXT NOT NULL,
    client       TEXT NOT NULL,
    created_s    BIGINT NOT NULL,
    expires_s    BIGINT NOT NULL
);
CREATE INDEX console_sessions_account ON console_sessions (account);
CREATE INDEX console_sessions_expires ON console_sessions (expires_s);

-- An integration's bearer token for /api/admin/…: only its SHA-256 is kept
-- (the token is 32 random bytes, shown once).
CREATE TABLE api_tokens (
    name         TEXT PRIMARY KEY,
    role         TEXT NOT NULL,
    lots         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   TEXT NOT NULL
);

-- Every change a person or an integration made, written before the change
-- (outcome `attempted`) and completed after it (`done` or `failed`), so a
-- change cut short by a crash is still found. actor: an account name,
-- `token:<name>`, `cli` or `driver`. old_value/new_value: JSON.
CREATE TABLE audit (
    id           TEXT PRIMARY KEY,
    at           TEXT NOT NULL,
    actor        TEXT NOT NULL,
    role         TEXT NOT NULL,
    client       TEXT NOT NULL,
    kind         TEXT NOT NULL,
    parking_code TEXT NOT NULL,
    subject      TEXT NOT NULL,
    old_value    TEXT,
    new_value    TEXT,
    reason       TEXT NOT NULL,
    outcome      TEXT NOT NULL,
    detail       TEXT NOT NULL
);
CREATE INDEX audit_at ON audit (at);
CREATE INDEX audit_lot_at ON audit (parking_code, at);
CREATE INDEX audit_actor_at ON audit (actor, at);

-- The city's records in time order (the history pages and their exports
-- page through every lot at once by this key).
CREATE INDEX entries_by_time ON entries (arrive_time, parking_code, uid);
-- The revenue report reads every lot's bills of a period at once.
CREATE INDEX bills_by_time ON bills (deal_time);

-- The lot's tariff as it describes it to drivers (Qingdao's feeScale), for
-- the driver's fee page.
ALTER TABLE parking_info ADD COLUMN tariff TEXT;
