//! The store itself: both backends hold the same schema, a database newer
//! than the binary is refused, and a damaged admin token stops the start.

use crate::support::*;
use gpes_coordinator::db::{Backend, Db, OpenError};
use gpes_coordinator::{ADMIN_TOKEN_FILE, Config};
use gpes_schedule::SystemClock;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn both_backends_give_the_same_tables_and_columns() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = Db::open(None, dir.path()).await.expect("sqlite");
    let url = fresh_database_on(&require_postgres()).await;
    let postgres = Db::open(Some(&url), dir.path()).await.expect("postgres");
    assert_eq!(sqlite.backend(), Backend::Sqlite);
    assert_eq!(postgres.backend(), Backend::Postgres);

    let versions = |db: &Db| db.migrator().iter().map(|m| m.version).collect::<Vec<_>>();
    assert_eq!(
        versions(&sqlite),
        versions(&postgres),
        "both migrations folders carry the same version numbers"
    );
    let lite = sqlite.columns().await.expect("columns");
    let pg = postgres.columns().await.expect("columns");
    assert!(
        lite.iter()
            .any(|(t, c)| t == "jobs" && c == "lease_until_ms"),
        "the schema was read: {lite:?}"
    );
    let only = |a: &[(String, String)], b: &[(String, String)]| {
        a.iter()
            .filter(|x| !b.contains(x))
            .cloned()
            .collect::<Vec<_>>()
    };
    assert!(
        lite == pg,
        "only in SQLite: {:?}\nonly in PostgreSQL: {:?}",
        only(&lite, &pg),
        only(&pg, &lite)
    );
}

/// Marks the store as written by a newer coordinator.
async fn from_the_future(db: &Db) {
    let sql = match db.backend() {
        Backend::Sqlite => {
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (99999, 'from a newer coordinator', TRUE, X'00', 0)"
        }
        Backend::Postgres => {
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (99999, 'from a newer coordinator', TRUE, '\\x00'::bytea, 0)"
        }
    };
    sqlx::query(sql)
        .execute(db.pool())
        .await
        .expect("mark newer");
}

async fn refused_as_too_new(url: Option<&str>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Db::open(url, dir.path()).await.expect("open");
    let before = db.columns().await.expect("columns");
    from_the_future(&db).await;
    let err = Db::open(url, dir.path())
        .await
        .expect_err("a newer database is refused");
    assert!(
        matches!(err, OpenError::TooNew { found: 99999, .. }),
        "{err}"
    );
    let message = err.to_string();
    assert!(
        message.contains("newer than this coordinator") && message.contains("99999"),
        "{message}"
    );

    // The refusal changed nothing: same tables and columns, and the
    // newer version is still recorded.
    assert_eq!(db.columns().await.expect("columns"), before);
    let newest: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
        .fetch_one(db.pool())
        .await
        .expect("versions");
    assert_eq!(newest, Some(99999));
}

#[tokio::test]
async fn a_sqlite_database_newer_than_the_binary_is_refused() {
    refused_as_too_new(None).await;
}

#[tokio::test]
async fn a_postgres_database_newer_than_the_binary_is_refused() {
    let url = fresh_database_on(&require_postgres()).await;
    refused_as_too_new(Some(&url)).await;
}

async fn start_with_token(contents: &[u8]) -> String {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config::with_data_dir(dir.path().join("coordinator"));
    config.agent_listen = "127.0.0.1:0".parse().expect("addr");
    config.operator_listen = "127.0.0.1:0".parse().expect("addr");
    gpes_coordinator::init(&config.data_dir).expect("init");
    let path = config.data_dir.join(ADMIN_TOKEN_FILE);
    std::fs::write(&path, contents).expect("write token");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let shutdown = CancellationToken::new();
    let result = gpes_coordinator::start(config, Arc::new(SystemClock), shutdown.clone()).await;
    shutdown.cancel();
    match result {
        Ok(_) => panic!("a coordinator started with the admin token {contents:?}"),
        Err(e) => format!("{e:#}"),
    }
}

#[tokio::test]
async fn an_empty_or_short_admin_token_stops_the_start() {
    // What a full disk during a first start used to leave behind.
    let empty = start_with_token(b"").await;
    assert!(
        empty.contains("is empty") && empty.contains("init"),
        "{empty}"
    );
    let blank = start_with_token(b" \n").await;
    assert!(blank.contains("is empty"), "{blank}");
    let short = start_with_token(b"gpes-admin-0123").await;
    assert!(short.contains("too short"), "{short}");
}
