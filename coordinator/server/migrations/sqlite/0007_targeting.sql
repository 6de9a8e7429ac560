-- Targeting, version 7 (sqlite): beyond a collection's explicit practices,
-- the regions and suppliers it reaches (or all), and the practices it
-- leaves out, resolved from the registry each time a run fires. kind is
-- all (value ''), region, supplier or exclude.

CREATE TABLE collection_targets (
    collection_id TEXT NOT NULL REFERENCES collections (id),
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (collection_id, kind, value)
);
