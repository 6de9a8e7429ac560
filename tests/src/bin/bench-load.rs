//! Benchmark: a national collection's fan-out. A real coordinator process
//! (the release `e2e-coordinator`, on SQLite or PostgreSQL) and simulated
//! agents with real mutual-TLS sessions, many per process and several
//! processes, on loopback: AGENTS enrolled agents, one practice each, as
//! many holding a long-poll connection at once as the file limit allows
//! (the rest connect for a short poll and go); one collection fanned out
//! to all of them, and every aggregate result stored.
//!
//! cargo build --release -p gpes-tests --bins
//! target/release/bench-load [AGENTS] [POSTGRES_URL]
//!
//! It prints the time from firing the run to every result stored, the
//! coordinator's peak resident memory, and p50/p99 of: a job's delivery
//! (fired to in the agent's hands), an upload (sent to receipt), and an
//! empty poll made while every connection is held.

use anyhow::{Context, bail};
use bytes::Bytes;
use gpes_client::Uplink;
use gpes_protocol::{
    CreateCollectionRequest, CreateTokenRequest, CreateTokenResponse, DataClass, EnrollRequest,
    EnrollResponse, PollRequest, PollResponse, PracticeImportRequest, PracticeImportResponse,
    PracticeRecord, PracticeStatus, Purpose, Run, RunSummary, VERSION_HEADER,
};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncBufReadExt;
use tokio_util::sync::CancellationToken;

const TIMEOUT: Duration = Duration::from_secs(120);
/// Worker processes the agents are spread over.
const WORKERS: usize = 4;
/// At most this many agents hold a connection: the coordinator may have
/// 20,000 files open, and needs some for itself.
const HELD: usize = 19_000;
/// New connections a second, over all workers: the listen backlog is
/// 4,096, and handshakes cost the coordinator's CPU.
const RAMP_PER_SECOND: usize = 600;
/// Agents per worker that measure empty polls once the run is done.
const PROBES: usize = 50;

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// A process's resident memory: (now, peak), MiB.
fn memory_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// One enrolled agent, as the workers are given it.
#[derive(serde::Serialize, serde::Deserialize)]
struct AgentLine {
    id: String,
    practice: String,
    key_pem: String,
    cert_pem: String,
}

/// What a worker reports when it stops.
#[derive(serde::Serialize, serde::Deserialize, Default)]
struct WorkerReport {
    /// Unix ms at which each job reached its agent.
    received_ms: Vec<u64>,
    upload_ms: Vec<f64>,
    empty_poll_ms: Vec<f64>,
    errors: u64,
    last_error: Option<String>,
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    if args.get(1).map(String::as_str) == Some("worker") {
        return runtime.block_on(worker(&args[2..]));
    }
    let agents: usize = args.get(1).map_or(Ok(20_000), |a| a.parse())?;
    let postgres = args.get(2).cloned();
    runtime.block_on(bench(agents, postgres))
}

// ---- the conductor ----

struct CoordinatorProcess {
    child: Child,
    operator: Uplink,
    agent_addr: String,
    ca_pem: String,
}

impl Drop for CoordinatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

