-- Delivery: where messages go, the outbox they wait in, the templates they
-- are written from, the in-app inbox, and the deadline alarms already raised.

-- Webhooks, group robots and mailing lists. A unit's contacts get e-mail
-- without a channel; these are the extra ways out, a unit's or the centre's.
CREATE TABLE channels (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    -- email | webhook | wecom | dingtalk | feishu
    kind TEXT NOT NULL,
    -- The URL, or for email the address.
    target TEXT NOT NULL,
    -- HMAC key (webhook) or signing secret (dingtalk, feishu); '' if none.
    -- Never returned by the API.
    secret TEXT NOT NULL,
    -- NULL: the centre's own channel, sent every event it subscribes to.
    unit TEXT REFERENCES units (code),
    lang TEXT NOT NULL,
    -- Comma-separated event names, or '*'.
    events TEXT NOT NULL,
    enabled BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- The transactional outbox: a message is written in the same transaction as
-- the move that causes it, so none is lost and none sent for a rolled-back
-- move; the sender works it off with retries.
CREATE TABLE outbox (
    id BIGSERIAL PRIMARY KEY,
    -- One message per (occurrence, recipient): a replay inserts nothing.
    key TEXT NOT NULL UNIQUE,
    notice_id BIGINT REFERENCES notices (id),
    event TEXT NOT NULL,
    kind TEXT NOT NULL,
    -- NULL for a unit contact's e-mail.
    channel_id BIGINT REFERENCES channels (id),
    target TEXT NOT NULL,
    lang TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    -- pending | sending | sent | failed
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_at BIGINT NOT NULL,
    -- A sender's claim: another may take the message once it lapses.
    lease_until BIGINT,
    last_error TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    sent_at BIGINT
);
CREATE INDEX outbox_due ON outbox (state, next_at);
CREATE INDEX outbox_notice ON outbox (notice_id);

-- The admin's edits of the default message texts.
CREATE TABLE templates (
    name TEXT NOT NULL,
    lang TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL,
    PRIMARY KEY (name, lang)
);

-- In-app notifications, one row per user.
CREATE TABLE inbox (
    id BIGSERIAL PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    user_id BIGINT NOT NULL REFERENCES users (id),
    notice_id BIGINT REFERENCES notices (id),
    event TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    read_at BIGINT
);
CREATE INDEX inbox_user ON inbox (user_id, id);

-- Reminders and escalation steps raised, per deadline: a sweep that runs
-- twice raises nothing twice, and a new deadline (a return, a reopening)
-- gets its own.
CREATE TABLE notice_alarms (
    notice_id BIGINT NOT NULL REFERENCES notices (id),
    -- acknowledge | answer
    clock TEXT NOT NULL,
    due BIGINT NOT NULL,
    -- reminder | overdue | supervise | escalated
    step TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (notice_id, clock, due, step)
);
