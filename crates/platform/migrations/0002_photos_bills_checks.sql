-- Photos (files on disk, content-addressed), bills, lot information and daily checks.

CREATE TABLE photos (
    parking_code TEXT NOT NULL,
    photo_id     TEXT NOT NULL,
    uid          TEXT NOT NULL,
    access_id    TEXT NOT NULL,
    photo_type   BIGINT NOT NULL,
    photo_time   TEXT NOT NULL,
    name         TEXT NOT NULL,
    sha256       TEXT NOT NULL,            -- file name under photo_dir
    size         BIGINT NOT NULL,
    upload_time  TEXT NOT NULL,
    received_at  TEXT NOT NULL,
    content      TEXT NOT NULL,
    PRIMARY KEY (parking_code, photo_id)
);
CREATE INDEX photos_by_time ON photos (parking_code, photo_time);

CREATE TABLE bills (
    parking_code TEXT NOT NULL,
    bill_id      TEXT NOT NULL,
    uid          TEXT NOT NULL,
    access_id    TEXT NOT NULL,
    plate_no     TEXT NOT NULL,
    charge_fee   BIGINT NOT NULL,
    should_pay   BIGINT NOT NULL,
    actual_pay   BIGINT NOT NULL,
    bill_time    TEXT NOT NULL,
    deal_time    TEXT NOT NULL,
    paid_type    BIGINT NOT NULL,
    pay_type     BIGINT NOT NULL,
    bill_way     BIGINT NOT NULL,
    upload_time  TEXT NOT NULL,
    received_at  TEXT NOT NULL,
    content      TEXT NOT NULL,
    PRIMARY KEY (parking_code, bill_id)
);
CREATE INDEX bills_by_deal ON bills (parking_code, deal_time);

CREATE TABLE parking_info (
    parking_code TEXT PRIMARY KEY,
    access_id    TEXT NOT NULL,
    received_at  TEXT NOT NULL,
    content      TEXT NOT NULL
);

-- Every uploadCheckRecord with the platform's own counts and the answer given.
CREATE TABLE check_records (
    parking_code   TEXT NOT NULL,
    check_date     TEXT NOT NULL,
    received_at    TEXT NOT NULL,
    lot_counts     TEXT NOT NULL,          -- arriveNum,leaveNum,photoNum,payNum,payTotal as sent
    platform_counts TEXT NOT NULL,         -- the same, counted here
    account_mark   BIGINT NOT NULL,
    photo_mark     BIGINT NOT NULL,
    PRIMARY KEY (parking_code, check_date, received_at)
);
