//! Benchmark: what an agent's poll and upload cost at the coordinator,
//! with no finished jobs stored and then with many (1,000,000 by
//! default), in the same invocation (the first is the baseline the ratios
//! are against). A real coordinator in this process on loopback, a real
//! enrolled agent identity over mutual TLS; the finished jobs are written
//! straight into the store (through the API they would take hours).
//!
//! cargo run --release -p gpes-tests --bin bench-coordinator -- [FINISHED_JOBS] [POSTGRES_URL]
//!
//! Without POSTGRES_URL the store is the embedded SQLite; with it (a URL
//! that may create databases) a fresh database on that server.

use gpes_client::Uplink;
use gpes_coordinator::Config;
use gpes_protocol::{
    CreateCollectionRequest, CreateTokenRequest, CreateTokenResponse, DataClass, PollRequest,
    PollResponse, Purpose, Receipt, Run,
};
use gpes_schedule::SystemClock;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const TIMEOUT: Duration = Duration::from_secs(60);
const PRACTICE: &str = "A81001";
/// Practices the stored jobs are spread over (the agent's among them).
const PRACTICES: u64 = 1_000;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Peak resident memory of this process so far, in MiB (Linux VmHWM).
fn peak_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

struct Timings {
    poll_p50: f64,
    poll_p99: f64,
    cycle_p50: f64,
    cycle_p99: f64,
}

