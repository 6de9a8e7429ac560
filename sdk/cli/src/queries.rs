//! The example queries (built in, so the tool works from anywhere) and the
//! way a query is run through a plugin: bind, extract what each pass needs,
//! evaluate, exactly as the agent does.

use anyhow::{Context, anyhow};
use gpes_host::{Host, Limits, Plugin, PracticeRun};
use gpes_model::Date;
use gpes_query::{Answer, BoundQuery, QuerySpec};
use std::collections::BTreeMap;
use std::path::Path;

/// `examples/queries`, as built into the tool.
pub const EXAMPLES: [(&str, &str); 10] = [
    (
        "registered.yaml",
        include_str!("../../../examples/queries/registered.yaml"),
    ),
    (
        "dm_reg.yaml",
        include_str!("../../../examples/queries/dm_reg.yaml"),
    ),
    (
        "dm020.yaml",
        include_str!("../../../examples/queries/dm020.yaml"),
    ),
    (
        "dm021.yaml",
        include_str!("../../../examples/queries/dm021.yaml"),
    ),
    (
        "hyp_reg.yaml",
        include_str!("../../../examples/queries/hyp_reg.yaml"),
    ),
    (
        "hyp008.yaml",
        include_str!("../../../examples/queries/hyp008.yaml"),
    ),
    (
        "hyp009.yaml",
        include_str!("../../../examples/queries/hyp009.yaml"),
    ),
    (
        "ast_reg.yaml",
        include_str!("../../../examples/queries/ast_reg.yaml"),
    ),
    (
        "flu65.yaml",
        include_str!("../../../examples/queries/flu65.yaml"),
    ),
    (
        "dm_reg_patients.yaml",
        include_str!("../../../examples/queries/dm_reg_patients.yaml"),
    ),
];

pub fn parse(file: &str, text: &str) -> anyhow::Result<QuerySpec> {
    gpes_query::parse(file, text).map_err(|e| anyhow!("{e}"))
}

/// Parses a query file, reading the code-list files it names beside it.
pub fn parse_file(path: &Path) -> anyhow::Result<QuerySpec> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("could not read {}", path.display()))?;
    let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let lists = move |f: &str| std::fs::read_to_string(dir.join(f)).map_err(|e| e.to_string());
    gpes_query::parse_with(&path.display().to_string(), &text, &lists).map_err(|e| anyhow!("{e}"))
}

/// Binds `spec` to a practice. `PPED` (the period end date the examples
/// declare), when the query has it and `params` does not, is `pped`.
pub fn bind(
    spec: &QuerySpec,
    practice: &str,
    pped: Option<Date>,
    params: &BTreeMap<String, String>,
) -> anyhow::Result<BoundQuery> {
    let mut params = params.clone();
    if let Some(d) = pped
        && spec.parameter("PPED").is_some()
    {
        params.entry("PPED".into()).or_insert_with(|| d.to_string());
    }
    spec.bind(practice, &params)
        .with_context(|| format!("binding query {}", spec.id))
}

/// Compiles the plugin at `path` (unverified: these are the author's own
/// plugins; through the compile cache, `crate::load`) with the given
/// limits. The host is returned with it, since its epoch thread enforces
/// the deadline for as long as it lives.
pub fn load(
    path: &Path,
    cache: &crate::load::CacheArgs,
    memory_mib: usize,
    deadline_seconds: u64,
) -> anyhow::Result<(Host, Plugin, Limits)> {
    let (host, plugin) = crate::load::plugin(path, cache)?;
    let limits = Limits {
        memory_bytes: memory_mib << 20,
        deadline: std::time::Duration::from_secs(deadline_seconds),
        ..Limits::default()
    };
    Ok((host, plugin, limits))
}

/// What running a query through a plugin gave.
#[derive(Debug)]
pub struct PluginRun {
    pub answer: Answer,
    /// Everything else the run gave: records, passes, warnings, inputs.
    pub run: PracticeRun,
}

/// Runs `query` over the practice in `folder` through `plugin` with
/// [`gpes_host::run_queries`], as the agent does (one extraction a pass,
/// the file-change check between passes); with `progress`, each pass is
/// announced on stderr.
pub async fn through_plugin(
    plugin: &Plugin,
    folder: &Path,
    practice: &str,
    query: &BoundQuery,
    limits: &Limits,
    progress: bool,
) -> anyhow::Result<PluginRun> {
    let mut run = gpes_host::run_queries(
        plugin,
        folder,
        practice,
        std::slice::from_ref(query),
        limits,
        |pass, of| {
            if progress {
                eprintln!("extracting pass {pass} of at most {of}…");
            }
        },
    )
    .await
    .map_err(|e| anyhow!("the plugin's extraction failed: {e}"))?;
    let answer = run
        .answers
        .pop()
        .ok_or_else(|| anyhow!("the run gave no answer"))?;
    Ok(PluginRun { answer, run })
}
