//! Starting the coordinator: the files made once (`init`: the CA and the
//! admin token), the store, both listeners and the scheduler.

use crate::config::Config;
use crate::db::{self, Db};
use crate::http::listener::{self, Limits};
use crate::http::{self as api, App, Listener, auth};
use gpes_pki::{CertificateAuthority, ServerIdentity};
use gpes_schedule::Clock;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The admin token's file in the data directory.
pub const ADMIN_TOKEN_FILE: &str = "admin.token";
/// The CA's folder in the data directory.
pub const CA_DIR: &str = "ca";
/// The admin token's length: 32 random bytes, hex.
const ADMIN_TOKEN_BYTES: usize = 32;

/// A started coordinator.
#[derive(Debug)]
pub struct Running {
    pub agent_addr: SocketAddr,
    pub operator_addr: SocketAddr,
    pub ca_pem: String,
    pub admin_token_path: PathBuf,
    pub tracker: TaskTracker,
    /// The store, for in-process tests.
    pub db: Db,
}

/// Makes what a coordinator needs once, in `data_dir`: the CA, a 256-bit
/// admin token and the audit key (files mode 0600). Files already there
/// are kept, so running it again fills only what is missing (a CA with
/// one of its two files gone is an error, never repaired). Replicas over
/// one PostgreSQL are given copies of these files.
pub fn init(data_dir: &Path) -> anyhow::Result<()> {
    use anyhow::Context;
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    CertificateAuthority::load_or_create(&data_dir.join(CA_DIR))?;
    let path = data_dir.join(ADMIN_TOKEN_FILE);
    if !path.exists() {
        write_secret(&path, &format!("gpes-admin-{}", random_hex()?))?;
    }
    let path = data_dir.join(db::audit::AUDIT_KEY_FILE);
    if !path.exists() {
        write_secret(&path, &random_hex()?)?;
    }
    Ok(())
}

/// The files `init` makes, relative to the data directory.
pub fn init_files() -> [PathBuf; 4] {
    [
        Path::new(CA_DIR).join(gpes_pki::CA_CERT_FILE),
        Path::new(CA_DIR).join(gpes_pki::CA_KEY_FILE),
        PathBuf::from(ADMIN_TOKEN_FILE),
        PathBuf::from(db::audit::AUDIT_KEY_FILE),
    ]
}

/// A replica (a coordinator over PostgreSQL) never makes the CA, the admin
/// token or the audit key: two replicas making their own would split the
/// service in two. Refused, naming every missing file, unless all are
/// there.
pub fn check_replica_files(data_dir: &Path) -> anyhow::Result<()> {
    let missing: Vec<String> = init_files()
        .iter()
        .filter(|f| !data_dir.join(f).exists())
        .map(|f| f.display().to_string())
        .collect();
    if !missing.is_empty() {
        anyhow::bail!(
            "this coordinator stores its state in PostgreSQL (database_url is set), so it is one of \
             possibly several replicas and never makes its own CA, admin token or audit key; \
             missing from {}: {}. Run `gpes-coordinator init` once, then give every replica a copy \
             of those files (mode 0600)",
            data_dir.display(),
            missing.join(", ")
        );
    }
    Ok(())
}

/// 256 random bits, hex.
fn random_hex() -> anyhow::Result<String> {
    use ring::rand::{SecureRandom, SystemRandom};
    let mut bytes = [0u8; ADMIN_TOKEN_BYTES];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| anyhow::anyhow!("the system's random source failed"))?;
    Ok(hex::encode(bytes))
}

/// Writes a secret file, mode 0600.
fn write_secret(path: &Path, token: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    // Written to a temporary file, synced, then renamed: a full disk
    // leaves no empty token behind.
    let tmp = path.with_extension("token.tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(token.as_bytes())?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// Reads the admin token and returns its hash: refused when it is
/// missing, readable by others, empty or shorter than 256 bits.
pub fn read_admin_token(path: &Path) -> anyhow::Result<String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|e| {
        anyhow::anyhow!(
            "the admin token {} cannot be read ({e}); run `gpes-coordinator init` to make one",
            path.display()
        )
    })?;
    if meta.permissions().mode() & 0o077 != 0 {
        anyhow::bail!(
            "the admin token {} can be read by others (mode {:o}); run `chmod 600 {}`",
            path.display(),
            meta.permissions().mode() & 0o777,
            path.display()
        );
    }
    let token = std::fs::read_to_string(path)?;
    let token = token.trim();
    if token.is_empty() {
        anyhow::bail!(
            "the admin token {} is empty; remove it and run `gpes-coordinator init` to make a new one",
            path.display()
        );
    }
    if token.len() < 2 * ADMIN_TOKEN_BYTES {
        anyhow::bail!(
            "the admin token {} is too short ({} characters; at least {} are needed for 256 bits); remove it and run `gpes-coordinator init`",
            path.display(),
            token.len(),
            2 * ADMIN_TOKEN_BYTES
        );
    }
    Ok(gpes_pki::hash_secret(token))
}

