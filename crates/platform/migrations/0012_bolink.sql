-- Bolink/停车云 charging systems (issue 25).
--
-- A Bolink lot is a `lot_access` row of protocol 'bolink': its access_id is
-- the lot's `park_id`, its one parking code the city's code for it, and
-- `secret` the key its SDK signs with (the MD5 sign needs it in clear).
ALTER TABLE lot_access ADD COLUMN secret TEXT;
-- Its berths (Bolink's records carry only the free count, `empty_plot`).
ALTER TABLE lot_access ADD COLUMN berths BIGINT;

-- No-plate entries by scanning a lane's QR code (nolicence_in_park, seed
-- 3.3): each scan the platform sent, or answered from an earlier one. A
-- driver's second scan within 10 s is not sent again; within 30 s of an
-- entry it shows that entry.
CREATE TABLE bolink_scans (
    id           TEXT PRIMARY KEY,
    access_id    TEXT NOT NULL,
    channel_id   TEXT NOT NULL,
    user_id      TEXT NOT NULL,          -- the driver's cookie id, or pay_user_id
    car_number   TEXT NOT NULL,          -- the user's identity sent as the plate
    asked_at     TEXT NOT NULL,
    asked_ms     BIGINT NOT NULL,
    state        BIGINT,                 -- the lot's answer: 1 entered, 0 refused, 2 pending; NULL none yet
    errmsg       TEXT,
    plate        TEXT,                   -- the plate the lot made its order with (marker included)
    answered_at  TEXT
);
CREATE INDEX bolink_scans_user ON bolink_scans (access_id, user_id, asked_ms);
