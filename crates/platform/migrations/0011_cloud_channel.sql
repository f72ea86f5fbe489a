-- The parking cloud's MQ channel (issue 24).
--
-- Commands to lots are downlinks of protocol 'cloudpark' (payload: the MQ
-- envelope, its uuid the requestId in 32 hex digits); `issued_by` is the pid
-- that asked, the only one who may read its answer.
ALTER TABLE downlinks ADD COLUMN issued_by TEXT;

-- Each lot's answer to a command (one per lot; a broadcast gets many), as sent.
CREATE TABLE cloud_answers (
    request_id   BIGINT NOT NULL,
    park_code    TEXT NOT NULL,
    code         BIGINT NOT NULL,           -- 1 done, 0 refused
    msg          TEXT NOT NULL,
    data_items   TEXT NOT NULL,             -- JSON array
    answered_at  TEXT NOT NULL,
    latency_ms   BIGINT NOT NULL,           -- command stored -> answer stored
    PRIMARY KEY (request_id, park_code)
);

-- What lots report besides records: alarms, manual barrier lifts, booth
-- notices, pre-entry/pre-exit bills, lot information. Keyed by the report's
-- uuid, so a report sent again is stored once.
CREATE TABLE lot_events (
    park_code    TEXT NOT NULL,
    uuid         TEXT NOT NULL,
    service_id   TEXT NOT NULL,
    kind         TEXT NOT NULL,             -- alarm | lift | notice | bill | info
    plate_no     TEXT,
    channel      TEXT,
    summary      TEXT NOT NULL,             -- one line in Chinese for operators
    content      TEXT NOT NULL,             -- the report's dataItems as received
    event_time   TEXT NOT NULL,
    received_at  TEXT NOT NULL,
    PRIMARY KEY (park_code, uuid)
);
CREATE INDEX lot_events_time ON lot_events (received_at);

-- The latest online report (2.1) and running state (2.12) of each lot.
CREATE TABLE cloud_lot_state (
    park_code    TEXT PRIMARY KEY,
    seen_at      TEXT NOT NULL,
    mac          TEXT,
    state        TEXT                       -- 2.12's dataItems, as received
);