/// Starts the coordinator: opens the store (applying migrations), binds
/// both listeners and starts the scheduler. The embedded default (SQLite)
/// makes the CA and admin token on first start; over PostgreSQL they must
/// have been made by `gpes-coordinator init` and given to every replica.
/// Runs until `shutdown` is cancelled; wait on `Running::tracker` after.
pub async fn start(
    config: Config,
    clock: Arc<dyn Clock>,
    shutdown: CancellationToken,
) -> anyhow::Result<Running> {
    use anyhow::Context;
    config
        .check()
        .map_err(|e| anyhow::anyhow!("the configuration is not valid: {e}"))?;
    let ca_dir = config.data_dir.join(CA_DIR);
    if config.database_url.is_none() {
        init(&config.data_dir)?;
    } else {
        check_replica_files(&config.data_dir)?;
    }
    let ca = CertificateAuthority::load(&ca_dir)?;
    let admin_token_path = config.data_dir.join(ADMIN_TOKEN_FILE);
    let admin_hash = read_admin_token(&admin_token_path)?;
    let audit_key = db::audit::AuditKey::load(&config.data_dir.join(db::audit::AUDIT_KEY_FILE))?;
    let db = Db::open(config.database_url.as_deref(), &config.data_dir)
        .await?
        .with_audit_key(audit_key);
    let server: ServerIdentity = ca.issue_server_cert(&config.server_names, 365)?;
    let revoked = Arc::new(gpes_pki::RevokedAgents::default());
    revoked.replace(
        db::agents::revoked_ids(&db)
            .await
            .map_err(|e| anyhow::anyhow!("reading the revoked agents: {e}"))?,
    );

    let agent_listener = TcpListener::bind(config.agent_listen)
        .await
        .with_context(|| format!("binding the agent listener to {}", config.agent_listen))?;
    let operator_listener = TcpListener::bind(config.operator_listen)
        .await
        .with_context(|| {
            format!(
                "binding the operator listener to {}",
                config.operator_listen
            )
        })?;
    let agent_addr = agent_listener.local_addr()?;
    let operator_addr = operator_listener.local_addr()?;

    let app = Arc::new(App {
        db: db.clone(),
        operator_address: config
            .operator_address
            .clone()
            .unwrap_or_else(|| operator_addr.to_string()),
        agent_address: config
            .agent_address
            .clone()
            .unwrap_or_else(|| agent_addr.to_string()),
        ca,
        clock,
        authenticators: vec![
            Box::new(auth::AdminToken { hash: admin_hash }),
            Box::new(auth::UserTokens { db: db.clone() }),
        ],
        jobs_ready: tokio::sync::Notify::new(),
        heartbeats: Default::default(),
        revoked: revoked.clone(),
        config,
    });
    let tracker = TaskTracker::new();
    let agent_tls = gpes_pki::agent_listener_config_revocable(&app.ca, &server, revoked)?;
    let operator_tls = gpes_pki::operator_listener_config(&server)?;
    let handshake_timeout = Duration::from_secs(app.config.handshake_timeout_seconds);
    let header_timeout = Duration::from_secs(app.config.header_timeout_seconds);
    let body_timeout = Duration::from_secs(app.config.body_timeout_seconds);
    tracker.spawn(listener::serve(
        agent_listener,
        agent_tls,
        api::agent_router(app.clone()),
        Listener::Agent,
        Limits {
            max_connections: app.config.agent_max_connections,
            handshake_timeout,
            header_timeout,
            body_timeout,
        },
        shutdown.clone(),
        tracker.clone(),
    ));
    tracker.spawn(listener::serve(
        operator_listener,
        operator_tls,
        api::operator_router(app.clone()),
        Listener::Operator,
        Limits {
            max_connections: app.config.operator_max_connections,
            handshake_timeout,
            header_timeout,
            body_timeout,
        },
        shutdown.clone(),
        tracker.clone(),
    ));
    tracker.spawn(schedule_loop(app.clone(), shutdown.clone()));
    tracker.spawn(revocation_loop(app.clone(), shutdown.clone()));
    if db.backend() == db::Backend::Postgres {
        tracker.spawn(wake_loop(app.clone(), shutdown.clone()));
    }
    tracker.spawn(checkpoint_loop(app.clone(), shutdown.clone()));
    tracker.close();
    tracing::info!(%agent_addr, %operator_addr, backend = ?db.backend(), "coordinator listening");
    Ok(Running {
        agent_addr,
        operator_addr,
        ca_pem: app.ca.cert_pem().to_owned(),
        admin_token_path,
        tracker,
        db,
    })
}

/// This process's name as a scheduler lease holder.
fn holder_name() -> String {
    crate::domain::random_id("replica")
}

