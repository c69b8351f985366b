-- Upward reports (事件报告) for incidents of level III and above: the
-- reporting clocks of one notice, and every report made on it.
CREATE TABLE report_cases (
    notice_id INTEGER PRIMARY KEY REFERENCES notices (id),
    -- cii | central_organ | other: sets the first report's clock.
    operator_class TEXT NOT NULL,
    opened_at BIGINT NOT NULL,
    first_due BIGINT NOT NULL,
    first_at BIGINT,
    -- Levels I-II: the receiver's escalation to the national level.
    escalate_due BIGINT,
    escalated_at BIGINT,
    escalated_by TEXT,
    -- Set when handling ends (the notice is closed): closure report within 30 days.
    closure_due BIGINT,
    closure_at BIGINT
);

CREATE TABLE reports (
    id INTEGER PRIMARY KEY,
    notice_id INTEGER NOT NULL REFERENCES report_cases (notice_id),
    seq BIGINT NOT NULL,
    -- first | supplement | follow_up | closure
    kind TEXT NOT NULL,
    -- JSON: the eight items.
    items TEXT NOT NULL,
    submitted_by TEXT NOT NULL,
    submitted_at BIGINT NOT NULL,
    UNIQUE (notice_id, seq)
);
