-- Version 5 (SQLite; the PostgreSQL folder has the same table). Job-making
-- transactions count themselves here, and on PostgreSQL also NOTIFY the
-- count on channel gpes_jobs, so that a long-poll on any replica wakes: at
-- once by the notification, or within a second by each replica's recheck
-- of this one row when a notification was lost. (Version 4 is the users
-- and roles migration, landed on its own branch.)

CREATE TABLE job_wakeups (
    name TEXT PRIMARY KEY,
    seq INTEGER NOT NULL
);
INSERT INTO job_wakeups (name, seq) VALUES ('jobs', 0);
