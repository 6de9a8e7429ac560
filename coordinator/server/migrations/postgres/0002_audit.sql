-- The audit trail, version 2 (postgres). Every person's action, stored result
-- and read of results appends one entry in the transaction that does it.
-- Each entry's mac is an HMAC-SHA256, under a key kept outside the
-- database (audit.key beside the CA), of the entry and the previous
-- entry's mac; audit_head holds the newest, and a signed checkpoint of it
-- is kept outside the database too, so removing the newest entries is
-- caught.

CREATE TABLE audit (
    seq BIGINT PRIMARY KEY,
    at_ms BIGINT NOT NULL,
    actor TEXT NOT NULL,
    grant_name TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL,
    mac TEXT NOT NULL
);

-- One row: the newest entry's number and mac (0 and '' when empty).
CREATE TABLE audit_head (
    id BIGINT PRIMARY KEY,
    seq BIGINT NOT NULL,
    mac TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, mac) VALUES (1, 0, '');
