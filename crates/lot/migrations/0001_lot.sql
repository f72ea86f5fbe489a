-- The lot gateway's own state (embedded SQLite). Every change the platform must
-- hear of is written to `outbox` in the same transaction as the change itself.

CREATE TABLE sessions (
    uid          TEXT PRIMARY KEY,            -- parkingCode + entryNum + yyyyMMddHHmmssSSS
    plate_no     TEXT NOT NULL,
    plate_color  INTEGER NOT NULL,
    car_type     INTEGER NOT NULL,
    parking_type INTEGER NOT NULL,            -- 1 temporary, 2 monthly, ... (spec dictionary)
    entry_lane   TEXT NOT NULL,
    entry_time   TEXT NOT NULL,               -- local yyyy-MM-dd HH:mm:ss
    exit_lane    TEXT,
    exit_time    TEXT,
    charge_fee   INTEGER,                     -- fen
    should_pay   INTEGER,
    paid         INTEGER,
    fuzzy_exit   INTEGER NOT NULL DEFAULT 0,  -- exit matched with one OCR-confusable character
    state        TEXT NOT NULL                -- open | closed
);
CREATE INDEX sessions_open ON sessions (state, plate_no);

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    uid             TEXT,                     -- the session it belongs to (ordering key)
    interface       TEXT NOT NULL,            -- uploadCarInData, uploadCarOutData, ...
    body            TEXT NOT NULL,            -- the `data` object, JSON
    created_ms      INTEGER NOT NULL,         -- event time, Unix ms (timeliness)
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL,
    delivered_ms    INTEGER,
    dead            INTEGER NOT NULL DEFAULT 0, -- refused by the platform (resultCode 400): kept, not retried
    last_error      TEXT
);
CREATE INDEX outbox_pending ON outbox (delivered_ms, dead, id);

-- Black/white list entries from the platform's specialCar downlink.
CREATE TABLE list_entries (
    plate_no    TEXT NOT NULL,
    list_kind   INTEGER NOT NULL,             -- 0 black, 1 white
    start_time  TEXT NOT NULL,
    end_time    TEXT NOT NULL,
    remark      TEXT,
    request_id  INTEGER NOT NULL,
    PRIMARY KEY (plate_no, list_kind)
);
