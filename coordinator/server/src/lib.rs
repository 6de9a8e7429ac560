//! The coordinator: where operators define collections and agents fetch
//! jobs and return results. Two TLS listeners (agents: mutual TLS with the
//! coordinator's own CA; operators: server TLS and a bearer token, plus
//! enrollment), a sled store behind `gpes-store`, and a scheduler that turns
//! due collections (five-field cron in Europe/London) into runs and jobs.
//!
//! It never reads a practice's data and never runs plugins: agents do.
//! `main.rs` only parses flags and config, starts this, and waits for a
//! signal.

pub mod cli;
pub mod config;
pub mod http;
pub mod scheduler;
pub mod server;
pub mod state;

pub use config::Config;
pub use server::{ADMIN_TOKEN_FILE, Running, start};