async fn start_coordinator(
    dir: &Path,
    postgres: Option<&str>,
    agents: usize,
) -> anyhow::Result<CoordinatorProcess> {
    let exe = std::env::current_exe()?
        .parent()
        .context("no folder")?
        .join("e2e-coordinator");
    if !exe.exists() {
        bail!(
            "{} is missing: cargo build --release -p gpes-tests --bins",
            exe.display()
        );
    }
    let data_dir = dir.join("coordinator");
    let (agent_port, operator_port) = (free_port()?, free_port()?);
    let mut config = format!(
        "data_dir = \"{}\"\nagent_listen = \"127.0.0.1:{agent_port}\"\n\
         operator_listen = \"127.0.0.1:{operator_port}\"\nagent_max_connections = {}\n\
         operator_max_connections = 256\n",
        data_dir.display(),
        (agents + 500).min(19_800),
    );
    if let Some(server) = postgres {
        let url = gpes_tests::create_database(server, "gpes_bench_load").await?;
        config.push_str(&format!("database_url = \"{url}\"\n"));
    }
    let config_path = dir.join("coordinator.toml");
    std::fs::write(&config_path, config)?;
    let init = Command::new(&exe)
        .arg("--config")
        .arg(&config_path)
        .arg("init")
        .status()?;
    if !init.success() {
        bail!("gpes-coordinator init failed");
    }
    let child = Command::new(&exe)
        .arg("--config")
        .arg(&config_path)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("coordinator.log"))?)
        .spawn()?;
    let ca_pem = std::fs::read_to_string(data_dir.join("ca").join(gpes_pki::CA_CERT_FILE))?;
    let token = std::fs::read_to_string(data_dir.join("admin.token"))?;
    let operator = Uplink::new(
        &format!("127.0.0.1:{operator_port}"),
        gpes_pki::operator_client_config(&ca_pem)?,
    )
    .map_err(anyhow::Error::msg)?
    .with_bearer(token.trim());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match operator
            .get::<serde_json::Value>("/v1/me", Duration::from_secs(5))
            .await
        {
            Ok(_) => break,
            Err(e) if Instant::now() > deadline => bail!("the coordinator did not start: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    Ok(CoordinatorProcess {
        child,
        operator,
        agent_addr: format!("127.0.0.1:{agent_port}"),
        ca_pem,
    })
}

fn practice_code(i: usize) -> String {
    format!("L{:05}", 10_000 + i)
}

/// Enrolls one agent for one practice, in memory: the key never touches
/// the disk of this benchmark but in the workers' input file.
async fn enroll(operator: &Uplink, practice: &str) -> anyhow::Result<AgentLine> {
    let token: CreateTokenResponse = operator
        .post(
            "/v1/tokens",
            &CreateTokenRequest {
                practices: vec![practice.to_owned()],
                ttl_seconds: 3600,
            },
            TIMEOUT,
        )
        .await?;
    let decoded = gpes_pki::EnrollmentToken::decode(&token.token)?;
    let pinned = gpes_pki::pinned_client_config(decoded.ca_pin()?)?;
    let uplink = Uplink::new(&decoded.coordinator, pinned)
        .map_err(anyhow::Error::msg)?
        .with_bearer(&decoded.secret);
    let key = gpes_pki::AgentKey::generate()?;
    let response: EnrollResponse = uplink
        .post(
            "/v1/enroll",
            &EnrollRequest {
                secret: decoded.secret.clone(),
                csr_pem: key.csr_pem("bench")?,
            },
            TIMEOUT,
        )
        .await?;
    Ok(AgentLine {
        id: response.agent_id,
        practice: practice.to_owned(),
        key_pem: key.key_pem(),
        cert_pem: response.certificate_pem,
    })
}

