//! The agent's configuration file (TOML). Unknown keys are refused. The file
//! says what to run: which practices this site serves, and for each the
//! plugin that reads it and where its data is; and which suppliers' plugin
//! signatures the site trusts. A plugin runs only if its signed manifest
//! (`PLUGIN.wasm.sig.json` beside it, or `plugin_manifest`) is signed by a
//! key listed here for the supplier it names.

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
    /// The suppliers whose plugins this site runs, each with a public key
    /// it signs them with (`[[trusted_supplier]]`, one entry per key).
    #[serde(rename = "trusted_supplier", default)]
    pub trusted_suppliers: Vec<TrustedSupplier>,
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

/// A supplier the site trusts, and one of its plugin-signing keys.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedSupplier {
    /// The supplier's name, exactly as its plugins' manifests give it.
    pub name: String,
    /// The public key line the supplier published
    /// (`gpes-ed25519:<base64>`, as `gpes-plugin keygen` prints it).
    pub public_key: gpes_sign::PublicKey,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PracticeConfig {
    /// ODS code.
    pub code: String,
    /// The supplier plugin (a WebAssembly component) that reads it.
    pub plugin: PathBuf,
    /// The plugin's signed manifest (default: the plugin's path followed by
    /// `.sig.json`, e.g. `csv-export.wasm.sig.json` beside it).
    #[serde(default)]
    pub plugin_manifest: Option<PathBuf>,
    /// The folder holding the practice's export.
    pub data: PathBuf,
}

impl PracticeConfig {
    /// Where the plugin's signed manifest is.
    pub fn manifest_path(&self) -> PathBuf {
        self.plugin_manifest
            .clone()
            .unwrap_or_else(|| gpes_sign::default_manifest_path(&self.plugin))
    }
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
        for s in &config.trusted_suppliers {
            if s.name.trim().is_empty() {
                return Err(invalid("a trusted_supplier has an empty name".into()));
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

    /// The suppliers and keys this site trusts to sign plugins.
    pub fn trust_list(&self) -> gpes_sign::TrustList {
        let mut trust = gpes_sign::TrustList::new();
        for s in &self.trusted_suppliers {
            trust.trust(s.name.clone(), s.public_key);
        }
        trust
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
    fn trusted_suppliers_and_manifest_paths_are_read() {
        let (key, _) = gpes_sign::SigningKey::generate().expect("key");
        let text = format!(
            "data_dir = \"/x\"\n[[trusted_supplier]]\nname = \"S\"\npublic_key = \"{}\"\n\
             [[practice]]\ncode = \"A81001\"\nplugin = \"/p/a.wasm\"\ndata = \"/d\"\n\
             [[practice]]\ncode = \"B82002\"\nplugin = \"/p/a.wasm\"\nplugin_manifest = \"/m/a.json\"\ndata = \"/d\"\n",
            key.public_key()
        );
        let config = Config::parse(&text, Path::new("agent.toml")).expect("valid");
        assert_eq!(config.trust_list().keys_for("S"), [key.public_key()]);
        assert_eq!(
            config.practices[0].manifest_path(),
            Path::new("/p/a.wasm.sig.json")
        );
        assert_eq!(config.practices[1].manifest_path(), Path::new("/m/a.json"));
    }

    #[test]
    fn a_malformed_public_key_is_refused_saying_what_a_key_looks_like() {
        let text = "data_dir = \"/x\"\n[[trusted_supplier]]\nname = \"S\"\npublic_key = \"ssh-ed25519 AAAA\"\n";
        let err = Config::parse(text, Path::new("agent.toml")).expect_err("bad key");
        assert!(err.to_string().contains("gpes-ed25519:"), "{err}");
    }

    #[test]
    fn a_practice_listed_twice_is_refused() {
        let p = "[[practice]]\ncode = \"A81001\"\nplugin = \"p.wasm\"\ndata = \"/d\"\n";
        let text = format!("data_dir = \"/x\"\n{p}{p}");
        let err = Config::parse(&text, Path::new("agent.toml")).expect_err("twice");
        assert!(err.to_string().contains("listed twice"), "{err}");
    }
}
