-- Platform -> lot messages over MQTT (spec §2.2), kept until confirmed or expired.
-- `payload` is the sealed envelope, published byte-identical on every attempt so that
-- lots deduplicate on requestId and order on its timestamp.

CREATE TABLE downlinks (
    request_id        BIGINT PRIMARY KEY,      -- requestId, echoed by the confirm call
    access_id         TEXT NOT NULL,
    parking_code      TEXT NOT NULL,
    interface         TEXT NOT NULL,           -- specialCar, fee, payResult, ...
    topic             TEXT NOT NULL,
    payload           TEXT NOT NULL,
    subject           TEXT NOT NULL,           -- the business key shown to operators (a plate)
    created_at        TEXT NOT NULL,           -- local time, yyyy-MM-dd HH:mm:ss
    created_ms        BIGINT NOT NULL,         -- Unix milliseconds, for the confirm latency
    deadline_at       TEXT NOT NULL,           -- confirm expected by (20 s specialCar, else 5 s)
    expires_at        TEXT NOT NULL,           -- retried until then, then `expired`
    state             TEXT NOT NULL,           -- queued | published | confirmed | expired
    attempts          BIGINT NOT NULL DEFAULT 0,
    next_attempt_at   TEXT NOT NULL,
    last_published_at TEXT,
    confirmed_at      TEXT,
    confirm_success   BIGINT,                  -- the lot's `success`: 1 handled, 0 failed
    confirm_ms        BIGINT                   -- created -> confirmed, milliseconds
);
CREATE INDEX downlinks_due ON downlinks (state, next_attempt_at);
CREATE INDEX downlinks_lot ON downlinks (parking_code, created_at);

-- Black/white list entries per lot (spec §5.7); the latest version of each.
CREATE TABLE list_entries (
    parking_code  TEXT NOT NULL,
    plate_no      TEXT NOT NULL,
    list_kind     BIGINT NOT NULL,             -- 0 black, 1 white
    access_id     TEXT NOT NULL,
    car_type      BIGINT NOT NULL,
    start_time    TEXT NOT NULL,
    end_time      TEXT NOT NULL,
    remark        TEXT,
    operate_time  TEXT NOT NULL,
    deleted       BIGINT NOT NULL DEFAULT 0,
    request_id    BIGINT NOT NULL,             -- the downlink carrying this version
    PRIMARY KEY (parking_code, plate_no, list_kind)
);
