//! The agent's configuration file (TOML). Unknown keys are refused. The file
//! says what to run: which practices this site serves, and for each the
//! plugin that reads it and where its data is.

use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the agent keeps its key, certificate and buffer (created if
    /// absent; keep it on a disk that survives restarts).
    pub data_dir: PathBuf,
    /// One entry per practice this site serves.
    #[serde(rename = "practice", default)]
    pub practices: Vec<PracticeConfig>,
    #[serde(default)]
    pub limits: LimitsConfig,
    #[serde(default)]
    pub policy: PolicyConfig,
}

/// The site's policy, applied to every job before any rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// SNOMED CT codes recording a patient's objection (the Type 1 opt-out,
    /// "dissent from secondary use of GP patient identifiable data").
    #[serde(default = "default_objection_codes")]
    pub objection_codes: Vec<u64>,
    /// Purposes for which patients with an objection code are removed
    /// before any rule (direct care and payment are not).
    #[serde(default = "default_exclude_for")]
    pub exclude_objections_for: Vec<gpes_protocol::Purpose>,
}

fn default_objection_codes() -> Vec<u64> {
    vec![827241000000103]
}

fn default_exclude_for() -> Vec<gpes_protocol::Purpose> {
    use gpes_protocol::Purpose::*;
    vec![Planning, Research, Publication]
}

impl Default for PolicyConfig {
    fn default() -> PolicyConfig {
        PolicyConfig {
            objection_codes: default_objection_codes(),
            exclude_objections_for: default_exclude_for(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PracticeConfig {
    /// ODS code.
    pub code: String,
    /// The supplier plugin (a WebAssembly component) that reads it.
    pub plugin: PathBuf,
    /// The folder holding the practice's export.
    pub data: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Memory cap for one extraction, in MiB.
    #[serde(default = "default_memory_mib")]
    pub memory_mib: usize,
    /// Deadline for one extraction, in seconds.
    #[serde(default = "default_deadline_seconds")]
    pub deadline_seconds: u64,
    /// How long one long-poll waits for jobs, in seconds.
    #[serde(default = "default_poll_seconds")]
    pub poll_seconds: u64,
}

fn default_memory_mib() -> usize {
    256
}
fn default_deadline_seconds() -> u64 {
    600
}
fn default_poll_seconds() -> u64 {
    25
}

impl Default for LimitsConfig {
    fn default() -> LimitsConfig {
        LimitsConfig {
            memory_mib: default_memory_mib(),
            deadline_seconds: default_deadline_seconds(),
            poll_seconds: default_poll_seconds(),
        }
    }
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
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_owned(),
            message,
        };
        let config: Config = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let mut seen = std::collections::HashSet::new();
        for p in &config.practices {
            if !seen.insert(&p.code) {
                return Err(invalid(format!("practice {} is listed twice", p.code)));
            }
        }
        if config.limits.memory_mib == 0 || config.limits.deadline_seconds == 0 {
            return Err(invalid(
                "limits.memory_mib and limits.deadline_seconds must be above zero".into(),
            ));
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

    pub fn practice(&self, code: &str) -> Option<&PracticeConfig> {
        self.practices.iter().find(|p| p.code == code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typo_is_refused_with_its_name() {
        let text = "data_dir = \"/x\"\n[[practice]]\ncode = \"A81001\"\nplugin = \"p.wasm\"\ndata_folder = \"/d\"\n";
        let err = Config::parse(text, Path::new("agent.toml")).expect_err("typo");
        assert!(err.to_string().contains("data_folder"), "{err}");
    }

    #[test]
    fn a_practice_listed_twice_is_refused() {
        let p = "[[practice]]\ncode = \"A81001\"\nplugin = \"p.wasm\"\ndata = \"/d\"\n";
        let text = format!("data_dir = \"/x\"\n{p}{p}");
        let err = Config::parse(&text, Path::new("agent.toml")).expect_err("twice");
        assert!(err.to_string().contains("listed twice"), "{err}");
    }
}
