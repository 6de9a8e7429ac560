-- Collection terms and versions, version 9 (postgres). Requesting organisations
-- (kept by an admin) and where their deliveries go; each collection's
-- terms (who asked, participation mode, method, legal basis and approval
-- for identifiable data, whether results need a declaration and an
-- approval); each edit of a collection's definition kept whole as a
-- version; each run records the collection version, query version and
-- kind it ran as. Collections and runs made before this are version 1 of
-- a mandatory, automatic collection asked for by no one.

CREATE TABLE organisations (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    delivery TEXT NOT NULL,           -- JSON: {"kind": "none" | "folder" | "mesh", ...}
    updated_ms BIGINT NOT NULL
);

ALTER TABLE collections ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE collections ADD COLUMN requested_by TEXT;
ALTER TABLE collections ADD COLUMN participation TEXT NOT NULL DEFAULT 'mandatory';
ALTER TABLE collections ADD COLUMN method TEXT NOT NULL DEFAULT 'automatic';
ALTER TABLE collections ADD COLUMN legal_basis TEXT;
ALTER TABLE collections ADD COLUMN approval_reference TEXT;
ALTER TABLE collections ADD COLUMN needs_declaration BIGINT NOT NULL DEFAULT 0;
ALTER TABLE collections ADD COLUMN needs_approval BIGINT NOT NULL DEFAULT 0;

CREATE TABLE collection_versions (
    collection_id TEXT NOT NULL REFERENCES collections (id),
    version BIGINT NOT NULL,
    definition TEXT NOT NULL,         -- JSON: the collection as it was
    made_ms BIGINT NOT NULL,
    made_by TEXT NOT NULL,
    PRIMARY KEY (collection_id, version)
);

ALTER TABLE runs ADD COLUMN collection_version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN query_id TEXT;
ALTER TABLE runs ADD COLUMN query_version BIGINT;
ALTER TABLE runs ADD COLUMN kind TEXT NOT NULL DEFAULT 'scheduled';
