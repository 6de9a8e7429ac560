-- Manual entry, version 12 (sqlite). Values a practice's declarer enters by
-- hand, for a collection entered by hand or a practice with no agent yet;
-- every version kept (a correction is a new version). The current one is
-- also the job's result (results.agent_id 'manual:<who>', the extract's
-- plugin 'manual-entry'), and the job's state is 'manual'.

CREATE TABLE manual_entries (
    job_id TEXT NOT NULL REFERENCES jobs (id),
    version INTEGER NOT NULL,
    run_id TEXT NOT NULL REFERENCES runs (id),
    practice TEXT NOT NULL,
    extract TEXT NOT NULL,
    extract_hash TEXT NOT NULL,
    entered_ms INTEGER NOT NULL,
    entered_by TEXT NOT NULL,
    PRIMARY KEY (job_id, version)
);