/// Writes the audit trail's head, signed, to `audit.checkpoint` in the
/// data directory whenever it has moved (checked every
/// `audit_checkpoint_seconds`, and once more at shutdown), so that
/// removing the newest entries from the database is caught by
/// `audit verify`. Each replica keeps its own.
async fn checkpoint_loop(app: Arc<App>, shutdown: CancellationToken) {
    let every = Duration::from_secs(app.config.audit_checkpoint_seconds);
    let path = app.config.data_dir.join(db::audit::CHECKPOINT_FILE);
    let mut written = db::audit::read_checkpoint(&path)
        .ok()
        .flatten()
        .map(|c| c.mac);
    loop {
        let stopping = tokio::select! {
            () = shutdown.cancelled() => true,
            () = tokio::time::sleep(every) => false,
        };
        match db::audit::head_checkpoint(&app.db, app.now_ms()).await {
            Ok(c) if written.as_deref() != Some(c.mac.as_str()) => {
                match db::audit::write_checkpoint(&path, &c) {
                    Ok(()) => written = Some(c.mac),
                    Err(e) => {
                        tracing::error!(error = %e, path = %path.display(), "could not write the audit checkpoint")
                    }
                }
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "could not read the audit head"),
        }
        if stopping {
            return;
        }
    }
}

/// How often a replica rechecks the store for jobs made elsewhere, in
/// case a notification was lost.
const WAKE_RECHECK: Duration = Duration::from_secs(1);

/// Over PostgreSQL: wakes this replica's long-polls when any replica
/// makes jobs, at once by `LISTEN` on `db::wakeups::CHANNEL`, and within
/// [`WAKE_RECHECK`] by reading the store's count of job-making
/// transactions when a notification was lost (one query per replica, not
/// per waiting poll).
async fn wake_loop(app: Arc<App>, shutdown: CancellationToken) {
    let mut seen: Option<i64> = None;
    let mut listener: Option<sqlx::postgres::PgListener> = None;
    let mut recheck = tokio::time::interval(WAKE_RECHECK);
    recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        if listener.is_none() {
            match db::wakeups::listen(&app.db).await {
                Ok(l) => {
                    tracing::info!(
                        channel = db::wakeups::CHANNEL,
                        "listening for jobs made by any replica"
                    );
                    listener = Some(l);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not LISTEN for jobs made by other replicas; rechecking every second")
                }
            }
        }
        let notified = async {
            match listener.as_mut() {
                Some(l) => l.recv().await.map(|n| n.payload().parse::<i64>().ok()),
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = shutdown.cancelled() => return,
            n = notified => match n {
                Ok(count) => {
                    tracing::debug!(count, "woken: jobs were made on a replica");
                    seen = seen.max(count);
                    app.jobs_ready.notify_waiters();
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the LISTEN connection failed; reconnecting");
                    listener = None;
                    tokio::time::sleep(WAKE_RECHECK).await;
                }
            },
            _ = recheck.tick() => match db::wakeups::count(&app.db).await {
                Ok(count) => {
                    if seen.is_some_and(|s| s < count) {
                        tracing::debug!(count, "woken by the recheck: jobs were made on a replica");
                        app.jobs_ready.notify_waiters();
                    }
                    seen = seen.max(Some(count));
                }
                Err(e) => tracing::warn!(error = %e, "could not recheck for jobs made"),
            },
        }
    }
}

/// Reloads the revoked agents from the store, so a revocation made on
/// another replica is refused here within `revocation_refresh_seconds`.
async fn revocation_loop(app: Arc<App>, shutdown: CancellationToken) {
    let every = Duration::from_secs(app.config.revocation_refresh_seconds);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        match db::agents::revoked_ids(&app.db).await {
            Ok(ids) => app.revoked.replace(ids),
            Err(e) => tracing::error!(error = %e, "could not reload the revoked agents"),
        }
    }
}

/// The scheduler's lease: it outlives a few ticks, so a busy tick does not
/// lose it; a dead holder is replaced within this time (of the store's
/// clock) and a tick.
pub fn scheduler_lease_ms(config: &Config) -> u64 {
    (config.scheduler_tick_ms * 5).max(5_000)
}

async fn schedule_loop(app: Arc<App>, shutdown: CancellationToken) {
    let tick = Duration::from_millis(app.config.scheduler_tick_ms);
    let ttl_ms = scheduler_lease_ms(&app.config);
    let holder = holder_name();
    let mut holding = false;
    loop {
        match db::scheduler::take_lease(&app.db, &holder, ttl_ms).await {
            Ok(true) => {
                if !holding {
                    tracing::info!(%holder, "this replica schedules");
                    holding = true;
                }
                // The time is read once the lease is held, so a pause
                // before this point does not tick with a stale time.
                let now = app.clock.now();
                match crate::scheduler::tick(&app.db, now).await {
                    Ok(runs) if !runs.is_empty() => app.jobs_ready.notify_waiters(),
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "scheduler tick failed"),
                }
            }
            Ok(false) => {
                if holding {
                    tracing::warn!(%holder, "another replica schedules now");
                    holding = false;
                }
            }
            Err(e) => tracing::error!(error = %e, "could not take the scheduler's lease"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(tick) => {}
        }
    }
}
