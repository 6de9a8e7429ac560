//! The coordinator: where operators define collections and agents fetch
//! jobs and return results. Three rooms, so a change has one obvious
//! place: `http` (the two routers over TLS, extractors, the one error
//! type, the hardened listener), `domain` (the rules, with neither HTTP nor
//! SQL), and `db` (SQL through sqlx: SQLite by default, PostgreSQL for
//! replicas; migrations per backend). `scheduler` turns due collections
//! (five-field cron in Europe/London) into runs; `server` starts it all.
//!
//! It never reads a practice's data and never runs plugins: agents do.
//! `main.rs` only calls `cli`.

pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
pub mod http;
pub mod scheduler;
pub mod server;

pub use config::Config;
pub use server::{ADMIN_TOKEN_FILE, Running, init, start};
