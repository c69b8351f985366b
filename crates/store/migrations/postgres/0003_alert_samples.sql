-- Sample events move out of the alert row, so that merging a hit count
-- rewrites only the counters, not kilobytes of events.
CREATE TABLE alert_samples (
    alert_id BIGINT NOT NULL REFERENCES alerts (id),
    -- 0-based, in the order the events were seen; at most a few per alert.
    n BIGINT NOT NULL,
    -- JSON: origin (stream, pos), the event as the rules saw it, the match.
    sample TEXT NOT NULL,
    PRIMARY KEY (alert_id, n)
);
INSERT INTO alert_samples (alert_id, n, sample)
    SELECT a.id, j.n - 1, j.value::text
    FROM alerts a, jsonb_array_elements(a.samples::jsonb) WITH ORDINALITY AS j (value, n);
ALTER TABLE alerts DROP COLUMN samples;
ALTER TABLE alerts DROP COLUMN samples_kept;
