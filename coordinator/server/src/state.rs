//! The coordinator's durable state over `gpes-store`: enrollment tokens,
//! agents, collections, runs, jobs and results, and the rules that move a
//! job from pending to leased to done. Every operation takes the time from
//! its caller (so tests control the clock) and flushes before it returns
//! anything a peer will rely on.

use gpes_canon::ContentHash;
use gpes_protocol::{Collection, Extract, Job, Receipt, Run, UploadRequest};
use gpes_store::{Store, StoreError, Tree};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case", deny_unknown_fields)]
pub enum JobState {
    Pending,
    Leased {
        agent_id: String,
        until_ms: u64,
    },
    Done {
        extract_hash: ContentHash,
        stored_ms: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobRecord {
    pub job: Job,
    pub state: JobState,
    /// Agents the job has been leased to, in order.
    pub leased_to: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredResult {
    pub job_id: String,
    pub agent_id: String,
    pub extract: String,
    pub extract_hash: ContentHash,
    pub stored_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentRecord {
    pub id: String,
    pub practices: Vec<String>,
    pub enrolled_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRecord {
    pub agent_id: String,
    pub practices: Vec<String>,
    pub expires_ms: u64,
    pub used: bool,
}

/// Why an operation was refused. Each leaves the store as it was.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    #[error("the enrollment token is not known; ask the operator for a new one")]
    UnknownToken,
    #[error("the enrollment token was already used; each token enrolls one agent once")]
    TokenUsed,
    #[error("the enrollment token expired; ask the operator for a new one")]
    TokenExpired,
    #[error("agent '{agent}' does not serve practice '{practice}'")]
    NotYourPractice { agent: String, practice: String },
    #[error("agent '{0}' is not enrolled")]
    UnknownAgent(String),
    #[error("job '{0}' does not exist")]
    UnknownJob(String),
    #[error("job '{job}' is not held by agent '{agent}': it was never handed to it")]
    NotYourJob { job: String, agent: String },
    #[error("the extract's hash is {actual}, not the {claimed} the upload claims")]
    HashMismatch {
        claimed: ContentHash,
        actual: ContentHash,
    },
    #[error("the extract is not a valid sealed extract: {0}")]
    BadExtract(String),
    #[error("the extract is for {field} '{got}', but the job is for '{want}'")]
    WrongExtract {
        field: &'static str,
        got: String,
        want: String,
    },
    #[error(
        "job '{job}' already has a result with hash {stored}; a different result ({offered}) is refused"
    )]
    Conflict {
        job: String,
        stored: ContentHash,
        offered: ContentHash,
    },
    #[error("collection '{0}' does not exist")]
    UnknownCollection(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub struct State {
    store: Store,
    tokens: Tree,
    agents: Tree,
    collections: Tree,
    runs: Tree,
    jobs: Tree,
    results: Tree,
    /// Per collection, the last time the scheduler considered.
    schedule: Tree,
    /// Serialises read-modify-write of job states.
    write: Mutex<()>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State").finish_non_exhaustive()
    }
}

use gpes_pki::hash_secret;

/// A fresh random identifier: `prefix` and 16 hex digits.
pub fn random_id(prefix: &str) -> String {
    use ring::rand::{SecureRandom, SystemRandom};
    let mut bytes = [0u8; 8];
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system's random source works");
    format!("{prefix}-{}", hex::encode(bytes))
}

impl State {
    pub fn new(store: Store) -> Result<State, StoreError> {
        Ok(State {
            tokens: store.tree("tokens")?,
            agents: store.tree("agents")?,
            collections: store.tree("collections")?,
            runs: store.tree("runs")?,
            jobs: store.tree("jobs")?,
            results: store.tree("results")?,
            schedule: store.tree("schedule")?,
            store,
            write: Mutex::new(()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        // A panic while holding the lock leaves nothing half-written in the
        // store (each write is one insert), so a poisoned lock is usable.
        self.write.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn flush(&self) -> Result<(), StoreError> {
        self.store.flush()
    }

    /// Every record of every tree, for tests that check a refusal changed
    /// nothing.
    pub fn snapshot(&self) -> Result<BTreeMap<&'static str, Vec<gpes_store::Entry>>, StoreError> {
        let mut out = BTreeMap::new();
        for (name, tree) in [
            ("tokens", &self.tokens),
            ("agents", &self.agents),
            ("collections", &self.collections),
            ("runs", &self.runs),
            ("jobs", &self.jobs),
            ("results", &self.results),
            ("schedule", &self.schedule),
        ] {
            out.insert(name, tree.scan_prefix(b"", |_| {})?);
        }
        Ok(out)
    }

    // ---- enrollment ----

    /// Records a one-time token for a new agent, by the hash of its secret.
    pub fn create_token(
        &self,
        agent_id: &str,
        secret_hash: &str,
        practices: Vec<String>,
        expires_ms: u64,
    ) -> Result<(), Refusal> {
        if practices.is_empty() {
            return Err(Refusal::Invalid(
                "an enrollment token must name at least one practice".into(),
            ));
        }
        self.tokens.put_json(
            secret_hash.as_bytes(),
            &TokenRecord {
                agent_id: agent_id.to_owned(),
                practices,
                expires_ms,
                used: false,
            },
        )?;
        self.flush()?;
        Ok(())
    }

    /// Checks a token without using it up.
    pub fn check_token(&self, secret: &str, now_ms: u64) -> Result<TokenRecord, Refusal> {
        let record: TokenRecord = self
            .tokens
            .get_json(hash_secret(secret).as_bytes())?
            .ok_or(Refusal::UnknownToken)?;
        if record.used {
            return Err(Refusal::TokenUsed);
        }
        if now_ms >= record.expires_ms {
            return Err(Refusal::TokenExpired);
        }
        Ok(record)
    }

    /// Uses a token up and records its agent. Call only once the agent's
    /// certificate has been issued.
    pub fn redeem_token(&self, secret: &str, now_ms: u64) -> Result<AgentRecord, Refusal> {
        let _guard = self.lock();
        let mut record = self.check_token(secret, now_ms)?;
        record.used = true;
        let agent = AgentRecord {
            id: record.agent_id.clone(),
            practices: record.practices.clone(),
            enrolled_ms: now_ms,
        };
        self.agents.put_json(agent.id.as_bytes(), &agent)?;
        self.tokens
            .put_json(hash_secret(secret).as_bytes(), &record)?;
        self.flush()?;
        Ok(agent)
    }

    pub fn agent(&self, id: &str) -> Result<AgentRecord, Refusal> {
        self.agents
            .get_json(id.as_bytes())?
            .ok_or_else(|| Refusal::UnknownAgent(id.to_owned()))
    }

    // ---- collections and runs ----

    pub fn create_collection(&self, c: &Collection) -> Result<(), Refusal> {
        self.collections.put_json(c.id.as_bytes(), c)?;
        self.flush()?;
        Ok(())
    }

    pub fn collection(&self, id: &str) -> Result<Collection, Refusal> {
        self.collections
            .get_json(id.as_bytes())?
            .ok_or_else(|| Refusal::UnknownCollection(id.to_owned()))
    }

    pub fn collections(&self) -> Result<Vec<Collection>, Refusal> {
        let mut out = Vec::new();
        for (_, v) in self.collections.scan_prefix(
            b"",
            |e| tracing::error!(error = %e, "collection record damaged"),
        )? {
            out.push(serde_json::from_slice(&v).map_err(|e| Refusal::Invalid(e.to_string()))?);
        }
        Ok(out)
    }

    /// The last time the scheduler considered a collection.
    pub fn schedule_mark(&self, collection_id: &str) -> Result<Option<u64>, Refusal> {
        Ok(self.schedule.get_json(collection_id.as_bytes())?)
    }

    pub fn set_schedule_mark(&self, collection_id: &str, ms: u64) -> Result<(), Refusal> {
        self.schedule.put_json(collection_id.as_bytes(), &ms)?;
        self.flush()?;
        Ok(())
    }

    /// Turns a collection into a run due at `fired_ms` with one job per
    /// practice. Idempotent: the run's id is derived from the collection and
    /// the time, so a scheduler that fires twice creates one run.
    /// `run_date` is the London date of `fired_ms`, for `run-date`
    /// parameters.
    pub fn fire(
        &self,
        collection: &Collection,
        fired_ms: u64,
        run_date: &str,
    ) -> Result<Run, Refusal> {
        let _guard = self.lock();
        let run_id = format!("{}-{}", collection.id, fired_ms);
        if let Some(existing) = self.runs.get_json::<Run>(run_id.as_bytes())? {
            return Ok(existing);
        }
        let parameters: BTreeMap<String, String> = collection
            .parameters
            .iter()
            .map(|(k, v)| {
                let v = if v == "run-date" {
                    run_date.to_owned()
                } else {
                    v.clone()
                };
                (k.clone(), v)
            })
            .collect();
        let mut jobs = Vec::new();
        for practice in &collection.practices {
            let job_id = format!("{run_id}-{practice}");
            let record = JobRecord {
                job: Job {
                    job_id: job_id.clone(),
                    collection_id: collection.id.clone(),
                    run_id: run_id.clone(),
                    practice: practice.clone(),
                    query: collection.query.clone(),
                    parameters: parameters.clone(),
                    purpose: collection.purpose,
                    data_class: collection.data_class,
                    lease_expires_ms: 0,
                },
                state: JobState::Pending,
                leased_to: Vec::new(),
            };
            self.jobs.put_json(job_id.as_bytes(), &record)?;
            jobs.push(job_id);
        }
        let run = Run {
            id: run_id.clone(),
            collection_id: collection.id.clone(),
            fired_ms,
            jobs,
        };
        // The run is written last: a run that exists has all its jobs.
        self.runs.put_json(run_id.as_bytes(), &run)?;
        self.flush()?;
        Ok(run)
    }

    pub fn runs(&self) -> Result<Vec<Run>, Refusal> {
        let mut out: Vec<Run> = Vec::new();
        for (_, v) in self
            .runs
            .scan_prefix(b"", |e| tracing::error!(error = %e, "run record damaged"))?
        {
            out.push(serde_json::from_slice(&v).map_err(|e| Refusal::Invalid(e.to_string()))?);
        }
        out.sort_by_key(|r| (r.fired_ms, r.id.clone()));
        Ok(out)
    }

    pub fn job(&self, id: &str) -> Result<JobRecord, Refusal> {
        self.jobs
            .get_json(id.as_bytes())?
            .ok_or_else(|| Refusal::UnknownJob(id.to_owned()))
    }

    pub fn result(&self, job_id: &str) -> Result<Option<StoredResult>, Refusal> {
        Ok(self.results.get_json(job_id.as_bytes())?)
    }

    // ---- jobs ----

    /// Hands out the jobs waiting for the given practices (every practice
    /// the agent serves when `practices` is empty): pending ones and those
    /// whose lease has expired. Each is leased to the agent until
    /// `now_ms + lease_ms`.
    pub fn lease_jobs(
        &self,
        agent_id: &str,
        practices: &[String],
        now_ms: u64,
        lease_ms: u64,
    ) -> Result<Vec<Job>, Refusal> {
        let agent = self.agent(agent_id)?;
        for p in practices {
            if !agent.practices.contains(p) {
                return Err(Refusal::NotYourPractice {
                    agent: agent_id.to_owned(),
                    practice: p.clone(),
                });
            }
        }
        let wanted: &[String] = if practices.is_empty() {
            &agent.practices
        } else {
            practices
        };
        let _guard = self.lock();
        let mut out = Vec::new();
        for (key, v) in self
            .jobs
            .scan_prefix(b"", |e| tracing::error!(error = %e, "job record damaged"))?
        {
            let mut record: JobRecord =
                serde_json::from_slice(&v).map_err(|e| Refusal::Invalid(e.to_string()))?;
            if !wanted.contains(&record.job.practice) {
                continue;
            }
            // A stored result means done, even if a crash came between
            // storing it and marking the job.
            if self.results.get(&key)?.is_some() {
                continue;
            }
            let available = match &record.state {
                JobState::Pending => true,
                JobState::Leased { until_ms, .. } => *until_ms <= now_ms,
                JobState::Done { .. } => false,
            };
            if !available {
                continue;
            }
            let until_ms = now_ms + lease_ms;
            record.state = JobState::Leased {
                agent_id: agent_id.to_owned(),
                until_ms,
            };
            record.job.lease_expires_ms = until_ms;
            if !record.leased_to.iter().any(|a| a == agent_id) {
                record.leased_to.push(agent_id.to_owned());
            }
            self.jobs.put_json(&key, &record)?;
            out.push(record.job);
        }
        if !out.is_empty() {
            self.flush()?;
        }
        Ok(out)
    }

    /// Stores an uploaded extract, idempotently, and returns the receipt
    /// once the store has flushed. The same extract again is acknowledged
    /// again; a different one for a job already done is refused and the
    /// stored one kept. An upload after its lease expired is accepted while
    /// the job is not done.
    pub fn accept_upload(
        &self,
        agent_id: &str,
        upload: &UploadRequest,
        now_ms: u64,
    ) -> Result<Receipt, Refusal> {
        let actual = ContentHash::of_bytes(upload.extract.as_bytes());
        if actual != upload.extract_hash {
            return Err(Refusal::HashMismatch {
                claimed: upload.extract_hash,
                actual,
            });
        }
        let _guard = self.lock();
        let mut record = self.job(&upload.job_id)?;
        if !record.leased_to.iter().any(|a| a == agent_id) {
            return Err(Refusal::NotYourJob {
                job: upload.job_id.clone(),
                agent: agent_id.to_owned(),
            });
        }
        if let Some(stored) = self.result(&upload.job_id)? {
            return if stored.extract_hash == upload.extract_hash {
                Ok(Receipt {
                    job_id: stored.job_id,
                    extract_hash: stored.extract_hash,
                    stored_ms: stored.stored_ms,
                })
            } else {
                Err(Refusal::Conflict {
                    job: upload.job_id.clone(),
                    stored: stored.extract_hash,
                    offered: upload.extract_hash,
                })
            };
        }
        let extract: Extract = serde_json::from_str(&upload.extract)
            .map_err(|e| Refusal::BadExtract(e.to_string()))?;
        let canonical = gpes_canon::to_canonical_string(&extract)
            .map_err(|e| Refusal::BadExtract(e.to_string()))?;
        if canonical != upload.extract {
            return Err(Refusal::BadExtract(
                "the extract is not in canonical form (RFC 8785)".into(),
            ));
        }
        let check = |field: &'static str, got: &str, want: &str| {
            if got == want {
                Ok(())
            } else {
                Err(Refusal::WrongExtract {
                    field,
                    got: got.to_owned(),
                    want: want.to_owned(),
                })
            }
        };
        check("practice", &extract.practice, &record.job.practice)?;
        check(
            "query",
            &extract.query_hash.to_string(),
            &record.job.query.hash.to_string(),
        )?;
        let stored = StoredResult {
            job_id: upload.job_id.clone(),
            agent_id: agent_id.to_owned(),
            extract: upload.extract.clone(),
            extract_hash: upload.extract_hash,
            stored_ms: now_ms,
        };
        self.results.put_json(upload.job_id.as_bytes(), &stored)?;
        record.state = JobState::Done {
            extract_hash: stored.extract_hash,
            stored_ms: now_ms,
        };
        self.jobs.put_json(upload.job_id.as_bytes(), &record)?;
        self.flush()?;
        Ok(Receipt {
            job_id: stored.job_id,
            extract_hash: stored.extract_hash,
            stored_ms: now_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gpes_protocol::{
        AggregateResult, Answer, DataClass, PopulationCount, Purpose, QuerySpec, ResultOutput,
    };

    fn state(dir: &tempfile::TempDir) -> State {
        let store = Store::open(&dir.path().join("store"), Default::default()).expect("store");
        State::new(store).expect("state")
    }

    fn enroll(state: &State, agent: &str, secret: &str) {
        state
            .create_token(agent, &hash_secret(secret), vec!["A81001".into()], u64::MAX)
            .expect("token");
        state.redeem_token(secret, 0).expect("redeem");
    }

    fn upload_for(job: &Job) -> UploadRequest {
        let extract = Extract {
            practice: job.practice.clone(),
            query_hash: job.query.hash,
            parameters: job.parameters.clone(),
            plugin_name: "p".into(),
            plugin_version: "1".into(),
            engine_version: "1".into(),
            inputs: vec![],
            result: Answer {
                output: ResultOutput::Aggregate(AggregateResult {
                    populations: vec![PopulationCount {
                        population: "REGISTERED".into(),
                        count: Some(3),
                        suppressed: false,
                        cells: vec![],
                    }],
                }),
                patients_evaluated: 3,
                passes: 1,
                excluded_by_policy: 0,
                records_without_patient: 0,
            },
            data_quality_warnings: vec![],
        };
        let canonical = gpes_canon::to_canonical_string(&extract).expect("canonical");
        UploadRequest {
            job_id: job.job_id.clone(),
            extract_hash: ContentHash::of_bytes(canonical.as_bytes()),
            extract: canonical,
        }
    }

    #[test]
    fn an_expired_lease_is_handed_out_again_and_a_late_upload_is_still_accepted() {
        let dir = tempfile::tempdir().expect("temp dir");
        let state = state(&dir);
        // Two agents serving the same practice (a site moving machines).
        enroll(&state, "agent-a", "secret-a");
        enroll(&state, "agent-b", "secret-b");
        let source = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/queries/registered.yaml"
        ))
        .expect("example query");
        let canonical = gpes_query::parse("registered.yaml", &source)
            .expect("valid")
            .canonical_json()
            .expect("canonical");
        let collection = Collection {
            id: "c".into(),
            name: "c".into(),
            query: QuerySpec {
                hash: ContentHash::of_bytes(canonical.as_bytes()),
                canonical,
                source,
            },
            parameters: [("PPED".to_string(), "2025-03-31".to_string())].into(),
            schedule: String::new(),
            practices: vec!["A81001".into()],
            purpose: Purpose::Planning,
            data_class: DataClass::Aggregate,
            created_ms: 0,
        };
        state.create_collection(&collection).expect("collection");
        state.fire(&collection, 1, "2025-03-31").expect("run");

        let taken = state.lease_jobs("agent-a", &[], 1_000, 100).expect("lease");
        assert_eq!(taken.len(), 1);
        assert_eq!(taken[0].lease_expires_ms, 1_100);
        assert!(
            state
                .lease_jobs("agent-b", &[], 1_099, 100)
                .expect("lease")
                .is_empty()
        );
        let again = state.lease_jobs("agent-b", &[], 1_100, 100).expect("lease");
        assert_eq!(again.len(), 1, "handed out again once the lease expired");

        // agent-a finishes late: the job is not done, so its result counts.
        let receipt = state
            .accept_upload("agent-a", &upload_for(&taken[0]), 2_000)
            .expect("accepted after its lease");
        assert_eq!(receipt.stored_ms, 2_000);
        assert!(
            state
                .lease_jobs("agent-b", &[], 5_000, 100)
                .expect("lease")
                .is_empty()
        );
        // agent-b's identical result is acknowledged with the same receipt.
        let second = state
            .accept_upload("agent-b", &upload_for(&again[0]), 3_000)
            .expect("same hash");
        assert_eq!(second, receipt);
    }
}
