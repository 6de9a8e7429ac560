-- The practices registry, version 3 (postgres): what the public ODS GP practice
-- file says of each practice (imported by `gpesctl practice import`), and
-- what it does not carry (supplier, clinical system, test flag), set by
-- hand. Collections target only active practices of the registry.

CREATE TABLE practices (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    region TEXT NOT NULL,             -- the commissioner's code
    status TEXT NOT NULL,             -- active closed dormant proposed
    open_date TEXT,                   -- YYYY-MM-DD
    close_date TEXT,
    successor TEXT,
    supplier TEXT,
    clinical_system TEXT,
    test BIGINT NOT NULL,                 -- 1 for a test practice
    updated_ms BIGINT NOT NULL
);
CREATE INDEX practices_by_region ON practices (region, code);
