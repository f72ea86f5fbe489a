-- Bolink lots' money beyond fee queries (issue 26), and when a lot was
-- first heard from (its online rate counts from then, not from midnight).
ALTER TABLE lot_status ADD COLUMN first_seen TEXT;

-- A message about a subject (a refund's id) is looked up by its lot.
CREATE INDEX downlinks_subject ON downlinks (access_id, subject);
-- Old no-plate scans are forgotten hourly.
CREATE INDEX bolink_scans_asked ON bolink_scans (asked_ms);
-- A driver's month cards, at every lot (the renewal page).
CREATE INDEX fixed_cars_plate_only ON fixed_cars (plate_no);

-- Month-card renewals bought on the driver pages: the lot's price asked
-- (3.11 query_prodprice, trade_no = the query's request id), paid (the
-- payment's bill id is `M{trade_no}`), delivered to the lot (3.10
-- monthcard_pay) which extends the card; the city's fixed car runs until
-- end_time once paid.
CREATE TABLE card_renewals (
    trade_no     TEXT PRIMARY KEY,
    parking_code TEXT NOT NULL,
    card_id      TEXT NOT NULL,          -- the fixed car's uuid (the lot's card_id)
    plate_no     TEXT NOT NULL,
    months       BIGINT NOT NULL,
    start_time   TEXT NOT NULL,          -- the renewal runs from (the card's end, or now if lapsed)
    end_time     TEXT NOT NULL,
    price        BIGINT,                 -- fen, the lot's answer
    state        TEXT NOT NULL,          -- asked | quoted | refused | paid | delivered | failed
    errmsg       TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX card_renewals_card ON card_renewals (parking_code, card_id);
-- The recovery job looks every few seconds for renewals left quoted or failed.
CREATE INDEX card_renewals_state ON card_renewals (state);

-- The e-payments a Bolink lot says it booked on a day (2.30
-- epay_reconciliation, designed): the lot's side of the three-way check
-- for its prepayments, as uploadPayRecord is a Qingdao lot's. Replaced
-- whole at each check of that day.
CREATE TABLE lot_epay (
    parking_code TEXT NOT NULL,
    day          TEXT NOT NULL,          -- yyyy-MM-dd
    trade_no     TEXT NOT NULL,
    bill_id      TEXT NOT NULL,          -- {order_id}B{query_order_no}
    money        BIGINT NOT NULL,        -- fen paid
    refund       BIGINT NOT NULL,        -- fen given back since
    received_at  TEXT NOT NULL,
    PRIMARY KEY (parking_code, day, trade_no)
);
