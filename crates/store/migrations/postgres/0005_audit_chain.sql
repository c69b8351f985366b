-- The audit trail becomes a hash chain (see src/audit.rs). The trigger is
-- dropped so the store can chain the existing entries in this same
-- transaction; the store puts it back before the transaction ends.
DROP TRIGGER audit_append_only ON audit_log;
ALTER TABLE audit_log ADD COLUMN seq BIGINT;
ALTER TABLE audit_log ADD COLUMN hash TEXT;
-- The chain's last number and hash: one row, updated by every append.
CREATE TABLE audit_head (id BIGINT PRIMARY KEY CHECK (id = 1), seq BIGINT NOT NULL, hash TEXT NOT NULL);
-- Every appended entry moves the head, in the same statement.
CREATE FUNCTION audit_head_follows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE audit_head SET seq = NEW.seq, hash = NEW.hash WHERE id = 1;
    RETURN NEW;
END $$;
CREATE TRIGGER audit_head_follows AFTER INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_head_follows();
