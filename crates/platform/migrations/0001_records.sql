-- onepark platform schema, version 1. Portable SQL: runs on SQLite and PostgreSQL.
-- Times are wall-clock `yyyy-MM-dd HH:mm:ss` in the configured zone (they sort as text).
-- Applied migrations are never edited; add a new file instead.

CREATE TABLE lot_access (
    access_id     TEXT PRIMARY KEY,
    public_key    TEXT NOT NULL,
    profile       TEXT NOT NULL,
    parking_codes TEXT NOT NULL,          -- JSON array of strings
    added_at      TEXT NOT NULL
);

CREATE TABLE entries (
    parking_code TEXT NOT NULL,
    uid          TEXT NOT NULL,
    access_id    TEXT NOT NULL,
    arrival_id   TEXT NOT NULL,
    plate_no     TEXT NOT NULL,
    plate_color  BIGINT NOT NULL,
    car_type     BIGINT NOT NULL,
    parking_type BIGINT NOT NULL,
    entry_num    TEXT NOT NULL,
    arrive_time  TEXT NOT NULL,
    upload_time  TEXT NOT NULL,
    received_at  TEXT NOT NULL,
    plate_valid  BIGINT NOT NULL,         -- 0 when the plate failed format checks
    deleted      BIGINT NOT NULL DEFAULT 0,
    content      TEXT NOT NULL,           -- canonical JSON without uploadTime, for idempotency
    PRIMARY KEY (parking_code, uid)
);
CREATE INDEX entries_by_arrival ON entries (parking_code, arrive_time);

-- Every uploadModifyCarInData, kept as history.
CREATE TABLE entry_changes (
    parking_code TEXT NOT NULL,
    uid          TEXT NOT NULL,
    change_no    BIGINT NOT NULL,
    operate_type BIGINT NOT NULL,         -- 0 modify, 1 delete
    received_at  TEXT NOT NULL,
    content      TEXT NOT NULL,
    PRIMARY KEY (parking_code, uid, change_no)
);

CREATE TABLE exits (
    parking_code  TEXT NOT NULL,
    uid           TEXT NOT NULL,
    access_id     TEXT NOT NULL,
    exit_id       TEXT NOT NULL,
    plate_no      TEXT NOT NULL,
    arrive_time   TEXT NOT NULL,
    end_time      TEXT NOT NULL,
    charge_fee    BIGINT NOT NULL,
    should_pay    BIGINT NOT NULL,
    upload_time   TEXT NOT NULL,
    received_at   TEXT NOT NULL,
    plate_valid   BIGINT NOT NULL,
    without_entry BIGINT NOT NULL,        -- 1 when no entry with this uid was known on arrival
    content       TEXT NOT NULL,
    PRIMARY KEY (parking_code, uid)
);
CREATE INDEX exits_by_end ON exits (parking_code, end_time);

-- Time series of berth counts (uploadParkingState and every record that carries them).
CREATE TABLE berth_states (
    parking_code TEXT NOT NULL,
    at           TEXT NOT NULL,
    total        BIGINT NOT NULL,
    open_berths  BIGINT NOT NULL,
    free_berths  BIGINT NOT NULL,
    PRIMARY KEY (parking_code, at)
);

-- Latest known state per lot.
CREATE TABLE lot_status (
    parking_code   TEXT PRIMARY KEY,
    access_id      TEXT NOT NULL,
    last_seen      TEXT NOT NULL,
    last_heartbeat TEXT,
    total          BIGINT,
    open_berths    BIGINT,
    free_berths    BIGINT,
    state_at       TEXT
);
