-- Participation and timetable feeds, version 10 (sqlite).
--
-- A practice's decisions on an offered collection, kept whole (the latest
-- is in force; a withdrawal is a later decline). Standing preferences a
-- practice keeps for collections it has not decided on, matched by
-- purpose and requesting organisation (either may be any). Each job
-- records how its practice came to be in the run (mandatory, accepted
-- by decision or preference) or why it was not extracted (declined, no
-- answer): state 'not-participating'.
--
-- A user's calendar feed addresses: the secret in the address is kept
-- only as its SHA-256, and each can be revoked.

CREATE TABLE participation_decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    collection_id TEXT NOT NULL REFERENCES collections (id),
    practice TEXT NOT NULL,
    decision TEXT NOT NULL,           -- accept or decline
    reason TEXT,
    made_ms INTEGER NOT NULL,
    made_by TEXT NOT NULL
);
CREATE INDEX participation_decisions_by_collection
    ON participation_decisions (collection_id, practice, id);

CREATE TABLE participation_preferences (
    id TEXT PRIMARY KEY,
    practice TEXT NOT NULL,
    decision TEXT NOT NULL,           -- accept or decline
    purpose TEXT,                     -- matches any purpose when null
    requested_by TEXT,                -- matches any organisation when null
    made_ms INTEGER NOT NULL,
    made_by TEXT NOT NULL,
    removed_ms INTEGER
);
CREATE INDEX participation_preferences_by_practice ON participation_preferences (practice);

ALTER TABLE jobs ADD COLUMN participation TEXT;

CREATE TABLE calendar_feeds (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    secret_hash TEXT NOT NULL UNIQUE,
    label TEXT,
    created_ms INTEGER NOT NULL,
    revoked_ms INTEGER
);