async fn bench(agents: usize, postgres: Option<String>) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let backend = if postgres.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    eprintln!("bench-load: {agents} agents on {backend}");
    let coordinator = start_coordinator(dir.path(), postgres.as_deref(), agents).await?;
    let operator = coordinator.operator.clone();

    // The registry: one practice per agent.
    let codes: Vec<String> = (0..agents).map(practice_code).collect();
    for chunk in codes.chunks(2_000) {
        let _: PracticeImportResponse = operator
            .post(
                "/v1/practices/import",
                &PracticeImportRequest {
                    practices: chunk
                        .iter()
                        .map(|code| PracticeRecord {
                            code: code.clone(),
                            name: format!("Load practice {code}"),
                            region: "99L".into(),
                            status: PracticeStatus::Active,
                            open_date: None,
                            close_date: None,
                        })
                        .collect(),
                    successors: vec![],
                },
                TIMEOUT,
            )
            .await?;
    }

    // Enrollment, 32 at a time.
    let started = Instant::now();
    let lines = Arc::new(Mutex::new(Vec::with_capacity(agents)));
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let (operator, codes, lines, next) =
            (operator.clone(), codes.clone(), lines.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(code) = codes.get(i) else {
                    return Ok::<(), anyhow::Error>(());
                };
                let line = enroll(&operator, code).await?;
                lines.lock().expect("lines").push(line);
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    let lines = std::mem::take(&mut *lines.lock().expect("lines"));
    eprintln!(
        "bench-load: {} agents enrolled in {:.1} s",
        lines.len(),
        started.elapsed().as_secs_f64()
    );

    // The workers, each with its share of the agents.
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &coordinator.ca_pem)?;
    let mut workers = Vec::new();
    let per_worker = agents.div_ceil(WORKERS);
    let held_per_worker = HELD.min(agents).div_ceil(WORKERS);
    for (w, share) in lines.chunks(per_worker).enumerate() {
        let input = dir.path().join(format!("worker-{w}.jsonl"));
        let mut f = std::io::BufWriter::new(std::fs::File::create(&input)?);
        for line in share {
            serde_json::to_writer(&mut f, line)?;
            f.write_all(b"\n")?;
        }
        f.flush()?;
        let child = Command::new(std::env::current_exe()?)
            .arg("worker")
            .arg(&input)
            .arg(&ca)
            .arg(&coordinator.agent_addr)
            .arg(held_per_worker.to_string())
            .arg((RAMP_PER_SECOND / WORKERS).to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        workers.push(child);
    }
    // Each says when its held connections are up.
    let mut readers = Vec::new();
    for child in &mut workers {
        let out = child.stdout.take().context("worker stdout")?;
        let mut reader = std::io::BufReader::new(out);
        let mut line = String::new();
        reader.read_line(&mut line)?;
        if !line.starts_with("connected") {
            bail!("a worker did not connect: {line}");
        }
        eprintln!("bench-load: worker {}", line.trim());
        readers.push(reader);
    }
    let connected = (HELD.min(agents)).min(agents);
    let (rss_idle, _) = memory_mib(coordinator.child.id());
    eprintln!("bench-load: {connected} connections held; coordinator at {rss_idle:.0} MiB; firing");

    // One collection over every practice, run now.
    let mut parameters = BTreeMap::new();
    parameters.insert("PPED".to_string(), "2025-03-31".to_string());
    let collection: gpes_protocol::Collection = operator
        .post(
            "/v1/collections",
            &CreateCollectionRequest {
                name: "national fan-out".into(),
                query: gpes_tests::registered_count_query(),
                query_ref: None,
                parameters,
                schedule: String::new(),
                practices: codes.clone(),
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
    let fired = now_ms();
    let t0 = Instant::now();
    let run: Run = operator
        .post(
            &format!("/v1/collections/{}/run", collection.id),
            &(),
            TIMEOUT,
        )
        .await?;
    let made = t0.elapsed().as_secs_f64();
    let mut peak_rss: f64 = 0.0;
    let summary = loop {
        let s: RunSummary = operator
            .get(&format!("/v1/runs/{}", run.id), TIMEOUT)
            .await?;
        peak_rss = peak_rss.max(memory_mib(coordinator.child.id()).0);
        if s.jobs.done as usize >= agents || t0.elapsed() > Duration::from_secs(900) {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let all_stored = t0.elapsed().as_secs_f64();
    eprintln!(
        "bench-load: {} of {agents} results stored {all_stored:.1} s after firing",
        summary.jobs.done
    );

    // Empty polls while every connection is held, then stop.
    for child in &mut workers {
        writeln!(child.stdin.as_mut().context("stdin")?, "probe")?;
    }
    let mut report = WorkerReport::default();
    for (child, reader) in workers.iter_mut().zip(&mut readers) {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let r: WorkerReport =
            serde_json::from_str(&line).with_context(|| format!("a worker said: {line}"))?;
        report.received_ms.extend(r.received_ms);
        report.upload_ms.extend(r.upload_ms);
        report.empty_poll_ms.extend(r.empty_poll_ms);
        report.errors += r.errors;
        report.last_error = report.last_error.or(r.last_error);
        drop(child.stdin.take());
        let _ = child.wait();
    }
    let (_, hwm) = memory_mib(coordinator.child.id());
    let mut delivery: Vec<f64> = report
        .received_ms
        .iter()
        .map(|r| r.saturating_sub(fired) as f64)
        .collect();
    delivery.sort_by(f64::total_cmp);
    report.upload_ms.sort_by(f64::total_cmp);
    report.empty_poll_ms.sort_by(f64::total_cmp);
    println!(
        "| backend | agents | held at once | fire → all stored | jobs made | coordinator peak RSS | job delivery p50 / p99 | upload p50 / p99 | empty poll p50 / p99 | errors |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {backend} | {agents} | {connected} | {all_stored:.1} s ({} stored) | {made:.1} s | {:.0} MiB | {:.0} / {:.0} ms | {:.0} / {:.0} ms | {:.1} / {:.1} ms | {} |",
        summary.jobs.done,
        hwm.max(peak_rss),
        percentile(&delivery, 0.5),
        percentile(&delivery, 0.99),
        percentile(&report.upload_ms, 0.5),
        percentile(&report.upload_ms, 0.99),
        percentile(&report.empty_poll_ms, 0.5),
        percentile(&report.empty_poll_ms, 0.99),
        report.errors,
    );
    if let Some(e) = report.last_error {
        eprintln!("bench-load: last agent error: {e}");
    }
    Ok(())
}

// ---- a worker: many simulated agents in one process ----

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

struct Shared {
    addr: String,
    server_name: rustls_pki_types::ServerName<'static>,
    report: Mutex<WorkerReport>,
}

async fn connect(
    shared: &Shared,
    tls: &Arc<rustls::ClientConfig>,
) -> anyhow::Result<(Sender, tokio::task::JoinHandle<()>)> {
    let tcp = tokio::net::TcpStream::connect(&shared.addr).await?;
    tcp.set_nodelay(true)?;
    let stream = tokio_rustls::TlsConnector::from(tls.clone())
        .connect(shared.server_name.clone(), tcp)
        .await?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok((sender, driver))
}

async fn post<T: serde::Serialize, R: serde::de::DeserializeOwned>(
    sender: &mut Sender,
    path: &str,
    body: &T,
) -> anyhow::Result<R> {
    let req = http::Request::builder()
        .method("POST")
        .uri(path)
        .header("host", "127.0.0.1")
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(VERSION_HEADER, gpes_protocol::PROTOCOL_VERSION.to_string())
        .body(Full::new(Bytes::from(serde_json::to_vec(body)?)))?;
    sender.ready().await?;
    let resp = sender.send_request(req).await?;
    let status = resp.status();
    let bytes = resp.into_body().collect().await?.to_bytes();
    if !status.is_success() {
        bail!("{path}: {status}: {}", String::from_utf8_lossy(&bytes));
    }
    Ok(serde_json::from_slice(&bytes)?)
}

/// Polls and uploads what it is given, on one connection while it lasts.
async fn agent(
    shared: Arc<Shared>,
    tls: Arc<rustls::ClientConfig>,
    held: bool,
    stop: CancellationToken,
) {
    let mut backoff = Duration::from_millis(500);
    while !stop.is_cancelled() {
        let (mut sender, driver) = match connect(&shared, &tls).await {
            Ok(c) => c,
            Err(e) => {
                note_error(&shared, &e);
                tokio::time::sleep(backoff + jitter(1000)).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
                continue;
            }
        };
        backoff = Duration::from_millis(500);
        loop {
            let wait_ms = if held {
                25_000 + jitter(5_000).as_millis() as u64
            } else {
                2_000
            };
            let poll = PollRequest {
                practices: vec![],
                wait_ms,
                ..Default::default()
            };
            let answer = tokio::select! {
                () = stop.cancelled() => break,
                a = post::<_, PollResponse>(&mut sender, "/v1/jobs/poll", &poll) => a,
            };
            let jobs = match answer {
                Ok(r) => r.jobs,
                Err(e) => {
                    note_error(&shared, &e);
                    break;
                }
            };
            for job in jobs {
                shared
                    .report
                    .lock()
                    .expect("report")
                    .received_ms
                    .push(now_ms());
                let upload = gpes_tests::sealed_upload(&job, 1_000);
                let sent = Instant::now();
                match post::<_, serde_json::Value>(&mut sender, "/v1/results", &upload).await {
                    Ok(_) => shared
                        .report
                        .lock()
                        .expect("report")
                        .upload_ms
                        .push(sent.elapsed().as_secs_f64() * 1000.0),
                    Err(e) => note_error(&shared, &e),
                }
            }
            if !held {
                break;
            }
        }
        driver.abort();
        if !held && !stop.is_cancelled() {
            tokio::time::sleep(Duration::from_millis(1_000) + jitter(3_000)).await;
        }
    }
}

fn note_error(shared: &Shared, e: &anyhow::Error) {
    let mut r = shared.report.lock().expect("report");
    r.errors += 1;
    r.last_error = Some(format!("{e:#}"));
}

fn jitter(max_ms: u64) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(now_ms());
    Duration::from_millis(h.finish() % max_ms.max(1))
}

/// Ten empty polls on a fresh connection; the first pays the handshake
/// and is left out.
async fn probe(shared: &Shared, tls: &Arc<rustls::ClientConfig>) -> anyhow::Result<Vec<f64>> {
    let (mut sender, driver) = connect(shared, tls).await?;
    let mut out = Vec::new();
    for i in 0..10 {
        let poll = PollRequest {
            practices: vec![],
            wait_ms: 0,
            ..Default::default()
        };
        let sent = Instant::now();
        let _: PollResponse = post(&mut sender, "/v1/jobs/poll", &poll).await?;
        if i > 0 {
            out.push(sent.elapsed().as_secs_f64() * 1000.0);
        }
    }
    driver.abort();
    Ok(out)
}

/// `bench-load worker AGENTS.jsonl CA.pem ADDRESS HELD RAMP`
async fn worker(args: &[String]) -> anyhow::Result<()> {
    let [input, ca, addr, held, ramp] = args else {
        bail!("worker INPUT CA ADDRESS HELD RAMP");
    };
    let held: usize = held.parse()?;
    let ramp: usize = ramp.parse()?;
    let ca_pem = std::fs::read_to_string(ca)?;
    let mut configs = Vec::new();
    for line in std::io::BufReader::new(std::fs::File::open(PathBuf::from(input))?).lines() {
        let a: AgentLine = serde_json::from_str(&line?)?;
        configs.push(gpes_pki::agent_client_config(
            &ca_pem,
            &a.cert_pem,
            &a.key_pem,
        )?);
    }
    let shared = Arc::new(Shared {
        server_name: gpes_client::server_name(addr).map_err(anyhow::Error::msg)?,
        addr: addr.clone(),
        report: Mutex::new(WorkerReport::default()),
    });
    let stop = CancellationToken::new();
    let mut tasks = Vec::new();
    let tick = Duration::from_secs(1) / ramp.max(1) as u32;
    for (i, tls) in configs.iter().enumerate() {
        tasks.push(tokio::spawn(agent(
            shared.clone(),
            tls.clone(),
            i < held,
            stop.clone(),
        )));
        if i < held {
            tokio::time::sleep(tick).await;
        }
    }
    // The ramp's last connections settle.
    tokio::time::sleep(Duration::from_secs(3)).await;
    println!(
        "connected {} held of {}",
        held.min(configs.len()),
        configs.len()
    );
    std::io::stdout().flush()?;

    let mut stdin = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = stdin.next_line().await? {
        if line.trim() == "probe" {
            break;
        }
    }
    let mut empty = Vec::new();
    for tls in configs.iter().take(PROBES) {
        match probe(&shared, tls).await {
            Ok(ms) => empty.extend(ms),
            Err(e) => note_error(&shared, &e),
        }
    }
    stop.cancel();
    for t in tasks {
        let _ = t.await;
    }
    let mut report = std::mem::take(&mut *shared.report.lock().expect("report"));
    report.empty_poll_ms = empty;
    println!("{}", serde_json::to_string(&report)?);
    std::io::stdout().flush()?;
    Ok(())
}
