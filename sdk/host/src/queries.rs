//! The one way to run queries through a plugin: N queries over one
//! practice, sharing each pass's extraction. Each pass asks the plugin once
//! for what every query still running needs (their requests merged), hands
//! every record to each of those queries' evaluations (the engine ignores
//! what a query does not read, as it must: a plugin may return more than
//! asked), and ends the pass for each; a query whose variables depend on
//! others asks for another pass, a fresh extraction with its narrower
//! request. Every file opened in any pass must be the same file in every
//! pass. The agent, `gpes-plugin`, the benchmarks and the tests all run
//! queries through [`run_queries`].

use crate::{ExtractionError, FileFingerprint, Limits, LogLine, Plugin};
use gpes_model::{Request, Table, Warning};
use gpes_query::{Answer, BoundQuery, Evaluation, Needs};
use std::collections::BTreeMap;
use std::path::Path;

/// What running queries over one practice gave.
#[derive(Debug, Clone, PartialEq)]
pub struct PracticeRun {
    /// One answer per query, in the order the queries were given.
    pub answers: Vec<Answer>,
    /// Every file opened in any pass, sorted by name.
    pub inputs: Vec<FileFingerprint>,
    /// The plugin's and the host's data-quality warnings. A file read in
    /// several passes warns again in each: a warning (same kind, file and
    /// message) is kept once, with the largest count any pass gave.
    pub warnings: Vec<Warning>,
    /// Extractions run: one per pass.
    pub passes: u32,
    /// Source records (lines, resources) the plugin read, over all passes.
    pub records_read: u64,
    /// Records handed to the engine, over all passes.
    pub records: u64,
    /// What the plugin logged, over all passes.
    pub logs: Vec<LogLine>,
}

impl PracticeRun {
    /// The warnings' counts by kind, as the sealed extract carries them.
    pub fn warnings_by_kind(&self) -> BTreeMap<gpes_model::WarningKind, u64> {
        let mut by_kind = BTreeMap::new();
        for w in &self.warnings {
            *by_kind.entry(w.kind).or_default() += w.count;
        }
        by_kind
    }
}

/// One request asking for everything several queries need.
pub fn merged_request(practice: &str, needs: &[&Needs]) -> Request {
    let mut tables: Vec<Table> = Vec::new();
    let mut code_sets = Vec::new();
    for n in needs {
        for t in &n.tables {
            if !tables.contains(t) {
                tables.push(*t);
            }
        }
        for set in &n.code_sets {
            if !code_sets.contains(set) {
                code_sets.push(set.clone());
            }
        }
    }
    tables.sort();
    Request {
        practice: practice.to_owned(),
        tables,
        code_sets,
    }
}

/// Runs `queries` (each bound to `practice`) over the practice's data in
/// `root` with `plugin`, pass after pass, and answers each. `progress` is
/// told each pass as it starts (1-based) and how many passes the longest
/// query takes at most.
pub async fn run_queries(
    plugin: &Plugin,
    root: &Path,
    practice: &str,
    queries: &[BoundQuery],
    limits: &Limits,
    mut progress: impl FnMut(u32, u32),
) -> Result<PracticeRun, ExtractionError> {
    let most = queries.iter().map(BoundQuery::passes).max().unwrap_or(0);
    // (evaluation, what its next pass needs; None once it is done)
    let mut running: Vec<(Evaluation, Option<Needs>)> = queries
        .iter()
        .map(|q| (q.evaluation(), Some(q.needs())))
        .collect();
    let mut inputs: BTreeMap<String, FileFingerprint> = BTreeMap::new();
    let mut warnings: BTreeMap<(gpes_model::WarningKind, String, String), Warning> =
        BTreeMap::new();
    let mut run = PracticeRun {
        answers: Vec::new(),
        inputs: Vec::new(),
        warnings: Vec::new(),
        passes: 0,
        records_read: 0,
        records: 0,
        logs: Vec::new(),
    };
    loop {
        let wanted: Vec<&Needs> = running.iter().filter_map(|(_, n)| n.as_ref()).collect();
        if wanted.is_empty() {
            break;
        }
        run.passes += 1;
        progress(run.passes, most);
        let request = merged_request(practice, &wanted);
        let mut active: Vec<&mut Evaluation> = running
            .iter_mut()
            .filter(|(_, n)| n.is_some())
            .map(|(e, _)| e)
            .collect();
        let extraction = plugin
            .extract(root, &request, limits, |r| {
                for e in active.iter_mut() {
                    e.push(&r);
                }
            })
            .await?;
        run.records_read += extraction.summary.records_read;
        run.records += extraction.records;
        run.logs.extend(extraction.logs);
        for w in extraction.summary.warnings {
            let key = (w.kind, w.file.clone(), w.message.clone());
            match warnings.get_mut(&key) {
                Some(kept) => {
                    kept.count = kept.count.max(w.count);
                    kept.line = kept.line.min(w.line);
                }
                None => {
                    warnings.insert(key, w);
                }
            }
        }
        for f in extraction.fingerprint {
            if let Some(earlier) = inputs.get(&f.name)
                && *earlier != f
            {
                return Err(ExtractionError::ChangedBetweenPasses { name: f.name });
            }
            inputs.insert(f.name.clone(), f);
        }
        for (evaluation, next) in running.iter_mut().filter(|(_, n)| n.is_some()) {
            *next = evaluation.end_pass();
        }
    }
    run.answers = running.into_iter().map(|(e, _)| e.finish()).collect();
    run.inputs = inputs.into_values().collect();
    let mut warnings: Vec<Warning> = warnings.into_values().collect();
    warnings.sort_by(|a, b| (a.kind, &a.file, a.line).cmp(&(b.kind, &b.file, b.line)));
    run.warnings = warnings;
    Ok(run)
}
