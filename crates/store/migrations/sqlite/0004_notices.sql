-- Notices (通报): what the centre tells a unit, and everything after.
-- One responsible unit per notice: a notice drafted from alerts of several
-- units becomes one notice per unit, so tenancy is one column.
CREATE TABLE notices (
    id INTEGER PRIMARY KEY,
    -- The centre's series, e.g. 2026-0123: given when first issued, so
    -- drafts that are never sent leave no gaps.
    number TEXT UNIQUE,
    -- incident | rectification | verification
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    title TEXT NOT NULL,
    summary TEXT NOT NULL,
    -- What the unit must do.
    actions TEXT NOT NULL,
    -- GB/T 20986-2023 subcategory code; '' when none.
    category TEXT NOT NULL,
    level TEXT NOT NULL,
    tlp TEXT NOT NULL,
    unit TEXT NOT NULL REFERENCES units (code),
    -- JSON array of `kind:value` assets.
    assets TEXT NOT NULL,
    created_by TEXT NOT NULL,
    approved_by TEXT,
    -- The spans it was issued with (30m, 5wd): a policy edit never moves a running clock.
    acknowledge_within TEXT NOT NULL,
    answer_within TEXT NOT NULL,
    acknowledge_due BIGINT,
    answer_due BIGINT,
    -- Clock seconds the unit had left when the answer clock paused.
    answer_left BIGINT,
    issued_at BIGINT,
    acknowledged_at BIGINT,
    answered_at BIGINT,
    closed_at BIGINT,
    -- The accepted outcome, and for risk acceptance until when.
    outcome TEXT,
    accepted_until BIGINT,
    reopened BIGINT NOT NULL,
    -- Bumped by every change: a stale writer gets 412, not a silent overwrite.
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- Lists are newest first. A filter on states or levels reads each (state,
-- level) range of these indexes in updated_at order and stops at the page's
-- end (see Store::notices); a unit's own list uses the unit's ranges.
CREATE INDEX notices_updated ON notices (updated_at);
CREATE INDEX notices_state_level ON notices (state, level, updated_at);
CREATE INDEX notices_unit_state_level ON notices (unit, state, level, updated_at);

CREATE TABLE notice_alerts (
    notice_id INTEGER NOT NULL REFERENCES notices (id),
    alert_id INTEGER NOT NULL REFERENCES alerts (id),
    PRIMARY KEY (notice_id, alert_id)
);
CREATE INDEX notice_alerts_alert ON notice_alerts (alert_id);

-- The notice's timeline: every move, who, when, why. Append-only.
CREATE TABLE notice_log (
    id INTEGER PRIMARY KEY,
    notice_id INTEGER NOT NULL REFERENCES notices (id),
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    from_state TEXT NOT NULL,
    to_state TEXT NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX notice_log_notice ON notice_log (notice_id, id);
CREATE TRIGGER notice_log_no_update BEFORE UPDATE ON notice_log
BEGIN SELECT RAISE(ABORT, 'the notice log is append-only'); END;
CREATE TRIGGER notice_log_no_delete BEFORE DELETE ON notice_log
BEGIN SELECT RAISE(ABORT, 'the notice log is append-only'); END;

-- The unit's answers (反馈), every one kept, returned or accepted.
CREATE TABLE notice_answers (
    id INTEGER PRIMARY KEY,
    notice_id INTEGER NOT NULL REFERENCES notices (id),
    at BIGINT NOT NULL,
    by_user TEXT NOT NULL,
    cause TEXT NOT NULL,
    measures TEXT NOT NULL,
    result TEXT NOT NULL,
    fixed_at BIGINT,
    -- fixed | false_positive | not_ours | risk_accepted | need_help
    outcome TEXT NOT NULL,
    accept_until BIGINT
);
CREATE INDEX notice_answers_notice ON notice_answers (notice_id, id);

-- The last number given per year of the series.
CREATE TABLE notice_series (year BIGINT PRIMARY KEY, last BIGINT NOT NULL);

-- The business calendar: days whose weekday does not say whether they are
-- worked (public holidays, 调休 make-up days). Seeded from the shipped data.
CREATE TABLE calendar_days (day TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL);

-- Settings the admin edits as text (the deadline policy).
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at BIGINT NOT NULL, updated_by TEXT NOT NULL);
