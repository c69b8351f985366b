-- Browser sessions of the web console. The cookie carries a random token;
-- only its SHA-256 is stored, as for API tokens. A session ends when it is
-- revoked, expires, or sits idle too long (checked on use).
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    user_id BIGINT NOT NULL REFERENCES users (id),
    -- The synchronizer token every form and htmx request must echo.
    csrf TEXT NOT NULL,
    -- 1 until the TOTP second factor is given: such a session opens nothing else.
    pending_totp BIGINT NOT NULL DEFAULT 0,
    ip TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX sessions_user ON sessions (user_id, revoked_at);

-- Failed sign-ins, per account and per client address, for rate limiting.
-- Rows older than the window are deleted as new ones arrive.
CREATE TABLE login_failures (
    key TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX login_failures_key ON login_failures (key, at);

-- The console's language per user, and the TOTP secret (base32) once enrolled.
ALTER TABLE users ADD COLUMN lang TEXT NOT NULL DEFAULT 'zh-CN';
ALTER TABLE users ADD COLUMN totp_secret TEXT;

-- The situation board counts open notices per unit, state and level, and
-- which are past a deadline, in one pass over this index alone.
CREATE INDEX notices_board ON notices (state, unit, level, acknowledge_due, answer_due);