/// 300 empty polls (nothing waiting for the agent), then 30 cycles of
/// run now, poll (one job), upload: milliseconds.
async fn measure(operator: &Uplink, agent: &Uplink, collection: &str) -> anyhow::Result<Timings> {
    let poll = PollRequest {
        practices: vec![],
        wait_ms: 0,
        ..Default::default()
    };
    let mut polls = Vec::new();
    for _ in 0..300 {
        let t = Instant::now();
        let r: PollResponse = agent.post("/v1/jobs/poll", &poll, TIMEOUT).await?;
        polls.push(t.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(r.jobs.is_empty(), "a job was waiting");
    }
    let mut cycles = Vec::new();
    for _ in 0..30 {
        let t = Instant::now();
        let _: Run = operator
            .post(&format!("/v1/collections/{collection}/run"), &(), TIMEOUT)
            .await?;
        let mut r: PollResponse = agent.post("/v1/jobs/poll", &poll, TIMEOUT).await?;
        let job = r
            .jobs
            .pop()
            .ok_or_else(|| anyhow::anyhow!("no job handed out"))?;
        let upload = gpes_tests::sealed_upload(&job, 1);
        let _: Receipt = agent.post("/v1/results", &upload, TIMEOUT).await?;
        cycles.push(t.elapsed().as_secs_f64() * 1000.0);
        // Runs are unique per collection and millisecond.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    polls.sort_by(f64::total_cmp);
    cycles.sort_by(f64::total_cmp);
    Ok(Timings {
        poll_p50: percentile(&polls, 0.5),
        poll_p99: percentile(&polls, 0.99),
        cycle_p50: percentile(&cycles, 0.5),
        cycle_p99: percentile(&cycles, 0.99),
    })
}

/// Writes `n` finished jobs (and their runs, 1,000 jobs each) of
/// `collection` straight into the store.
async fn store_finished(
    db: &gpes_coordinator::db::Db,
    collection: &str,
    n: u64,
) -> anyhow::Result<()> {
    use gpes_coordinator::db::Backend;
    let runs = n.div_ceil(PRACTICES);
    let (runs_sql, jobs_sql) = match db.backend() {
        Backend::Sqlite => (
            format!(
                "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {last_run}) \
                 INSERT INTO runs (id, collection_id, due_ms, created_ms, deadline_ms, parameters) \
                 SELECT 'bench-run-' || i, '{collection}', i, i, i + 1, '{{}}' FROM n",
                last_run = runs - 1
            ),
            format!(
                "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {last}) \
                 INSERT INTO jobs (id, run_id, practice, state, agent_id, not_before_ms, deadline_ms, \
                 attempts, updated_ms) \
                 SELECT 'bench-job-' || i, 'bench-run-' || (i / {PRACTICES}), \
                 CASE WHEN i % {PRACTICES} = 0 THEN '{PRACTICE}' ELSE 'P' || (i % {PRACTICES}) END, \
                 'done', 'bench', 0, 1, 1, 1 FROM n",
                last = n - 1
            ),
        ),
        Backend::Postgres => (
            format!(
                "INSERT INTO runs (id, collection_id, due_ms, created_ms, deadline_ms, parameters) \
                 SELECT 'bench-run-' || i, '{collection}', i, i, i + 1, '{{}}' \
                 FROM generate_series(0, {last_run}) AS i",
                last_run = runs - 1
            ),
            format!(
                "INSERT INTO jobs (id, run_id, practice, state, agent_id, not_before_ms, deadline_ms, \
                 attempts, updated_ms) \
                 SELECT 'bench-job-' || i, 'bench-run-' || (i / {PRACTICES}), \
                 CASE WHEN i % {PRACTICES} = 0 THEN '{PRACTICE}' ELSE 'P' || (i % {PRACTICES}) END, \
                 'done', 'bench', 0, 1, 1, 1 FROM generate_series(0, {last}) AS i",
                last = n - 1
            ),
        ),
    };
    let mut tx = db.write().await?;
    sqlx::query(sqlx::AssertSqlSafe(runs_sql))
        .execute(&mut *tx)
        .await?;
    sqlx::query(sqlx::AssertSqlSafe(jobs_sql))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    if db.backend() == Backend::Postgres {
        sqlx::query("ANALYZE").execute(db.pool()).await?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let finished: u64 = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let postgres = args.next();

    let dir = tempfile::tempdir()?;
    let mut config = Config::with_data_dir(dir.path().join("coordinator"));
    config.agent_listen = "127.0.0.1:0".parse()?;
    config.operator_listen = "127.0.0.1:0".parse()?;
    config.scheduler_tick_ms = 3_600_000;
    let backend = match &postgres {
        Some(server) => {
            let url = gpes_tests::create_database(server, "gpes_bench").await?;
            gpes_coordinator::init(&config.data_dir)?;
            config.database_url = Some(url);
            "PostgreSQL"
        }
        None => "SQLite",
    };
    let shutdown = CancellationToken::new();
    let running = gpes_coordinator::start(config, Arc::new(SystemClock), shutdown.clone()).await?;
    let tls = gpes_pki::operator_client_config(&running.ca_pem)?;
    let admin = std::fs::read_to_string(&running.admin_token_path)?;
    let operator = Uplink::new(&running.operator_addr.to_string(), tls)
        .map_err(anyhow::Error::msg)?
        .with_bearer(admin.trim());
    gpes_tests::import_test_registry(&operator).await;
    let token: CreateTokenResponse = operator
        .post(
            "/v1/tokens",
            &CreateTokenRequest {
                practices: vec![PRACTICE.into()],
                ttl_seconds: 600,
            },
            TIMEOUT,
        )
        .await?;
    let agent_dir = dir.path().join("agent");
    gpes_agent::identity::enroll(&agent_dir, &token.token).await?;
    let identity = gpes_agent::identity::load(&agent_dir)?;
    let agent =
        Uplink::new(&running.agent_addr.to_string(), identity.tls).map_err(anyhow::Error::msg)?;
    let mut parameters = BTreeMap::new();
    parameters.insert("PPED".to_string(), "2025-03-31".to_string());
    let collection: gpes_protocol::Collection = operator
        .post(
            "/v1/collections",
            &CreateCollectionRequest {
                name: "bench".into(),
                query: gpes_tests::registered_count_query(),
                query_ref: None,
                parameters,
                schedule: String::new(),
                practices: vec![PRACTICE.into()],
                targeting: Default::default(),
                purpose: Purpose::Planning,
                data_class: DataClass::Aggregate,
                deadline_seconds: None,
                draft: false,
                terms: Default::default(),
            },
            TIMEOUT,
        )
        .await?;

    println!("coordinator on {backend}, release build, one agent over mutual TLS");
    let empty = measure(&operator, &agent, &collection.id).await?;
    let t = Instant::now();
    store_finished(&running.db, &collection.id, finished).await?;
    let filled_s = t.elapsed().as_secs_f64();
    let full = measure(&operator, &agent, &collection.id).await?;
    println!("({finished} finished jobs written in {filled_s:.1} s)");
    println!();
    println!(
        "| store | finished jobs | empty poll p50 / p99 (ms) | run now + poll + upload p50 / p99 (ms) |"
    );
    println!("|---|---:|---:|---:|");
    for (n, t) in [(0, &empty), (finished, &full)] {
        println!(
            "| {backend} | {n} | {:.2} / {:.2} | {:.2} / {:.2} |",
            t.poll_p50, t.poll_p99, t.cycle_p50, t.cycle_p99
        );
    }
    println!(
        "ratio with {finished} stored to empty: poll p50 {:.2}, cycle p50 {:.2}; peak RSS {:.0} MiB",
        full.poll_p50 / empty.poll_p50,
        full.cycle_p50 / empty.cycle_p50,
        peak_mib()
    );
    shutdown.cancel();
    running.tracker.wait().await;
    Ok(())
}
