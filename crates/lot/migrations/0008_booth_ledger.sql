-- What the booth's staff did, by name (issue 27): money taken with its
-- method, barriers opened, exits matched by hand. The shift report (交接班)
-- sums it per person and method.
CREATE TABLE booth_ledger (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         TEXT NOT NULL,                 -- local yyyy-MM-dd HH:mm:ss
    staff      TEXT NOT NULL,
    kind       TEXT NOT NULL,                 -- fee | arrears | open | match
    lane       TEXT NOT NULL,
    plate_no   TEXT NOT NULL,
    uid        TEXT NOT NULL,
    paid_type  INTEGER,                       -- the method of money taken (spec §7 paidType)
    fen        INTEGER NOT NULL,
    note       TEXT NOT NULL
);
CREATE INDEX booth_ledger_at ON booth_ledger (at);
