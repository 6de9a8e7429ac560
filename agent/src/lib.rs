//! The agent, the site daemon: enrolls once with a token (key made here,
//! CA pinned by the token), then long-polls the coordinator over mutual TLS
//! for jobs of the practices it serves, runs each with the host, the
//! engine and the plugin its configuration names for that practice, seals
//! the extract, keeps it in a sled buffer (flushed) until the coordinator's
//! receipt, and uploads what is still buffered after a restart.
//!
//! It is the only part of the system that reads a site's data, and it runs
//! only plugins whose supplier-signed manifest verifies against the
//! suppliers its configuration trusts (checked, with the plugin's
//! `describe`, before it starts: an unsigned or untrusted plugin stops it
//! with exit code 2). It applies the site's objection policy; small-count
//! suppression is a later issue.

pub mod buffer;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod identity;
pub mod runner;

pub use config::Config;
