//! The coordinator's configuration file (TOML). Unknown keys are refused.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// What the coordinator runs with. Every field but `data_dir` has a default.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the store, the CA and the admin token live (created if absent).
    pub data_dir: PathBuf,
    /// The agent listener (mutual TLS).
    #[serde(default = "default_agent_listen")]
    pub agent_listen: SocketAddr,
    /// The operator listener (server TLS and bearer tokens; enrollment).
    #[serde(default = "default_operator_listen")]
    pub operator_listen: SocketAddr,
    /// DNS names and IP addresses on the listeners' certificates.
    #[serde(default = "default_server_names")]
    pub server_names: Vec<String>,
    /// `host:port` of the operator listener as agents reach it, written
    /// into enrollment tokens; defaults to the listener's address.
    #[serde(default)]
    pub operator_address: Option<String>,
    /// `host:port` of the agent listener as agents reach it; defaults to
    /// the listener's address.
    #[serde(default)]
    pub agent_address: Option<String>,
    /// How long a job handed to an agent stays with it before it may be
    /// handed out again (longer than the extraction deadline plus upload).
    #[serde(default = "default_lease_seconds")]
    pub lease_seconds: u64,
    /// Validity of agent certificates.
    #[serde(default = "default_agent_cert_days")]
    pub agent_cert_days: u32,
    /// How often the scheduler looks for due collections.
    #[serde(default = "default_scheduler_tick_ms")]
    pub scheduler_tick_ms: u64,
}

fn default_agent_listen() -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], 7443))
}
fn default_operator_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 7444))
}
fn default_server_names() -> Vec<String> {
    vec!["localhost".into(), "127.0.0.1".into()]
}
fn default_lease_seconds() -> u64 {
    900
}
fn default_agent_cert_days() -> u32 {
    365
}
fn default_scheduler_tick_ms() -> u64 {
    1000
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("could not read the configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the configuration file {path} is not valid: {message}")]
    Invalid { path: PathBuf, message: String },
}

impl Config {
    /// A configuration with every default, for tests and the demo.
    pub fn with_data_dir(data_dir: PathBuf) -> Config {
        Config {
            data_dir,
            agent_listen: default_agent_listen(),
            operator_listen: default_operator_listen(),
            server_names: default_server_names(),
            operator_address: None,
            agent_address: None,
            lease_seconds: default_lease_seconds(),
            agent_cert_days: default_agent_cert_days(),
            scheduler_tick_ms: default_scheduler_tick_ms(),
        }
    }

    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Invalid {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        if config.lease_seconds == 0 || config.scheduler_tick_ms == 0 {
            return Err(ConfigError::Invalid {
                path: path.to_owned(),
                message: "lease_seconds and scheduler_tick_ms must be above zero".into(),
            });
        }
        Ok(config)
    }

    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Config::parse(&text, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typo_is_an_error_naming_the_key() {
        let err = Config::parse("data_dir = \"/x\"\nlease_secs = 10\n", Path::new("c.toml"))
            .expect_err("typo refused");
        let msg = err.to_string();
        assert!(msg.contains("lease_secs"), "{msg}");
        assert!(msg.contains("c.toml"), "{msg}");
    }

    #[test]
    fn defaults_fill_the_rest() {
        let c = Config::parse("data_dir = \"/x\"\n", Path::new("c.toml")).expect("valid");
        assert_eq!(c.lease_seconds, 900);
        assert_eq!(c.agent_listen.port(), 7443);
    }
}
