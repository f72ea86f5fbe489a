-- The parking cloud's MQ channel (issue 24).

-- Commands received, by uuid, with the answer sent: the same uuid again is
-- answered with it and never applied twice.
CREATE TABLE cloud_commands (
    uuid         TEXT PRIMARY KEY,
    service_id   TEXT NOT NULL,
    action       TEXT,
    received_at  TEXT NOT NULL,
    answer       TEXT                        -- the answer's JSON; NULL while being applied
);

-- Reports to the cloud over MQ (manual lifts, alarms): published until the
-- cloud acknowledges their uuid.
CREATE TABLE cloud_reports (
    uuid         TEXT PRIMARY KEY,
    service_id   TEXT NOT NULL,
    payload      TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    acked_at     TEXT
);
CREATE INDEX cloud_reports_pending ON cloud_reports (acked_at, created_at);

-- Plates locked by their owners (3.11): refused at the exit until unlocked.
CREATE TABLE plate_locks (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    plate_no     TEXT NOT NULL UNIQUE,
    locker       TEXT NOT NULL,
    lock_time    TEXT NOT NULL,
    remark       TEXT
);

-- Visitor reservations (3.14): a plate admitted in its window, free or charged.
CREATE TABLE visitors (
    pass_code      TEXT PRIMARY KEY,
    plate_no       TEXT NOT NULL,
    arrive_time    TEXT NOT NULL,
    leave_time     TEXT NOT NULL,
    business_type  INTEGER NOT NULL,         -- 1 visitor, 2 shared parking, 3 registered entry
    booked         INTEGER NOT NULL,         -- 1 booked, 0 cancelled
    car_sub_type   INTEGER NOT NULL,         -- 11-17: parks free; else charged as a temporary car
    times_limit    INTEGER NOT NULL,         -- entries allowed, -1 unlimited
    used           INTEGER NOT NULL DEFAULT 0,
    channel        TEXT,
    remark         TEXT
);
CREATE INDEX visitors_plate ON visitors (plate_no);

-- A blacklist entry the cloud manages (3.15) keeps its uuid.
ALTER TABLE list_entries ADD COLUMN cloud_uuid TEXT;

-- The remaining spaces the cloud set (3.22), shown on the entry screens instead of the count.
CREATE TABLE cloud_settings (
    name   TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);

-- The cloud's vehicles (3.6) beside the month cards they are (`month_cards`
-- id `cloud-{uuid}`): the vendor's fields a card has no place for.
CREATE TABLE cloud_cars (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid           TEXT NOT NULL UNIQUE,
    card_id        TEXT NOT NULL UNIQUE,
    car_type_code  INTEGER NOT NULL,         -- 81-85 monthly, 71-75 stored value, 11-17 free
    group_uuid     TEXT,
    tel            TEXT,
    space_no       TEXT,
    monthly_fee    INTEGER NOT NULL DEFAULT 0,   -- fen
    balance        INTEGER NOT NULL DEFAULT 0,   -- fen
    state          INTEGER NOT NULL DEFAULT 0,   -- 0 normal, 1 frozen (the car parks as a temporary one)
    remark         TEXT,
    created_at     TEXT NOT NULL
);

-- Space groups (3.5): shared berths of several cars.
CREATE TABLE car_groups (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    num         INTEGER NOT NULL,            -- berths
    region      TEXT,
    tel         TEXT,
    remark      TEXT,
    begin_time  TEXT,
    end_time    TEXT,
    is_free     INTEGER NOT NULL DEFAULT 0,  -- 0 normal, 1 free/shared, 2 stored value
    unit_fee    INTEGER NOT NULL DEFAULT 0,  -- fen
    balance     INTEGER NOT NULL DEFAULT 0,  -- fen
    created_at  TEXT NOT NULL
);

-- Top-up packages (3.21): what a vehicle's `charge` may name.
CREATE TABLE charge_plans (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid           TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    car_type_code  INTEGER NOT NULL,
    months         INTEGER NOT NULL,
    amount         INTEGER NOT NULL,         -- fen
    remark         TEXT
);

-- Every change the cloud made to a vehicle (3.20).
CREATE TABLE car_logs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    time        TEXT NOT NULL,
    action      TEXT NOT NULL,               -- add, edit, delete, change, charge, freeze, unfreeze, clear, refund
    uuid        TEXT NOT NULL,
    plate_no    TEXT NOT NULL,
    operator    TEXT,
    detail      TEXT NOT NULL
);

-- Merchant coupons (3.3), applied at the stay's exit, once.
CREATE TABLE coupons (
    ticket_no     TEXT PRIMARY KEY,
    plate_no      TEXT NOT NULL,
    ticket_type   INTEGER NOT NULL,          -- 1 amount (fen), 2 minutes, 3 percent off, 4/5 free
    value         INTEGER NOT NULL,          -- fen, minutes or percent, per ticket_type
    shop_name     TEXT,
    valid_from    TEXT,
    valid_to      TEXT,
    received_at   TEXT NOT NULL,
    used_by       TEXT                       -- the session (uid) it was applied to
);
CREATE INDEX coupons_plate ON coupons (plate_no);

-- Payments the cloud announced (3.2 orders, 3.8 fixed-car orders), once each.
CREATE TABLE cloud_orders (
    order_no     TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,              -- parking | monthly
    plate_no     TEXT NOT NULL,
    amount       INTEGER NOT NULL,           -- fen
    applied_to   TEXT NOT NULL,              -- the bill or card it settled
    received_at  TEXT NOT NULL
);
