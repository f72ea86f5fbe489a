-- What the city overview reads, kept as records are written.

-- Each lot's latest berth state in each 10-minute slot of the day (`yyyy-MM-dd HH:m0`), kept beside
-- the full series as it is written: the city's occupancy through a day sums these (144 a lot a day)
-- instead of grouping every state of every lot.
CREATE TABLE berth_slots (
    parking_code TEXT NOT NULL,
    slot         TEXT NOT NULL,
    at           TEXT NOT NULL,            -- the state's own time: a later one replaces it
    occupied     BIGINT NOT NULL,          -- open berths minus free berths
    open_berths  BIGINT NOT NULL,
    PRIMARY KEY (parking_code, slot)
);
-- Covering: the day's sums read the index alone.
CREATE INDEX berth_slots_by_slot ON berth_slots (slot, occupied, open_berths);

-- Each lot's entries (not deleted), exits and exits without entry per day (yyyy-MM-dd of the
-- arrival or exit time), counted as they are written: the overview reads a row a lot, however
-- long the history.
CREATE TABLE lot_days (
    parking_code TEXT NOT NULL,
    day          TEXT NOT NULL,
    entries      BIGINT NOT NULL,
    exits        BIGINT NOT NULL,
    orphan_exits BIGINT NOT NULL,
    PRIMARY KEY (parking_code, day)
);
CREATE INDEX lot_days_by_day ON lot_days (day);

INSERT INTO lot_days (parking_code, day, entries, exits, orphan_exits)
SELECT parking_code, day, SUM(e), SUM(x), SUM(o) FROM (
    SELECT parking_code, substr(arrive_time, 1, 10) AS day, 1 AS e, 0 AS x, 0 AS o FROM entries WHERE deleted = 0
    UNION ALL
    SELECT parking_code, substr(end_time, 1, 10) AS day, 0 AS e, 1 AS x, without_entry AS o FROM exits
) counted GROUP BY parking_code, day;

-- States stored before this table existed: the latest of each slot.
INSERT INTO berth_slots (parking_code, slot, at, occupied, open_berths)
SELECT b.parking_code, substr(b.at, 1, 15) || '0', b.at, b.open_berths - b.free_berths, b.open_berths
FROM berth_states b
JOIN (SELECT parking_code, MAX(at) AS at FROM berth_states GROUP BY parking_code, substr(at, 1, 15)) latest
  ON latest.parking_code = b.parking_code AND latest.at = b.at;
