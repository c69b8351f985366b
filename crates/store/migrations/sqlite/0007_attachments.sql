-- Evidence attached to a notice by the centre or the unit. Kept in the
-- database with the notice (one backup, one transaction), never unpacked,
-- never served inline.
CREATE TABLE attachments (
    id INTEGER PRIMARY KEY,
    notice_id INTEGER NOT NULL REFERENCES notices (id),
    -- The name shown: the uploader's, stripped of any path and control characters.
    name TEXT NOT NULL,
    -- What the content is, by its bytes (not by its name or the sender's say-so).
    media_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    uploaded_by TEXT NOT NULL,
    uploaded_at BIGINT NOT NULL,
    content BLOB NOT NULL,
    UNIQUE (notice_id, sha256)
);
