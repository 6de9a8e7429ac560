-- The coordinator's store, version 1 (SQLite). The PostgreSQL folder holds
-- the same tables and columns under the same version number; a test keeps
-- them in step. Times are integer Unix milliseconds.

CREATE TABLE enrollment_tokens (
    secret_hash TEXT PRIMARY KEY,
    agent_id TEXT NOT NULL,
    practices TEXT NOT NULL,          -- JSON array of ODS codes
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    used_ms INTEGER
);

CREATE TABLE agents (
    id TEXT PRIMARY KEY,
    enrolled_ms INTEGER NOT NULL,
    revoked_ms INTEGER,
    last_seen_ms INTEGER,
    agent_version TEXT,
    protocol_version INTEGER
);

CREATE TABLE agent_practices (
    agent_id TEXT NOT NULL REFERENCES agents (id),
    practice TEXT NOT NULL,
    plugin_name TEXT,
    plugin_version TEXT,
    buffer_depth INTEGER,
    last_error TEXT,
    PRIMARY KEY (agent_id, practice)
);
CREATE INDEX agent_practices_by_practice ON agent_practices (practice);

CREATE TABLE collections (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    query_canonical TEXT NOT NULL,
    query_hash TEXT NOT NULL,
    query_source TEXT NOT NULL,
    output_shape TEXT NOT NULL,       -- aggregate or record-level
    parameters TEXT NOT NULL,         -- JSON object
    schedule TEXT NOT NULL,
    purpose TEXT NOT NULL,
    data_class TEXT NOT NULL,
    deadline_seconds INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    schedule_mark_ms INTEGER
);

CREATE TABLE collection_practices (
    collection_id TEXT NOT NULL REFERENCES collections (id),
    practice TEXT NOT NULL,
    PRIMARY KEY (collection_id, practice)
);

CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    collection_id TEXT NOT NULL REFERENCES collections (id),
    due_ms INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    deadline_ms INTEGER NOT NULL,
    parameters TEXT NOT NULL,         -- JSON object, resolved
    cancelled_ms INTEGER,
    UNIQUE (collection_id, due_ms)
);
CREATE INDEX runs_by_due ON runs (due_ms, id);

CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs (id),
    practice TEXT NOT NULL,
    state TEXT NOT NULL,              -- pending leased done failed expired cancelled
    agent_id TEXT,                    -- the agent holding or last holding it
    lease_until_ms INTEGER,
    not_before_ms INTEGER NOT NULL,   -- retry backoff
    deadline_ms INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    last_error TEXT,
    updated_ms INTEGER NOT NULL
);
-- A poll reads only the waiting jobs of its agent's practices.
CREATE INDEX jobs_waiting ON jobs (practice, state) WHERE state IN ('pending', 'leased');
CREATE INDEX jobs_by_run ON jobs (run_id, practice);
-- Expiry reads only open jobs past their deadline.
CREATE INDEX jobs_open_by_deadline ON jobs (deadline_ms) WHERE state IN ('pending', 'leased');

CREATE TABLE job_agents (
    job_id TEXT NOT NULL REFERENCES jobs (id),
    agent_id TEXT NOT NULL,
    PRIMARY KEY (job_id, agent_id)
);

CREATE TABLE results (
    job_id TEXT PRIMARY KEY REFERENCES jobs (id),
    run_id TEXT NOT NULL REFERENCES runs (id),
    agent_id TEXT NOT NULL,
    extract TEXT NOT NULL,
    extract_hash TEXT NOT NULL,
    stored_ms INTEGER NOT NULL,
    late INTEGER NOT NULL             -- 1 when stored after the run's deadline
);
CREATE INDEX results_by_run ON results (run_id);

-- Requests refused, kept apart from the state a refusal leaves unchanged.
CREATE TABLE refusals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms INTEGER NOT NULL,
    actor TEXT NOT NULL,
    route TEXT NOT NULL,
    status INTEGER NOT NULL,
    message TEXT NOT NULL
);

-- Which replica schedules, until when.
CREATE TABLE scheduler_lease (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until_ms INTEGER NOT NULL
);
