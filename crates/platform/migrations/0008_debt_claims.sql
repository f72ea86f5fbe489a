-- One live charge per debt (issue 21). Every path that charges — applyPayment at
-- the exit or after leaving, a prepayment of a stay's fee, a plate's arrears on
-- the driver page — claims the debts it pays in the transaction that stores the
-- charge. A debt is a lot bill ('bill' parkingCode billID) or a stay's fee
-- ('stay' parkingCode uid); an arrears charge claims each bill it settles.
-- At most one claim per debt is not released: a second path, tab or retry finds
-- the first charge instead of making another.
CREATE TABLE debt_claims (
    debt         TEXT NOT NULL,            -- 'bill\n{parkingCode}\n{billID}' | 'stay\n{parkingCode}\n{uid}'
    parking_code TEXT NOT NULL,            -- the claiming charge (payments' key; '' for arrears)
    bill_id      TEXT NOT NULL,
    amount       BIGINT NOT NULL,          -- fen of this debt the charge pays
    state        TEXT NOT NULL,            -- live (charge pending) | held (paid) | released
    notice       BIGINT,                   -- a prepayment's payResult (downlinks.request_id): once the
                                           -- lot confirmed it, fee quotes asked later count it
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (debt, parking_code, bill_id)
);
CREATE UNIQUE INDEX debt_claims_one ON debt_claims (debt) WHERE state <> 'released';
CREATE INDEX debt_claims_by_charge ON debt_claims (parking_code, bill_id);

-- The transaction number a settled bill was paid with, as its lot was told in
-- payResult: the channel's number, or OFFLINE-{parkingCode} when a booth collected it.
ALTER TABLE arrears ADD COLUMN settled_txn TEXT;
