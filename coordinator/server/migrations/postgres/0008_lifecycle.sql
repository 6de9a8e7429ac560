-- A collection's lifecycle, version 8 (postgres): draft (made, not yet
-- running), active (its schedule fires), paused (nothing fires until it is
-- active again), retired (for good). Collections made before this are
-- active.

ALTER TABLE collections ADD COLUMN state TEXT NOT NULL DEFAULT 'active';
ALTER TABLE collections ADD COLUMN state_ms BIGINT;
