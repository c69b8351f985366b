-- Alerts: what detection found, aggregated. One row per (rule, unit,
-- asset, window): repeated hits add to its count instead of adding rows.
-- '' in unit and asset means not attributed (visible to the centre only).
CREATE TABLE alerts (
    id BIGSERIAL PRIMARY KEY,
    rule_id TEXT NOT NULL,
    title TEXT NOT NULL,
    -- sigma | correlation | indicator | sensor
    source TEXT NOT NULL,
    unit TEXT NOT NULL,
    asset TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    severity TEXT NOT NULL,
    -- GB/T 20986-2023 subcategory code and why; '' when nothing mapped.
    category TEXT NOT NULL,
    category_reason TEXT NOT NULL,
    proposed_level TEXT NOT NULL,
    -- JSON: importance, loss, reasons and the rule table's version.
    grading TEXT NOT NULL,
    -- The level in force: the proposed one until an analyst overrides it.
    level TEXT NOT NULL,
    override_reason TEXT,
    overridden_by TEXT,
    overridden_at BIGINT,
    hits BIGINT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    -- JSON array of the first few events (origin, time, event), and how
    -- many: later hits leave a full list alone instead of rewriting it.
    samples TEXT NOT NULL,
    samples_kept BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX alerts_key ON alerts (rule_id, unit, asset, window_start);
CREATE INDEX alerts_last_seen ON alerts (last_seen);
CREATE INDEX alerts_unit ON alerts (unit, last_seen);

-- Per event-store stream, the position below which every event's hits are
-- in alerts: a replay after a crash skips them instead of counting twice.
CREATE TABLE alert_marks (stream BIGINT PRIMARY KEY, pos BIGINT NOT NULL);
