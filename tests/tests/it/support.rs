use gpes_agent::daemon::Daemon;
use gpes_client::{Uplink, UplinkError};
use gpes_coordinator::{Config, Running};
use gpes_protocol::{
    CreateCollectionRequest, CreateTokenRequest, CreateTokenResponse, DataClass, Purpose,
    RunResults, RunSummary,
};
use gpes_schedule::SystemClock;
use sqlx::{Column, Row};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub const TIMEOUT: Duration = Duration::from_secs(30);

/// A coordinator running in this process on loopback ports.
pub struct Coordinator {
    pub running: Running,
    pub shutdown: CancellationToken,
    /// Kept so the data directory lives as long as the coordinator.
    _dir: tempfile::TempDir,
}

/// The environment variable naming a PostgreSQL server (a URL that may
/// create databases). `scripts/test.sh` starts a server and sets it; the
/// tests that compare the two backends need it.
pub const POSTGRES_ENV: &str = "GPES_TEST_POSTGRES_URL";
/// Set to `postgres` (with `POSTGRES_ENV`), every coordinator of the suite
/// stores its state in a fresh database on that server instead of SQLite:
/// `scripts/test.sh` runs the coordinator suites a second time so.
pub const BACKEND_ENV: &str = "GPES_TEST_BACKEND";

/// The PostgreSQL server to test against, if the suite was given one.
pub fn postgres_server() -> Option<String> {
    std::env::var(POSTGRES_ENV).ok().filter(|u| !u.is_empty())
}

/// The PostgreSQL server, for tests that always need one.
pub fn require_postgres() -> String {
    postgres_server().unwrap_or_else(|| {
        panic!(
            "this test needs a PostgreSQL server: run scripts/test.sh (it starts one), \
             or set {POSTGRES_ENV} to a URL that may create databases"
        )
    })
}

/// A new, empty database for a coordinator of the suite, when the suite
/// runs on PostgreSQL; `None` on the SQLite default.
pub async fn fresh_database() -> Option<String> {
    match std::env::var(BACKEND_ENV).as_deref() {
        Ok("postgres") => Some(fresh_database_on(&require_postgres()).await),
        Ok("sqlite") | Ok("") | Err(_) => None,
        Ok(other) => panic!("{BACKEND_ENV} must be sqlite or postgres, not '{other}'"),
    }
}

pub async fn fresh_database_on(server: &str) -> String {
    gpes_tests::create_database(server, "gpes_test")
        .await
        .expect("create a test database")
}

impl Coordinator {
    pub async fn start() -> Coordinator {
        Coordinator::start_with(|_| {}).await
    }

    /// Starts a coordinator after `adjust` has changed its configuration.
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Coordinator {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config::with_data_dir(dir.path().join("coordinator"));
        config.agent_listen = "127.0.0.1:0".parse().expect("addr");
        config.operator_listen = "127.0.0.1:0".parse().expect("addr");
        config.scheduler_tick_ms = 200;
        if let Some(url) = fresh_database().await {
            gpes_coordinator::init(&config.data_dir).expect("init");
            config.database_url = Some(url);
        }
        adjust(&mut config);
        let shutdown = CancellationToken::new();
        let running = gpes_coordinator::start(config, Arc::new(SystemClock), shutdown.clone())
            .await
            .expect("coordinator starts");
        let coordinator = Coordinator {
            running,
            shutdown,
            _dir: dir,
        };
        gpes_tests::import_test_registry(&coordinator.operator()).await;
        coordinator
    }

