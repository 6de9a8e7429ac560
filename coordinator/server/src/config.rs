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
    /// A PostgreSQL URL (`postgres://user:password@host/db`) for the store
    /// several replicas share; absent, the store is SQLite in `data_dir`.
    #[serde(default)]
    pub database_url: Option<String>,
    /// How long a run takes uploads before its waiting jobs expire, unless
    /// the collection says otherwise.
    #[serde(default = "default_run_deadline_hours")]
    pub run_deadline_hours: u64,
    /// A declaration waiting this long for its commissioner is on the
    /// needs-attention list.
    #[serde(default = "default_declaration_attention_hours")]
    pub declaration_attention_hours: u64,
    /// Connections held at once on the operator listener; at the cap the
    /// oldest that has sent no request is closed to make room.
    #[serde(default = "default_operator_max_connections")]
    pub operator_max_connections: usize,
    /// Connections held at once on the agent listener: above the number
    /// of agents served (each long-poll holds one).
    #[serde(default = "default_agent_max_connections")]
    pub agent_max_connections: usize,
    /// Longest a TLS handshake may take.
    #[serde(default = "default_timeout_seconds")]
    pub handshake_timeout_seconds: u64,
    /// Longest a request's headers may take to arrive.
    #[serde(default = "default_timeout_seconds")]
    pub header_timeout_seconds: u64,
    /// Longest a request's body may take to arrive once its headers have.
    #[serde(default = "default_body_timeout_seconds")]
    pub body_timeout_seconds: u64,
    /// How often each replica reloads the revoked agents from the store:
    /// the longest a revocation made on another replica takes to reach
    /// this one's handshakes (on the replica that revokes, at once).
    #[serde(default = "default_revocation_refresh_seconds")]
    pub revocation_refresh_seconds: u64,
    /// How often the audit trail's head is checkpointed, signed, outside
    /// the database: entries removed from the newest end within this time
    /// of being written are not caught.
    #[serde(default = "default_audit_checkpoint_seconds")]
    pub audit_checkpoint_seconds: u64,
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
fn default_run_deadline_hours() -> u64 {
    72
}
fn default_declaration_attention_hours() -> u64 {
    120
}
fn default_operator_max_connections() -> usize {
    4096
}
fn default_agent_max_connections() -> usize {
    30_000
}
fn default_timeout_seconds() -> u64 {
    10
}
fn default_audit_checkpoint_seconds() -> u64 {
    10
}
fn default_revocation_refresh_seconds() -> u64 {
    5
}
fn default_body_timeout_seconds() -> u64 {
    30
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
            database_url: None,
            run_deadline_hours: default_run_deadline_hours(),
            declaration_attention_hours: default_declaration_attention_hours(),
            operator_max_connections: default_operator_max_connections(),
            agent_max_connections: default_agent_max_connections(),
            handshake_timeout_seconds: default_timeout_seconds(),
            header_timeout_seconds: default_timeout_seconds(),
            body_timeout_seconds: default_body_timeout_seconds(),
            revocation_refresh_seconds: default_revocation_refresh_seconds(),
            audit_checkpoint_seconds: default_audit_checkpoint_seconds(),
        }
    }

    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Invalid {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        config.check().map_err(|message| ConfigError::Invalid {
            path: path.to_owned(),
            message,
        })?;
        Ok(config)
    }

    /// Values that can never work are refused, naming the key.
    pub fn check(&self) -> Result<(), String> {
        let max_leaf = gpes_pki::MAX_LEAF_VALIDITY_DAYS;
        let checks: [(&str, bool, String); 12] = [
            (
                "lease_seconds",
                (1..=86_400).contains(&self.lease_seconds),
                "between 1 and 86400".into(),
            ),
            (
                "scheduler_tick_ms",
                (10..=3_600_000).contains(&self.scheduler_tick_ms),
                "between 10 and 3600000".into(),
            ),
            (
                "agent_cert_days",
                (1..=max_leaf).contains(&self.agent_cert_days),
                format!("between 1 and {max_leaf} (the longest the CA issues)"),
            ),
            (
                "run_deadline_hours",
                (1..=8784).contains(&self.run_deadline_hours),
                "between 1 and 8784 (366 days)".into(),
            ),
            (
                "declaration_attention_hours",
                (1..=8784).contains(&self.declaration_attention_hours),
                "between 1 and 8784 (366 days)".into(),
            ),
            (
                "operator_max_connections",
                (16..=1_000_000).contains(&self.operator_max_connections),
                "between 16 and 1000000".into(),
            ),
            (
                "agent_max_connections",
                (16..=1_000_000).contains(&self.agent_max_connections),
                "between 16 and 1000000".into(),
            ),
            (
                "handshake_timeout_seconds",
                (1..=300).contains(&self.handshake_timeout_seconds),
                "between 1 and 300".into(),
            ),
            (
                "header_timeout_seconds",
                (1..=300).contains(&self.header_timeout_seconds),
                "between 1 and 300".into(),
            ),
            (
                "body_timeout_seconds",
                (1..=600).contains(&self.body_timeout_seconds),
                "between 1 and 600".into(),
            ),
            (
                "revocation_refresh_seconds",
                (1..=3600).contains(&self.revocation_refresh_seconds),
                "between 1 and 3600".into(),
            ),
            (
                "audit_checkpoint_seconds",
                (1..=3600).contains(&self.audit_checkpoint_seconds),
                "between 1 and 3600".into(),
            ),
        ];
        for (key, ok, range) in checks {
            if !ok {
                return Err(format!("{key} must be {range}"));
            }
        }
        if let Some(url) = &self.database_url
            && !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
        {
            return Err("database_url must be a postgres:// URL; leave it out for the embedded SQLite store".into());
        }
        Ok(())
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
    fn values_that_can_never_work_are_refused() {
        for (text, key) in [
            ("agent_cert_days = 5000", "agent_cert_days"),
            ("agent_cert_days = 0", "agent_cert_days"),
            ("lease_seconds = 0", "lease_seconds"),
            ("database_url = \"mysql://x\"", "database_url"),
        ] {
            let err = Config::parse(&format!("data_dir = \"/x\"\n{text}\n"), Path::new("c.toml"))
                .expect_err(text);
            assert!(err.to_string().contains(key), "{err}");
        }
    }

    #[test]
    fn defaults_fill_the_rest() {
        let c = Config::parse("data_dir = \"/x\"\n", Path::new("c.toml")).expect("valid");
        assert_eq!(c.lease_seconds, 900);
        assert_eq!(c.agent_listen.port(), 7443);
    }
}
