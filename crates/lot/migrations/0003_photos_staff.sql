-- Photos taken at the lanes: the JPEG waits here until uploadPhoto delivers it
-- (the outbox row holds only the encrypted part's fields).
CREATE TABLE photos (
    photo_id    TEXT PRIMARY KEY,
    uid         TEXT NOT NULL,                -- the session
    photo_type  INTEGER NOT NULL,             -- 1 entry, 2 exit
    time        TEXT NOT NULL,                -- local yyyy-MM-dd HH:mm:ss (reconciliation counts by it)
    name        TEXT NOT NULL,
    jpeg        BLOB                          -- NULL once pruned after delivery
);
CREATE INDEX photos_by_time ON photos (time);

-- Barriers opened by staff, with their reason (audit).
CREATE TABLE manual_openings (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    lane      TEXT NOT NULL,
    time      TEXT NOT NULL,
    reason    TEXT NOT NULL,
    operator  TEXT,
    plate_no  TEXT
);

-- Small state that must survive restarts (e.g. the parking info last reported).
CREATE TABLE meta (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);

-- Why a session was closed other than at a lane (staff), and by whom.
ALTER TABLE sessions ADD COLUMN closed_note TEXT;
CREATE INDEX outbox_uid ON outbox (uid, interface);

-- Bills: what a driver paid at the lot for a session (uploadPayRecord); reconciliation counts them by deal time.
CREATE TABLE bills (
    bill_id     TEXT PRIMARY KEY,
    uid         TEXT NOT NULL,
    actual_pay  INTEGER NOT NULL,             -- fen
    deal_time   TEXT NOT NULL                 -- local yyyy-MM-dd HH:mm:ss
);
CREATE INDEX bills_by_time ON bills (deal_time);

-- Free berths are counted at every barrier decision: a covering index keeps that off the table rows.
CREATE INDEX sessions_open_type ON sessions (state, parking_type);

-- The downlink ordering rule's memory (§2.2.4): per interface + parkingCode + plate/billID, the newest
-- (timestamp, requestId) applied. Written with the change it orders, read at start-up, so a restart
-- cannot let an older message overwrite a newer one.
CREATE TABLE downlink_order (
    interface     TEXT NOT NULL,
    parking_code  TEXT NOT NULL,
    subject       TEXT NOT NULL,
    at            TEXT NOT NULL,              -- the message's timestamp, yyyy-MM-dd HH:mm:ss
    request_id    INTEGER NOT NULL,
    PRIMARY KEY (interface, parking_code, subject)
);

-- One open session per real plate, even when two lanes read it at once (cars without a plate excepted).
CREATE UNIQUE INDEX sessions_one_open_plate ON sessions (plate_no)
    WHERE state = 'open' AND plate_no NOT IN ('无车牌', '未识别');

-- outbox.dead from here on: 0 in line, 1 set aside (refused, or failing for hours), 2 set aside and since
-- re-sent by staff as a new row (POST /api/outbox/{id}/retry).
