-- Month cards: several plates per card, one of them in the lot at a time.
CREATE TABLE month_cards (
    id          TEXT PRIMARY KEY,
    owner       TEXT NOT NULL,
    start_time  TEXT NOT NULL,              -- valid from (local yyyy-MM-dd HH:mm:ss)
    end_time    TEXT NOT NULL,              -- valid until
    lanes       TEXT NOT NULL DEFAULT '',   -- comma-separated lane ids; empty = every lane
    odd_even    INTEGER NOT NULL DEFAULT 0  -- 1: a plate ending in an odd digit may enter on odd days only, even on even
);
CREATE TABLE month_card_plates (
    plate_no  TEXT PRIMARY KEY,
    card_id   TEXT NOT NULL REFERENCES month_cards (id) ON DELETE CASCADE
);
ALTER TABLE sessions ADD COLUMN card_id TEXT;
