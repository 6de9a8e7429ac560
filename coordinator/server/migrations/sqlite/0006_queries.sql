-- The query library, version 6 (sqlite). Each push of a query whose canonical
-- form the library does not hold for that query id makes its next version
-- (a change of comments alone does not); versions
-- are never changed. A collection names the version it runs.

CREATE TABLE queries (
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    title TEXT NOT NULL,
    hash TEXT NOT NULL,
    canonical TEXT NOT NULL,
    source TEXT NOT NULL,
    pushed_ms INTEGER NOT NULL,
    pushed_by TEXT NOT NULL,
    PRIMARY KEY (id, version)
);
CREATE UNIQUE INDEX queries_by_hash ON queries (id, hash);

ALTER TABLE collections ADD COLUMN query_id TEXT NOT NULL DEFAULT '';
ALTER TABLE collections ADD COLUMN query_version INTEGER NOT NULL DEFAULT 0;
