-- What the city overview reads, kept as records are written.

-- Each lot's first berth state in each 10-minute slot of the day (`yyyy-MM-dd HH:m0`), kept beside
-- the full series as it is written (once a lot a slot): the city's occupancy through a day sums
-- these (144 a lot a day) instead of grouping every state of every lot.
CREATE TABLE berth_slots (
    parking_code TEXT NOT NULL,
    slot         TEXT NOT NULL,
    at           TEXT NOT NULL,            -- the state's own time
    occupied     BIGINT NOT NULL,          -- open berths minus free berths
    open_berths  BIGINT NOT NULL,
    PRIMARY KEY (parking_code, slot)
);
-- Covering: the day's sums read the index alone.
CREATE INDEX berth_slots_by_slot ON berth_slots (slot, occupied, open_berths);

-- Each lot's entries (not deleted), exits and exits without entry of the platform's day
-- `counted_day`, counted in the same upsert of `lot_status` the records make anyway (a record of
-- another day, e.g. a backfill, is not counted: the overview shows today only).
ALTER TABLE lot_status ADD COLUMN counted_day TEXT;
ALTER TABLE lot_status ADD COLUMN entries_today BIGINT NOT NULL DEFAULT 0;
ALTER TABLE lot_status ADD COLUMN exits_today BIGINT NOT NULL DEFAULT 0;
ALTER TABLE lot_status ADD COLUMN orphans_today BIGINT NOT NULL DEFAULT 0;
UPDATE lot_status SET counted_day = substr(last_seen, 1, 10),
    entries_today = (SELECT COUNT(*) FROM entries e WHERE e.parking_code = lot_status.parking_code
        AND e.deleted = 0 AND substr(e.arrive_time, 1, 10) = substr(lot_status.last_seen, 1, 10)),
    exits_today = (SELECT COUNT(*) FROM exits x WHERE x.parking_code = lot_status.parking_code
        AND substr(x.end_time, 1, 10) = substr(lot_status.last_seen, 1, 10)),
    orphans_today = (SELECT COUNT(*) FROM exits x WHERE x.parking_code = lot_status.parking_code
        AND x.without_entry = 1 AND substr(x.end_time, 1, 10) = substr(lot_status.last_seen, 1, 10));

-- The day's online slots of every lot read that day's range only, however long the history
-- (the key leads with parking_code). A slot row is written once a lot per 10 minutes.
CREATE INDEX online_slots_by_slot ON online_slots (slot, parking_code);
