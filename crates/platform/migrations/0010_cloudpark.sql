-- The parking cloud's open API (issue 23).
--
-- Who may call it: integrators, acting on the lots they are given, and lots
-- that speak this protocol, for their own codes. The secret signs requests
-- (MD5 over the parameters and the secret, the vendor's rule), so it is kept
-- as given: verifying needs it.
CREATE TABLE cloud_principals (
    pid         TEXT PRIMARY KEY,
    secret      TEXT NOT NULL,
    kind        TEXT NOT NULL,              -- integrator | lot
    name        TEXT NOT NULL,
    park_codes  TEXT NOT NULL,              -- JSON array of parkCodes
    created_at  TEXT NOT NULL
);

-- Cars put into a lot from the cloud (modifyInCar: an entry an integrator,
-- a visitor system or a cloud attendant made; delInCar: a stay to close)
-- until the lot pulls them (queryAgentParkin) and reports them synced
-- (notifyAgentParkin). `version` grows with each change, `pulled_version` is
-- what the latest pull served, `synced_version` what the lot reported: a row
-- is due while synced_version < version, so a change made after a pull
-- comes back on the next one.
CREATE TABLE remote_stays (
    park_code       TEXT NOT NULL,
    record_no       TEXT NOT NULL,
    plate_no        TEXT NOT NULL,
    car_type        INTEGER NOT NULL,
    car_sub_type    INTEGER NOT NULL,
    entrance        TEXT,
    enter_time      TEXT NOT NULL,
    in_channel      TEXT,
    op_id           TEXT,
    op_name         TEXT,
    enter_pic       TEXT,
    in_park         INTEGER NOT NULL,       -- 1 in the lot, 0 closed by delInCar
    remark          TEXT,
    by_pid          TEXT NOT NULL,
    version         BIGINT NOT NULL,
    pulled_version  BIGINT NOT NULL DEFAULT 0,
    synced_version  BIGINT NOT NULL DEFAULT 0,
    seq             BIGINT NOT NULL,        -- pull order: a change goes to the end
    changed_at      TEXT NOT NULL,
    PRIMARY KEY (park_code, record_no)
);
CREATE INDEX remote_stays_due ON remote_stays (park_code, seq) WHERE synced_version < version;

-- Fixed cars (固定车: monthly, stored-value, free) of a lot, as integrators
-- manage them (addfixcar, editfixcar, delfixcar). Lots of this protocol pull
-- their changes (queryAgentFixcar, notifyAgentFixcar: the same versions as
-- remote_stays); a Qingdao lot is sent each change as a white-list entry.
CREATE TABLE fixed_cars (
    park_code       TEXT NOT NULL,
    uuid            TEXT NOT NULL,
    plate_no        TEXT NOT NULL,
    owner           TEXT,
    car_type        INTEGER NOT NULL,       -- 81-85 monthly, 71-75 stored value, 11-17 free
    space_no        TEXT,
    tel             TEXT,
    monthly_fee     BIGINT,                 -- fen
    balance         BIGINT,                 -- fen
    start_time      TEXT NOT NULL,
    end_time        TEXT NOT NULL,
    group_uuid      TEXT,
    remark          TEXT,
    remark1         TEXT,
    remark2         TEXT,
    state           INTEGER NOT NULL,       -- 0 valid, 1 suspended
    deleted         INTEGER NOT NULL,
    listed_plate    TEXT,                   -- a Qingdao lot: the plate its white list holds for this car
    by_pid          TEXT NOT NULL,
    version         BIGINT NOT NULL,
    pulled_version  BIGINT NOT NULL DEFAULT 0,
    synced_version  BIGINT NOT NULL DEFAULT 0,
    seq             BIGINT NOT NULL,
    changed_at      TEXT NOT NULL,
    PRIMARY KEY (park_code, uuid)
);
CREATE INDEX fixed_cars_due ON fixed_cars (park_code, seq) WHERE synced_version < version;
CREATE INDEX fixed_cars_plate ON fixed_cars (park_code, plate_no);
