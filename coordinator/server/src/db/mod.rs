//! The coordinator's store in SQL, through sqlx's `Any` driver so that one
//! set of statements serves both backends: SQLite in the data directory by
//! default (one file, WAL, synchronous FULL), PostgreSQL when
//! `database_url` names one. Statements use `$1` placeholders, which both
//! accept; dialect-specific SQL appears only where it pays (leasing with
//! `SKIP LOCKED`, the scheduler's lease), behind `Backend`.
//!
//! One module per aggregate; each function is one transaction, committed
//! before it returns, so nothing is acknowledged before it is durable.
//! Times are integer Unix milliseconds.

pub mod agents;
pub mod attention;
pub mod audit;
pub mod collections;
pub mod declarations;
pub mod feeds;
pub mod jobs;
pub mod manual;
pub mod organisations;
pub mod participation;
pub mod practices;
pub mod queries;
pub mod refusals;
pub mod scheduler;
pub mod users;
pub mod wakeups;

use crate::domain::Refusal;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{Any, AnyPool, AssertSqlSafe, Executor, Transaction};
use std::path::Path;
use std::time::Duration;

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The schema versions this binary knows, per backend (the same numbers).
static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// The store: a pool of connections and which backend they reach.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    /// The PostgreSQL URL, for LISTEN connections.
    url: String,
    /// The key the audit trail is sealed with (see `audit`).
    audit_key: Option<audit::AuditKey>,
}

impl From<sqlx::Error> for Refusal {
    fn from(e: sqlx::Error) -> Refusal {
        Refusal::Store(e.to_string())
    }
}

/// Why the store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("could not open the database {what}: {source}")]
    Connect { what: String, source: sqlx::Error },
    #[error(
        "the database {what} holds schema version {found}, newer than this coordinator knows (up to {known}): run a coordinator at least as new as the one that wrote it"
    )]
    TooNew {
        what: String,
        found: i64,
        known: i64,
    },
    #[error("could not bring the database {what} to schema version {known}: {source}")]
    Migrate {
        what: String,
        known: i64,
        source: sqlx::migrate::MigrateError,
    },
}

/// Longest a PostgreSQL transaction may wait on this coordinator between
/// statements before the server ends it (releasing its locks).
pub const IDLE_IN_TRANSACTION: Duration = Duration::from_secs(60);

/// The SQLite file in a data directory.
pub const SQLITE_FILE: &str = "coordinator.db";

impl Db {
    /// Opens the store named by `database_url`, or the SQLite file in
    /// `data_dir`, and applies the migrations this binary has. A database
    /// with a schema newer than this binary is refused.
    pub async fn open(database_url: Option<&str>, data_dir: &Path) -> Result<Db, OpenError> {
        install_default_drivers();
        let (url, backend, what) = match database_url {
            Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
                (u.to_owned(), Backend::Postgres, redact(u))
            }
            Some(u) => {
                return Err(OpenError::Connect {
                    what: redact(u),
                    source: sqlx::Error::Configuration(
                        "database_url must be a postgres:// URL (SQLite is the default when it is absent)".into(),
                    ),
                });
            }
            None => {
                let path = data_dir.join(SQLITE_FILE);
                (
                    format!("sqlite://{}?mode=rwc", path.display()),
                    Backend::Sqlite,
                    path.display().to_string(),
                )
            }
        };
        let options = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => 8,
                Backend::Postgres => 16,
            })
            .acquire_timeout(Duration::from_secs(30));
        let options = if backend == Backend::Sqlite {
            options.after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA synchronous = FULL").await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    conn.execute("PRAGMA busy_timeout = 30000").await?;
                    Ok(())
                })
            })
        } else {
            options.after_connect(|conn, _| {
                Box::pin(async move {
                    // A replica paused inside a transaction (SIGSTOP, a
                    // frozen VM) holds its row locks; the server ends such
                    // a transaction after this, so the other replicas are
                    // not held up for longer.
                    conn.execute(AssertSqlSafe(format!(
                        "SET idle_in_transaction_session_timeout = {}",
                        IDLE_IN_TRANSACTION.as_millis()
                    )))
                    .await?;
                    Ok(())
                })
            })
        };
        let pool = options
            .connect(&url)
            .await
            .map_err(|source| OpenError::Connect {
                what: what.clone(),
                source,
            })?;
        let db = Db {
            pool,
            backend,
            url,
            audit_key: None,
        };
        db.migrate(&what).await?;
        Ok(db)
    }

    async fn migrate(&self, what: &str) -> Result<(), OpenError> {
        let migrator = self.migrator();
        let known = migrator.iter().map(|m| m.version).max().unwrap_or(0);
        // Read the applied versions first, so that a newer database is
        // refused with a message that says so.
        let applied: Result<Option<i64>, sqlx::Error> =
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success = TRUE")
                .fetch_one(&self.pool)
                .await;
        if let Ok(Some(found)) = applied
            && found > known
        {
            return Err(OpenError::TooNew {
                what: what.to_owned(),
                found,
                known,
            });
        }
        migrator
            .run(&self.pool)
            .await
            .map_err(|source| OpenError::Migrate {
                what: what.to_owned(),
                known,
                source,
            })
    }

    pub fn migrator(&self) -> &'static sqlx::migrate::Migrator {
        match self.backend {
            Backend::Sqlite => &SQLITE,
            Backend::Postgres => &POSTGRES,
        }
    }

    /// This store, sealing its audit trail with `key`.
    pub fn with_audit_key(mut self, key: audit::AuditKey) -> Db {
        self.audit_key = Some(key);
        self
    }

    pub fn audit_key(&self) -> Option<&audit::AuditKey> {
        self.audit_key.as_ref()
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The PostgreSQL URL (for a LISTEN connection).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A write transaction. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so two writers queue instead of failing on the
    /// upgrade from reading to writing.
    pub async fn write(&self) -> Result<Transaction<'static, Any>, Refusal> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// Every table's columns, as (table, column) pairs, sorted: what the
    /// test that keeps both backends' schemas in step compares.
    pub async fn columns(&self) -> Result<Vec<(String, String)>, Refusal> {
        let sql = match self.backend {
            Backend::Sqlite => {
                "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p \
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '_sqlx%' \
                 ORDER BY 1, 2"
            }
            Backend::Postgres => {
                "SELECT table_name::text, column_name::text FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name NOT LIKE '_sqlx%' ORDER BY 1, 2"
            }
        };
        Ok(sqlx::query_as::<_, (String, String)>(sql)
            .fetch_all(&self.pool)
            .await?)
    }
}

/// A URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{}@{}", &url[..scheme + 3], user, &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// Every list reads one row more than its page holds: when it got it,
/// the next page's cursor is the key of the page's last item.
pub fn next_cursor<T, K>(
    fetched: usize,
    limit: u32,
    page: &[T],
    key: impl Fn(&T) -> K,
) -> Option<K> {
    if fetched > limit as usize {
        page.last().map(key)
    } else {
        None
    }
}

/// Milliseconds as the store keeps them.
pub fn to_i64(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

pub fn to_u64(ms: i64) -> u64 {
    u64::try_from(ms).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(
            super::redact("postgres://gpes:secret@db:5432/gpes"),
            "postgres://gpes@db:5432/gpes"
        );
        assert_eq!(super::redact("postgres://db/gpes"), "postgres://db/gpes");
    }
}
