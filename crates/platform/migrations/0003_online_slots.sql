-- Online status history: the 10-minute slots (heartbeat period) in which a lot was heard from.
-- The daily online rate is slots heard / 144; the spec demands at least 99 %.

CREATE TABLE online_slots (
    parking_code TEXT NOT NULL,
    slot         TEXT NOT NULL,            -- `yyyy-MM-dd HH:m0`, local time
    PRIMARY KEY (parking_code, slot)
);
