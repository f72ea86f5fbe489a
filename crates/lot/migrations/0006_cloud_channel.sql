-- The parking cloud's MQ channel (issue 24).

-- Commands received, by uuid, with the answer sent: the same uuid again is
-- answered with it and never applied twice.
CREATE TABLE cloud_commands (
    uuid         TEXT PRIMARY KEY,
    service_id   TEXT NOT NULL,
    action       TEXT,
    received_at  TEXT NOT NULL,
    answer       TEXT                        -- the answer's JSON; NULL while being applied
);

-- Reports to the cloud over MQ (manual lifts, alarms): published until the
-- cloud acknowledges their uuid.
CREATE TABLE cloud_reports (
    uuid         TEXT PRIMARY KEY,
    service_id   TEXT NOT NULL,
    payload      TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    acked_at     TEXT
);
CREATE INDEX cloud_reports_pending ON cloud_reports (acked_at, created_at);

-- Plates locked by their owners (3.11): refused at the exit until unlocked.
CREATE TABLE plate_locks (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    plate_no     TEXT NOT NULL UNIQUE,
    locker       TEXT NOT NULL,
    lock_time    TEXT NOT NULL,
    remark       TEXT
);

-- Visitor reservations (3.14): a plate admitted in its window, free or charged.
CREATE TABLE visitors (
    pass_code      TEXT PRIMARY KEY,
    plate_no       TEXT NOT NULL,
    arrive_time    TEXT NOT NULL,
    leave_time     TEXT NOT NULL,
    business_type  INTEGER NOT NULL,         -- 1 visitor, 2 shared parking, 3 registered entry
    booked         INTEGER NOT NULL,         -- 1 booked, 0 cancelled
    car_sub_type   INTEGER NOT NULL,         -- 11-17: parks free; else charged as a temporary car
    times_limit    INTEGER NOT NULL,         -- entries allowed, -1 unlimited
    used           INTEGER NOT NULL DEFAULT 0,
    channel        TEXT,
    remark         TEXT
);
CREATE INDEX visitors_plate ON visitors (plate_no);

-- A blacklist entry the cloud manages (3.15) keeps its uuid.
ALTER TABLE list_entries ADD COLUMN cloud_uuid TEXT;

-- The remaining spaces the cloud set (3.22), shown on the entry screens instead of the count.
CREATE TABLE cloud_settings (
    name   TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
