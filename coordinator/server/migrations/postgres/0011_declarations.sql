-- Declarations and approvals, version 11 (postgres). A practice's declarer
-- declares one exact result of a national run (by its extract hash); the
-- commissioner of its region approves or rejects it, with a reason. A
-- rejected declaration stays, and the practice declares again; a new,
-- different result for the same collection, practice and period re-opens
-- a declared or approved one, saying why. state: declared, approved,
-- rejected, reopened.

CREATE TABLE declarations (
    id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs (id),
    collection_id TEXT NOT NULL REFERENCES collections (id),
    practice TEXT NOT NULL,
    extract_hash TEXT NOT NULL,
    state TEXT NOT NULL,
    declared_ms BIGINT NOT NULL,
    declared_by TEXT NOT NULL,
    decided_ms BIGINT,
    decided_by TEXT,
    reason TEXT
);
CREATE INDEX declarations_by_practice ON declarations (collection_id, practice);
CREATE INDEX declarations_by_run ON declarations (run_id, practice);

-- A payment collection's rule (JSON, gpes_protocol::PaymentRule), or null.
ALTER TABLE collections ADD COLUMN payment_rule TEXT;