    /// A user with these grants (role, scope) and a token; the uplink
    /// speaking as them, and the token.
    pub async fn user(&self, id: &str, grants: &[(&str, Option<&str>)]) -> (Uplink, String) {
        let admin = self.operator();
        let _: gpes_protocol::User = admin
            .post(
                "/v1/users",
                &gpes_protocol::CreateUserRequest {
                    id: id.into(),
                    name: format!("User {id}"),
                },
                TIMEOUT,
            )
            .await
            .expect("make a user");
        for (role, scope) in grants {
            let _: gpes_protocol::User = admin
                .post(
                    &format!("/v1/users/{id}/grants"),
                    &gpes_protocol::GrantSpec {
                        role: (*role).into(),
                        scope: scope.map(str::to_owned),
                    },
                    TIMEOUT,
                )
                .await
                .expect("grant");
        }
        let token: gpes_protocol::CreateUserTokenResponse = admin
            .post(
                &format!("/v1/users/{id}/tokens"),
                &gpes_protocol::CreateUserTokenRequest {
                    ttl_days: 1,
                    label: None,
                },
                TIMEOUT,
            )
            .await
            .expect("token");
        let base = Uplink::new(
            &self.running.operator_addr.to_string(),
            gpes_pki::operator_client_config(&self.running.ca_pem).expect("tls"),
        )
        .expect("uplink");
        (base.with_bearer(&token.secret), token.secret)
    }

    /// An uplink to the operator listener speaking with `token`.
    pub fn user_uplink(&self, token: &str) -> Uplink {
        Uplink::new(
            &self.running.operator_addr.to_string(),
            gpes_pki::operator_client_config(&self.running.ca_pem).expect("tls"),
        )
        .expect("uplink")
        .with_bearer(token)
    }

    /// Runs one gpesctl command line in this process, as the holder of
    /// `token`, against this coordinator: what a person typing it gets
    /// (an error carries gpesctl's message).
    pub async fn gpesctl(&self, token: &str, line: &[&str]) -> anyhow::Result<()> {
        let dir = tempfile::tempdir().expect("temp dir");
        let ca = dir.path().join("ca.pem");
        let token_file = dir.path().join("token");
        std::fs::write(&ca, &self.running.ca_pem).expect("write the CA");
        std::fs::write(&token_file, token).expect("write the token");
        let address = self.running.operator_addr.to_string();
        let mut full = vec![
            "gpesctl",
            "--address",
            &address,
            "--ca",
            ca.to_str().expect("path"),
            "--token-file",
            token_file.to_str().expect("path"),
        ];
        full.extend_from_slice(line);
        let args = gpesctl::args_from(&full).map_err(|e| anyhow::anyhow!(e))?;
        gpesctl::run(&args).await
    }

    pub fn admin_token(&self) -> String {
        std::fs::read_to_string(&self.running.admin_token_path)
            .expect("admin token")
            .trim()
            .to_owned()
    }

    pub fn operator(&self) -> Uplink {
        let tls = gpes_pki::operator_client_config(&self.running.ca_pem).expect("tls");
        let token = std::fs::read_to_string(&self.running.admin_token_path).expect("admin token");
        Uplink::new(&self.running.operator_addr.to_string(), tls)
            .expect("uplink")
            .with_bearer(token.trim())
    }

    pub async fn token(&self, practices: &[&str], ttl_seconds: u64) -> CreateTokenResponse {
        self.operator()
            .post(
                "/v1/tokens",
                &CreateTokenRequest {
                    practices: practices.iter().map(|p| p.to_string()).collect(),
                    ttl_seconds,
                },
                TIMEOUT,
            )
            .await
            .expect("token")
    }

    pub async fn create_collection(
        &self,
        practices: &[&str],
        schedule: &str,
    ) -> Result<gpes_protocol::Collection, UplinkError> {
        self.create_collection_of(&gpes_tests::registered_count_query(), practices, schedule)
            .await
    }

    /// A collection of any query, with PPED 2025-03-31.
    pub async fn create_collection_of(
        &self,
        query: &str,
        practices: &[&str],
        schedule: &str,
    ) -> Result<gpes_protocol::Collection, UplinkError> {
        let mut parameters = BTreeMap::new();
        parameters.insert("PPED".to_string(), "2025-03-31".to_string());
        self.operator()
            .post(
                "/v1/collections",
                &CreateCollectionRequest {
                    name: "registered patients".into(),
                    query: query.to_owned(),
                    query_ref: None,
                    parameters,
                    schedule: schedule.into(),
                    practices: practices.iter().map(|p| p.to_string()).collect(),
                    targeting: Default::default(),
                    purpose: Purpose::Planning,
                    data_class: DataClass::Aggregate,
                    deadline_seconds: None,
                    draft: false,
                    terms: Default::default(),
                },
                TIMEOUT,
            )
            .await
    }

