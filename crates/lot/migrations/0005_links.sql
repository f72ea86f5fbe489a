-- A lot may speak several protocols at once (issue 23): each record is queued
-- once per link that carries it (`link`), and each link's sender delivers only
-- its own rows, so an outage of one never holds the other back.
ALTER TABLE outbox ADD COLUMN link TEXT NOT NULL DEFAULT 'qdpark';
CREATE INDEX outbox_link_pending ON outbox (link, delivered_ms, dead, id);

-- Cars a parking cloud put into the lot (queryAgentParkin): the cloud's
-- recordNo and the session made (or found) for it, so the stay's later
-- reports to that cloud carry its recordNo.
CREATE TABLE cloud_stays (
    record_no  TEXT PRIMARY KEY,
    uid        TEXT NOT NULL UNIQUE
);
