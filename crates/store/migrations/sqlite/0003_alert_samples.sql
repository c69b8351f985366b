-- Sample events move out of the alert row. SQLite rewrites a whole row on
-- UPDATE, so kilobytes of samples made every merge of a hit count cost as
-- much as storing the events again; a merge now rewrites only the counters.
CREATE TABLE alert_samples (
    alert_id INTEGER NOT NULL REFERENCES alerts (id),
    -- 0-based, in the order the events were seen; at most a few per alert.
    n INTEGER NOT NULL,
    -- JSON: origin (stream, pos), the event as the rules saw it, the match.
    sample TEXT NOT NULL,
    PRIMARY KEY (alert_id, n)
);
INSERT INTO alert_samples (alert_id, n, sample)
    SELECT a.id, j.key, j.value FROM alerts a, json_each(a.samples) j;
ALTER TABLE alerts DROP COLUMN samples;
ALTER TABLE alerts DROP COLUMN samples_kept;
