//! Runs one job: checks the query against its hash, binds it to the
//! practice and parameters, runs the site's plugin for the practice in the
//! sandbox with the engine consuming its records, and seals the extract.

use crate::buffer::Buffered;
use crate::config::{Config, PracticeConfig};
use anyhow::{Context, bail};
use gpes_canon::ContentHash;
use gpes_host::{Host, Limits, Plugin};
use gpes_protocol::{DataClass, Extract, InputFile, Job, WarningCount};
use gpes_sign::SignedManifest;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// A configured plugin the agent will not run: unreadable, unsigned, badly
/// signed, signed by a key the site does not trust, or not what its
/// manifest says. The agent refuses to start (a configuration error).
#[derive(Debug, thiserror::Error)]
#[error("practice {practice}: refusing the plugin {}: {reason}", plugin.display())]
pub struct PluginRefused {
    pub practice: String,
    pub plugin: PathBuf,
    pub reason: String,
}

/// The plugins of every configured practice, each verified against the
/// site's trust list and compiled once at start, with what they say they
/// are. No other plugin runs.
pub struct Runner {
    /// Kept for its epoch ticker, which the plugins' deadlines need.
    _host: Host,
    policy: crate::config::PolicyConfig,
    /// By (plugin path, manifest path).
    plugins: HashMap<(PathBuf, PathBuf), (Arc<Plugin>, gpes_model::PluginInfo)>,
    limits: Limits,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner").finish_non_exhaustive()
    }
}

impl Runner {
    /// Verifies and compiles the plugin of every configured practice.
    /// A plugin that does not check out is a [`PluginRefused`] error
    /// (inside the `anyhow::Error`).
    pub async fn new(config: &Config) -> anyhow::Result<Runner> {
        let limits = Limits {
            memory_bytes: config.limits.memory_mib << 20,
            deadline: Duration::from_secs(config.limits.deadline_seconds),
            ..Limits::default()
        };
        let host = Host::new()?;
        let trust = config.trust_list();
        let mut plugins = HashMap::new();
        for practice in &config.practices {
            let key = (practice.plugin.clone(), practice.manifest_path());
            if plugins.contains_key(&key) {
                continue;
            }
            let refused = |reason: String| PluginRefused {
                practice: practice.code.clone(),
                plugin: practice.plugin.clone(),
                reason,
            };
            let signed = SignedManifest::read(&key.1).map_err(|e| refused(e.to_string()))?;
            let wasm =
                std::fs::read(&key.0).map_err(|e| refused(format!("it cannot be read: {e}")))?;
            let plugin = host
                .load_signed(&wasm, &signed, &trust, &limits)
                .await
                .map_err(|e| refused(e.to_string()))?;
            let info = plugin
                .describe(&limits)
                .await
                .map_err(|e| refused(e.to_string()))?;
            tracing::info!(
                practice = %practice.code,
                plugin = %key.0.display(),
                name = %info.name,
                version = %info.version,
                supplier = %info.supplier,
                key_id = %signed.key_id,
                "plugin verified"
            );
            plugins.insert(key, (Arc::new(plugin), info));
        }
        Ok(Runner {
            _host: host,
            policy: config.policy.clone(),
            plugins,
            limits,
        })
    }

    /// The verified plugin of a configured practice.
    fn plugin(
        &self,
        practice: &PracticeConfig,
    ) -> anyhow::Result<(Arc<Plugin>, gpes_model::PluginInfo)> {
        self.plugins
            .get(&(practice.plugin.clone(), practice.manifest_path()))
            .cloned()
            .with_context(|| {
                format!(
                    "the plugin {} was not verified when the agent started; restart the agent to verify it",
                    practice.plugin.display()
                )
            })
    }

