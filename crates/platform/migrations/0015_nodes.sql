-- Several platform nodes on one database (issue 28).

-- Each running node, by name (`node_name`, default host:port), and when it
-- was last seen (Unix ms of its clock, every 5 s). A node starting while
-- another is alive is refused when either runs the embedded MQTT broker or
-- the database is SQLite: those are one node's.
CREATE TABLE nodes (
    name         TEXT PRIMARY KEY,
    broker       TEXT NOT NULL,
    backend      TEXT NOT NULL,
    version      TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    seen_ms      BIGINT NOT NULL
);

-- A background job one node at a time runs (the payments' recovery…):
-- held by `holder` until `until_ms`, renewed by it, taken over after.
CREATE TABLE leases (
    job          TEXT PRIMARY KEY,
    holder       TEXT NOT NULL,
    until_ms     BIGINT NOT NULL
);

-- Requests a door serves once (the cloud API's (pid, sign)), claimed before
-- they are served, by any node; forgotten after the door's window.
CREATE TABLE request_claims (
    door         TEXT NOT NULL,
    claim        TEXT NOT NULL,
    at_ms        BIGINT NOT NULL,
    PRIMARY KEY (door, claim)
);
CREATE INDEX request_claims_at ON request_claims (at_ms);
