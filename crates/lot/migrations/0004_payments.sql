-- Online payments (spec §5.4), pay-after-leave (§5.5) and arrears (§5.6) at the lot.
-- Money is integer fen; times are local yyyy-MM-dd HH:mm:ss text.

-- A plate's pay-after-leave signing, the newest departurePayInfo (or getDeparturePayInfo).
CREATE TABLE signings (
    plate_no      TEXT PRIMARY KEY,
    plate_color   INTEGER NOT NULL,
    no_sense      INTEGER NOT NULL,
    money_limit   INTEGER NOT NULL,
    departure_pay INTEGER NOT NULL,
    request_id    INTEGER NOT NULL,
    received_at   TEXT NOT NULL
);

-- A plate's city-wide arrears, the newest overDueResult (or getOverDueResult).
CREATE TABLE arrears_notices (
    plate_no       TEXT PRIMARY KEY,
    over_due_count INTEGER,
    un_pay         INTEGER NOT NULL,
    prevent        INTEGER NOT NULL,
    request_id     INTEGER NOT NULL,
    received_at    TEXT NOT NULL
);

-- Bills the platform settles: fee quotes (uploadFee, settled by payResult),
-- no-stop deductions at the exit and pay-after-leave bills (applyPayment).
CREATE TABLE online_bills (
    bill_id      TEXT PRIMARY KEY,
    uid          TEXT NOT NULL,
    kind         TEXT NOT NULL,          -- prepay | exit | after_leave
    plate_no     TEXT NOT NULL,
    plate_color  INTEGER NOT NULL,
    arrive_time  TEXT NOT NULL,
    end_time     TEXT NOT NULL,          -- the fee was computed up to
    bill_time    TEXT NOT NULL,
    should_pay   INTEGER NOT NULL,
    state        TEXT NOT NULL,          -- open | paid | offline (collected at the booth) | void
    path         TEXT,                   -- what decided the exit: no_stop | no_stop_query | booth | after_leave
    actual_pay   INTEGER,
    discount     INTEGER,
    deal_time    TEXT,
    order_code   TEXT,
    paid_type    INTEGER,
    pay_type     INTEGER,
    settled_by   INTEGER,                -- the payResult's requestId, when one settled it
    abnormal_at  TEXT,                   -- last uploadAbnormalBill
    checked_at   TEXT,                   -- last getPayResult
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX online_bills_uid ON online_bills (uid);
CREATE INDEX online_bills_state ON online_bills (state, kind, created_at);
