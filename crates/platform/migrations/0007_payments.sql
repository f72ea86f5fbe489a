-- Payments (spec §5.4), pay-after-leave (§5.5) and city-wide arrears (§5.6).
-- Money is integer fen; times are local yyyy-MM-dd HH:mm:ss text.

-- A confirm with success:false is a refusal, kept with the lot's reason (state 'refused').
ALTER TABLE downlinks ADD COLUMN confirm_reason TEXT;

-- Where a plate is: the driver page asks the lot the car is in for its fee.
CREATE INDEX entries_by_plate ON entries (plate_no, arrive_time);

-- Drivers' sign-ups (the driver page), one per plate: no-stop deduction at the
-- exit (applyPayment charges the account) and pay-after-leave with its limit.
CREATE TABLE signups (
    plate_no     TEXT PRIMARY KEY,
    plate_color  BIGINT NOT NULL,
    no_stop      BIGINT NOT NULL,          -- 1: applyPayment may charge
    after_leave  BIGINT NOT NULL,          -- 1: departurePay = 1 (先离场后付费)
    money_limit  BIGINT NOT NULL,          -- fen: moneyLimit pushed to lots
    channel      TEXT NOT NULL,
    contract_id  TEXT NOT NULL,            -- the channel's contract
    updated_at   TEXT NOT NULL
);

-- Fee queries: the `fee` downlink (its requestId) and the lot's uploadFee answer.
CREATE TABLE fee_quotes (
    request_id   BIGINT PRIMARY KEY,
    parking_code TEXT NOT NULL,
    plate_no     TEXT NOT NULL,
    asked_at     TEXT NOT NULL,
    answered_at  TEXT,
    success      BIGINT,                   -- uploadFee's success (0: the car is not there)
    uid          TEXT,
    bill_id      TEXT,
    plate_color  BIGINT,
    arrive_time  TEXT,
    end_time     TEXT,
    bill_time    TEXT,
    should_pay   BIGINT,
    pay_status   BIGINT
);
CREATE INDEX fee_quotes_bill ON fee_quotes (parking_code, bill_id);

-- Charges through the payment channel: one per lot bill (parking_code, bill_id);
-- arrears payments, which settle bills of several lots, have parking_code ''.
-- `order_id` is the merchant order id the channel is idempotent on: asking again
-- after a restart or a timeout answers the same order, never a second charge.
CREATE TABLE payments (
    parking_code  TEXT NOT NULL,
    bill_id       TEXT NOT NULL,
    order_id      TEXT NOT NULL UNIQUE,
    attempt       BIGINT NOT NULL,         -- a declined charge retried later gets a new order id
    purpose       TEXT NOT NULL,           -- exit | prepay | after_leave | arrears
    uid           TEXT NOT NULL,
    plate_no      TEXT NOT NULL,
    plate_color   BIGINT NOT NULL,
    arrive_time   TEXT NOT NULL,
    end_time      TEXT NOT NULL,
    bill_time     TEXT NOT NULL,
    should_pay    BIGINT NOT NULL,
    discount      BIGINT NOT NULL,
    actual_pay    BIGINT,                  -- charged, once paid
    state         TEXT NOT NULL,           -- pending | paid | declined | refunded
    channel       TEXT NOT NULL,
    txn_id        TEXT,                    -- the channel's number: orderCode on the wire
    paid_type     BIGINT,
    pay_type      BIGINT NOT NULL,         -- 付费场景 (§7)
    deal_time     TEXT,
    reason        TEXT,                    -- declined: the channel's code and text
    refunded      BIGINT NOT NULL DEFAULT 0,
    refund_reason TEXT,
    notifications BIGINT NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (parking_code, bill_id)
);
CREATE INDEX payments_by_plate ON payments (plate_no, created_at);
CREATE INDEX payments_by_day ON payments (parking_code, bill_time);
CREATE INDEX payments_pending ON payments (state, updated_at);

-- Unpaid bills per plate across every lot: pay-after-leave charges that were
-- declined and bills a lot reported unpaid for over 3 h (uploadAbnormalBill).
CREATE TABLE arrears (
    parking_code TEXT NOT NULL,
    bill_id      TEXT NOT NULL,
    plate_no     TEXT NOT NULL,
    plate_color  BIGINT NOT NULL,
    uid          TEXT NOT NULL,
    arrive_time  TEXT NOT NULL,
    end_time     TEXT NOT NULL,
    bill_time    TEXT NOT NULL,
    should_pay   BIGINT NOT NULL,
    source       TEXT NOT NULL,            -- after_leave | abnormal
    state        TEXT NOT NULL,            -- open | paid | written_off
    settled_by   TEXT,                     -- payments.order_id, or the lot that collected it offline
    settled_at   TEXT,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (parking_code, bill_id)
);
CREATE INDEX arrears_by_plate ON arrears (plate_no, state);
