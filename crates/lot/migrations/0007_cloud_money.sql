-- Money from a Bolink cloud (issue 26): refunds of online payments, and the
-- cards' monthly prices. A refund (3.23 refund_inform) is booked once, by
-- its refund number, in the transaction that lowers the bill's actual_pay
-- (a whole refund sets the bill 'refunded': the stay owes it again).
CREATE TABLE online_refunds (
    refund_no    TEXT PRIMARY KEY,
    bill_id      TEXT NOT NULL,
    fen          INTEGER NOT NULL,
    reason       TEXT,
    booked_at    TEXT NOT NULL
);

-- The monthly price of each card a Bolink cloud lists (2.33 `price`), so
-- the lot can answer the cloud's renewal price query (3.11 query_prodprice).
CREATE TABLE cloud_card_prices (
    card_id      TEXT PRIMARY KEY,       -- the lot's card id (bolink-…)
    monthly_fen  INTEGER NOT NULL
);
