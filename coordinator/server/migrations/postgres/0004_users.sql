-- People and their role grants, version 4 (postgres). A user signs in with API
-- tokens: 256-bit secrets shown once and kept here only as their SHA-256,
-- each expiring and revocable; last use is written at most once a minute
-- (operational state, not history). A grant is a role and, for the roles
-- that have one, its scope: a practice code, a region (commissioner code),
-- a requesting organisation or a supplier; '' for the operator roles.

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    disabled_ms BIGINT
);

CREATE TABLE user_tokens (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    secret_hash TEXT NOT NULL UNIQUE,
    label TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL,
    revoked_ms BIGINT,
    last_used_ms BIGINT
);
CREATE INDEX user_tokens_by_user ON user_tokens (user_id, id);

CREATE TABLE grants (
    user_id TEXT NOT NULL REFERENCES users (id),
    role TEXT NOT NULL,
    scope TEXT NOT NULL,
    granted_ms BIGINT NOT NULL,
    granted_by TEXT NOT NULL,
    PRIMARY KEY (user_id, role, scope)
);
