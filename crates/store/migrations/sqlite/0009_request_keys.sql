-- Idempotency-Key: a POST's outcome, kept for a day so that a client
-- retrying after a lost response gets the same answer instead of a second
-- effect. Keys are the caller's own: scoped by actor.
CREATE TABLE request_keys (
    actor TEXT NOT NULL,
    key TEXT NOT NULL,
    -- SHA-256 of method, path and body: a key reused for another request is refused.
    fingerprint TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    -- NULL while the first request is in progress.
    status INTEGER,
    content_type TEXT,
    body BLOB,
    PRIMARY KEY (actor, key)
);
CREATE INDEX request_keys_created ON request_keys (created_at);