    pub async fn run_now(&self, collection: &str) -> gpes_protocol::Run {
        self.operator()
            .post(&format!("/v1/collections/{collection}/run"), &(), TIMEOUT)
            .await
            .expect("run now")
    }

    /// Waits until no job of the run is pending or running.
    pub async fn wait_done(&self, run_id: &str) -> RunResults {
        wait_done(&self.operator(), run_id).await
    }

    /// Every row of the state tables, rendered as text: what a refusal
    /// must leave unchanged. Leaves out the refusals log, the scheduler's
    /// lease, what heartbeats write and a token's last use (operational
    /// state).
    pub async fn snapshot(&self) -> BTreeMap<String, Vec<String>> {
        const OPERATIONAL: [&str; 7] = [
            "last_seen_ms",
            "agent_version",
            "protocol_version",
            "plugin_name",
            "plugin_version",
            "buffer_depth",
            "last_error",
        ];
        let db = &self.running.db;
        let columns = db.columns().await.expect("columns");
        let mut tables: Vec<String> = columns.iter().map(|(t, _)| t.clone()).collect();
        tables.dedup();
        let mut out = BTreeMap::new();
        for table in tables {
            if table == "refusals" || table == "scheduler_lease" {
                continue;
            }
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT * FROM {table}")))
                .fetch_all(db.pool())
                .await
                .expect("read a table");
            let mut lines: Vec<String> = rows
                .iter()
                .map(|row| {
                    row.columns()
                        .iter()
                        .filter(|c| {
                            let operational = match table.as_str() {
                                "agent_practices" | "agents" => OPERATIONAL.contains(&c.name()),
                                "user_tokens" => c.name() == "last_used_ms",
                                // The scheduler's own bookkeeping, moved
                                // on each tick.
                                "collections" => c.name() == "schedule_mark_ms",
                                _ => false,
                            };
                            !operational
                        })
                        .map(|c| {
                            let i = c.ordinal();
                            let value = match row.try_get::<Option<i64>, _>(i) {
                                Ok(v) => format!("{v:?}"),
                                Err(_) => format!(
                                    "{:?}",
                                    row.try_get::<Option<String>, _>(i).ok().flatten()
                                ),
                            };
                            format!("{}={value}", c.name())
                        })
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect();
            lines.sort();
            out.insert(table, lines);
        }
        out
    }

    /// The stored result of a job: (agent id, extract, extract hash).
    pub async fn stored(&self, job_id: &str) -> Option<(String, String, String)> {
        sqlx::query_as("SELECT agent_id, extract, extract_hash FROM results WHERE job_id = $1")
            .bind(job_id)
            .fetch_optional(self.running.db.pool())
            .await
            .expect("read a result")
    }

    /// How many rows a table has.
    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
            .fetch_one(self.running.db.pool())
            .await
            .expect("count")
    }
}

/// Every result of a run, following the pages.
pub async fn run_results(operator: &Uplink, run_id: &str) -> Result<RunResults, UplinkError> {
    let base = format!("/v1/runs/{run_id}/results");
    let mut all: RunResults = operator.get(&base, TIMEOUT).await?;
    let mut next = all.next.take();
    while let Some(cursor) = next {
        let page: RunResults = operator
            .get(&format!("{base}?cursor={cursor}"), TIMEOUT)
            .await?;
        all.results.extend(page.results);
        next = page.next;
    }
    Ok(all)
}

/// Waits until no job of the run is pending or running, and returns every
/// result.
pub async fn wait_done(operator: &Uplink, run_id: &str) -> RunResults {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(summary) = operator
            .get::<RunSummary>(&format!("/v1/runs/{run_id}"), TIMEOUT)
            .await
            && summary.jobs.finished()
        {
            return run_results(operator, run_id).await.expect("results");
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "run {run_id} did not finish within 120 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

impl Drop for Coordinator {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// An agent running in this process.
pub struct Agent {
    pub agent_id: String,
    shutdown: CancellationToken,
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Enrolls an agent for the given demo practices with `token` and starts it.
pub async fn start_agent(dir: &Path, token: &str, practices: &[&str]) -> Agent {
    let with_data: Vec<(&str, PathBuf)> = practices
        .iter()
        .map(|p| (*p, gpes_tests::practice_data(p)))
        .collect();
    start_agent_with(dir, token, &with_data).await
}

/// Enrolls an agent for practices whose data is where given, and starts it.
pub async fn start_agent_with(dir: &Path, token: &str, with_data: &[(&str, PathBuf)]) -> Agent {
    let data_dir = dir.join("data");
    let text = gpes_tests::agent_config(&data_dir, with_data, 2);
    let config = gpes_agent::Config::parse(&text, Path::new("agent.toml")).expect("config");
    let enrollment = gpes_agent::identity::enroll(&data_dir, token)
        .await
        .expect("enrollment");
    let identity = gpes_agent::identity::load(&data_dir).expect("identity");
    let runner = gpes_agent::runner::Runner::new(&config)
        .await
        .expect("the signed plugins verify");
    let daemon = Daemon::new(config, identity, runner).expect("daemon");
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move { daemon.run(stop).await });
    Agent {
        agent_id: enrollment.agent_id,
        shutdown,
    }
}

/// An uplink to the agent listener with an enrolled agent's identity.
pub fn agent_uplink(coordinator: &Coordinator, data_dir: &Path) -> Uplink {
    let identity = gpes_agent::identity::load(data_dir).expect("identity");
    Uplink::new(&coordinator.running.agent_addr.to_string(), identity.tls).expect("uplink")
}

/// Enrolls an agent without starting it (for tests that speak for it).
pub async fn enroll_only(dir: &Path, token: &str) -> PathBuf {
    let data_dir = dir.join("data");
    gpes_agent::identity::enroll(&data_dir, token)
        .await
        .expect("enrollment");
    data_dir
}

/// Builds the extract an agent would send for a job, with a chosen count.
pub fn upload_for(job: &gpes_protocol::Job, registered: u64) -> gpes_protocol::UploadRequest {
    upload_changed(job, registered, |_| {})
}

/// The extract of `upload_for`, changed by `change` before it is sealed.
pub fn upload_changed(
    job: &gpes_protocol::Job,
    registered: u64,
    change: impl FnOnce(&mut gpes_protocol::Extract),
) -> gpes_protocol::UploadRequest {
    gpes_tests::sealed_upload_with(job, registered, change)
}

/// (path, method) pairs declared by `.route(...)` calls in a router's
/// source, however rustfmt wrapped them.
pub fn declared(source: &str) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    let mut rest = source;
    while let Some(at) = rest.find(".route(") {
        rest = &rest[at + ".route(".len()..];
        let mut depth = 1;
        let mut end = 0;
        for (i, c) in rest.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        end = i;
                        break;
                    }
                }
                _ => {}
            }
        }
        let call = &rest[..end];
        let path = call.split('"').nth(1).expect("a route's path literal");
        for method in ["get", "post", "put", "patch", "delete"] {
            let mut from = 0;
            while let Some(i) = call[from..].find(&format!("{method}(")) {
                let i = from + i;
                let before = call[..i].chars().last();
                if matches!(before, None | Some(' ' | '\n' | ',' | '.')) {
                    out.insert((path.to_owned(), method.to_owned()));
                }
                from = i + method.len();
            }
        }
    }
    out
}

/// Every (path, method) a listener's router serves, read from the
/// source files its router is built from.
pub fn routed(listener: &str) -> BTreeSet<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../coordinator/server/src/http");
    // The agent listener is agent.rs; every other file of http/ routes
    // for the operator listener (a new file is read without a change here).
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(&root)
        .expect("http folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .filter(|p| (p.file_name().expect("name") == "agent.rs") == (listener == "agent"))
        .collect();
    assert!(
        matches!(listener, "operator" | "agent"),
        "no listener '{listener}'"
    );
    files.sort();
    let mut out = BTreeSet::new();
    for file in files {
        let source = std::fs::read_to_string(&file).expect("router source");
        out.extend(declared(&source));
    }
    out
}
