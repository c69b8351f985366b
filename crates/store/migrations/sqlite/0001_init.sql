-- Times are microseconds since the Unix epoch (UTC) in BIGINT columns, and
-- codes are TEXT keys, so queries read the same on SQLite and PostgreSQL.

CREATE TABLE meta (key TEXT PRIMARY KEY, value BIGINT NOT NULL);
INSERT INTO meta (key, value) VALUES ('registry_version', 0);

CREATE TABLE regions (
    code TEXT PRIMARY KEY,
    name_zh TEXT NOT NULL,
    name_en TEXT NOT NULL,
    level TEXT NOT NULL,
    parent TEXT REFERENCES regions (code) DEFERRABLE INITIALLY DEFERRED
);

CREATE TABLE units (
    code TEXT PRIMARY KEY,
    name_zh TEXT NOT NULL,
    name_en TEXT NOT NULL,
    kind TEXT NOT NULL,
    region TEXT NOT NULL REFERENCES regions (code) DEFERRABLE INITIALLY DEFERRED,
    supervisor TEXT REFERENCES units (code) DEFERRABLE INITIALLY DEFERRED,
    jurisdiction TEXT REFERENCES regions (code) DEFERRABLE INITIALLY DEFERRED,
    sector TEXT NOT NULL,
    uscc TEXT,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX units_region ON units (region);
CREATE INDEX units_supervisor ON units (supervisor);

CREATE TABLE contacts (
    id INTEGER PRIMARY KEY,
    unit TEXT NOT NULL REFERENCES units (code) DEFERRABLE INITIALLY DEFERRED,
    role TEXT NOT NULL,
    name TEXT NOT NULL,
    phone TEXT,
    email TEXT,
    pgp_key TEXT
);
CREATE INDEX contacts_unit ON contacts (unit);

-- One row per ownership interval. Rows are never deleted and only ever
-- closed once (valid_to, ended_by, end_reason): history is not overwritten.
CREATE TABLE claims (
    id INTEGER PRIMARY KEY,
    unit TEXT NOT NULL REFERENCES units (code) DEFERRABLE INITIALLY DEFERRED,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    system TEXT,
    precedence BIGINT NOT NULL,
    criticality TEXT NOT NULL,
    note TEXT NOT NULL,
    valid_from BIGINT NOT NULL,
    valid_to BIGINT,
    opened_by TEXT NOT NULL,
    open_reason TEXT NOT NULL,
    recorded_at BIGINT NOT NULL,
    ended_by TEXT,
    end_reason TEXT,
    ended_at BIGINT
);
CREATE INDEX claims_unit ON claims (unit, valid_to);
-- A unit holds an asset at most once at a time, whatever races above.
CREATE UNIQUE INDEX claims_one_open ON claims (unit, kind, value) WHERE valid_to IS NULL;
CREATE INDEX claims_value ON claims (kind, value);

CREATE TRIGGER claims_no_delete BEFORE DELETE ON claims
BEGIN SELECT RAISE(ABORT, 'claims are history: end them, never delete them'); END;
CREATE TRIGGER claims_close_once BEFORE UPDATE ON claims
WHEN OLD.valid_to IS NOT NULL OR NEW.unit IS NOT OLD.unit OR NEW.kind IS NOT OLD.kind
  OR NEW.value IS NOT OLD.value OR NEW.valid_from IS NOT OLD.valid_from OR NEW.criticality IS NOT OLD.criticality
BEGIN SELECT RAISE(ABORT, 'a claim may only be ended, once'); END;

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    password_hash TEXT,
    role TEXT NOT NULL,
    unit TEXT REFERENCES units (code),
    disabled BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id),
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