    /// Runs a job for a practice this site serves and seals its extract,
    /// through [`gpes_host::run_queries`] (every pass, the file-change check
    /// between passes).
    pub async fn run(&self, job: &Job, practice: &PracticeConfig) -> anyhow::Result<Buffered> {
        if ContentHash::of_bytes(job.query.canonical.as_bytes()) != job.query.hash {
            return Err(RefusedBySite(
                "the job's query does not match its hash; refusing to run it".into(),
            )
            .into());
        }
        let spec = gpes_query::parse(&format!("job {}", job.job_id), &job.query.source)
            .map_err(|e| anyhow::anyhow!("the job's query is not valid here:\n{e}"))?;
        if spec.content_hash()? != job.query.hash {
            return Err(RefusedBySite(
                "the job's query source does not give its hash; refusing to run it".into(),
            )
            .into());
        }
        output_allowed(&spec, job.data_class)
            .map_err(|e| anyhow::Error::new(RefusedBySite(format!("{e:#}"))))?;
        let mut bound = spec.bind(&job.practice, &job.parameters)?;
        if self.policy.exclude_objections_for.contains(&job.purpose) {
            // Objectors leave before any rule; the codes join the request
            // as a policy code set.
            bound = bound.with_exclusion(self.policy.objection_codes.iter().copied());
        }
        let (plugin, info) = self.plugin(practice)?;
        let run = gpes_host::run_queries(
            &plugin,
            &practice.data,
            &job.practice,
            std::slice::from_ref(&bound),
            &self.limits,
            |pass, of| tracing::debug!(job = %job.job_id, pass, of, "extracting"),
        )
        .await?;
        let data_quality_warnings = WarningCount::from_map(&run.warnings_by_kind());
        let result = run
            .answers
            .into_iter()
            .next()
            .context("the run gave no answer for the job's query")?;
        let extract = Extract {
            practice: job.practice.clone(),
            query_hash: job.query.hash,
            parameters: job.parameters.clone(),
            plugin_name: info.name,
            plugin_version: info.version,
            engine_version: gpes_query::ENGINE_VERSION.to_owned(),
            inputs: run
                .inputs
                .into_iter()
                .map(|f| InputFile {
                    name: f.name,
                    bytes: f.bytes,
                    sha256: f.sha256,
                })
                .collect(),
            result,
            data_quality_warnings,
        };
        let canonical = gpes_canon::to_canonical_string(&extract)?;
        Ok(Buffered {
            job_id: job.job_id.clone(),
            extract_hash: ContentHash::of_bytes(canonical.as_bytes()),
            extract: canonical,
        })
    }
}

/// A job the site refuses to run (its policy, or a job that does not
/// check out): reported to the coordinator as a failure that retrying
/// cannot mend.
#[derive(Debug)]
pub struct RefusedBySite(pub String);

impl std::fmt::Display for RefusedBySite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RefusedBySite {}

impl Runner {
    /// The name and version of the plugin that reads a practice.
    pub fn plugin_info(&self, practice: &PracticeConfig) -> Option<(String, String)> {
        self.plugin(practice)
            .ok()
            .map(|(_, info)| (info.name, info.version))
    }
}

/// The site's last check before any data is read: a query's output must fit
/// the collection's data class. Record-level rows need a record-level
/// collection; identifier columns need a patient-identifiable one; pseudonym
/// columns are refused until the site-keyed pseudonymisation exists (raw
/// identifiers are never sent in their place).
pub fn output_allowed(spec: &gpes_query::QuerySpec, class: DataClass) -> anyhow::Result<()> {
    use gpes_query::{DataClass as Column, Output};
    let Output::RecordLevel { columns, .. } = &spec.output else {
        return Ok(());
    };
    if class == DataClass::Aggregate {
        bail!("the query gives one row per patient but the collection is aggregate-only; refused");
    }
    for c in columns {
        match c.class {
            Column::Identifier if class != DataClass::PatientIdentifiable => bail!(
                "column '{}' is an identifier but the collection is not patient-identifiable; refused",
                c.name
            ),
            Column::Pseudonym => bail!(
                "column '{}' is a pseudonym, and this agent cannot pseudonymise yet; refused rather than send identifiers",
                c.name
            ),
            _ => {}
        }
    }
    Ok(())
}
