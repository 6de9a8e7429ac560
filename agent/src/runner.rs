//! Runs one job: checks the query against its hash, binds it to the
//! practice and parameters, runs the site's plugin for the practice in the
//! sandbox with the engine consuming its records, and seals the extract.

use crate::buffer::Buffered;
use crate::config::{Config, PracticeConfig};
use anyhow::{Context, bail};
use gpes_canon::ContentHash;
use gpes_host::{Host, Limits, Plugin};
use gpes_protocol::{Extract, InputFile, Job};
use gpes_query::{Evaluation, Query};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Plugins compiled once, by path, and what they say they are.
pub struct Runner {
    host: Host,
    plugins: Mutex<HashMap<PathBuf, (Arc<Plugin>, gpes_model::PluginInfo)>>,
    limits: Limits,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner").finish_non_exhaustive()
    }
}

impl Runner {
    pub fn new(config: &Config) -> anyhow::Result<Runner> {
        Ok(Runner {
            host: Host::new()?,
            plugins: Mutex::new(HashMap::new()),
            limits: Limits {
                memory_bytes: config.limits.memory_mib << 20,
                deadline: Duration::from_secs(config.limits.deadline_seconds),
                ..Limits::default()
            },
        })
    }

    async fn plugin(
        &self,
        path: &PathBuf,
    ) -> anyhow::Result<(Arc<Plugin>, gpes_model::PluginInfo)> {
        if let Some(p) = self
            .plugins
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(path)
        {
            return Ok(p.clone());
        }
        let wasm = std::fs::read(path)
            .with_context(|| format!("could not read the plugin {}", path.display()))?;
        let plugin = Arc::new(
            self.host
                .load(&wasm)
                .with_context(|| format!("could not load the plugin {}", path.display()))?,
        );
        let info = plugin.describe(&self.limits).await?;
        let entry = (plugin, info);
        self.plugins
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(path.clone(), entry.clone());
        Ok(entry)
    }

    /// Runs a job for a practice this site serves and seals its extract.
    pub async fn run(&self, job: &Job, practice: &PracticeConfig) -> anyhow::Result<Buffered> {
        if ContentHash::of_bytes(job.query.canonical.as_bytes()) != job.query.hash {
            bail!("the job's query does not match its hash; refusing to run it");
        }
        let query = Query::parse(&job.query.canonical)?;
        let bound = query.bind(&job.practice, &job.parameters)?;
        let (plugin, info) = self.plugin(&practice.plugin).await?;
        let request = gpes_model::Request {
            practice: job.practice.clone(),
            tables: query.needs().tables,
            code_sets: vec![],
        };
        let mut evaluation = bound.evaluation();
        let extraction = plugin
            .extract(&practice.data, &request, &self.limits, |r| {
                evaluation.push(&r)
            })
            .await?;
        let answer = evaluation.finish();
        let extract = Extract {
            practice: job.practice.clone(),
            query_hash: job.query.hash,
            parameters: job.parameters.clone(),
            plugin_name: info.name,
            plugin_version: info.version,
            engine_version: gpes_query::ENGINE_VERSION.to_owned(),
            inputs: extraction
                .fingerprint
                .into_iter()
                .map(|f| InputFile {
                    name: f.name,
                    bytes: f.bytes,
                    sha256: f.sha256,
                })
                .collect(),
            result: serde_json::json!({
                "registered": answer.registered,
                "registrations_without_patient": answer.registrations_without_patient,
                "warnings": extraction.summary.warnings.iter().map(|w| w.count).sum::<u64>(),
            }),
        };
        let canonical = gpes_canon::to_canonical_string(&extract)?;
        Ok(Buffered {
            job_id: job.job_id.clone(),
            extract_hash: ContentHash::of_bytes(canonical.as_bytes()),
            extract: canonical,
        })
    }
}
