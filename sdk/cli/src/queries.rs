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
pub const EXAMPLES: [(&str, &str); 15] = [
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
        "ast007.yaml",
        include_str!("../../../examples/queries/ast007.yaml"),
    ),
    (
        "chd001.yaml",
        include_str!("../../../examples/queries/chd001.yaml"),
    ),
    (
        "af001.yaml",
        include_str!("../../../examples/queries/af001.yaml"),
    ),
    (
        "smok002.yaml",
        include_str!("../../../examples/queries/smok002.yaml"),
    ),
    (
        "flu65.yaml",
        include_str!("../../../examples/queries/flu65.yaml"),
    ),
    (
        "flu.yaml",
        include_str!("../../../examples/queries/flu.yaml"),
    ),
    (
        "dm_reg_patients.yaml",
        include_str!("../../../examples/queries/dm_reg_patients.yaml"),
    ),
];

/// The code-list files the examples name (`examples/queries/codelists`),
/// built in with them, by the path the queries write.
pub const EXAMPLE_CODE_LISTS: [(&str, &str); 39] = [
    (
        "codelists/afib_cod.csv",
        include_str!("../../../examples/queries/codelists/afib_cod.csv"),
    ),
    (
        "codelists/afibres_cod.csv",
        include_str!("../../../examples/queries/codelists/afibres_cod.csv"),
    ),
    (
        "codelists/ast_cod.csv",
        include_str!("../../../examples/queries/codelists/ast_cod.csv"),
    ),
    (
        "codelists/astcontass_cod.csv",
        include_str!("../../../examples/queries/codelists/astcontass_cod.csv"),
    ),
    (
        "codelists/astexacb_cod.csv",
        include_str!("../../../examples/queries/codelists/astexacb_cod.csv"),
    ),
    (
        "codelists/astinvite_cod.csv",
        include_str!("../../../examples/queries/codelists/astinvite_cod.csv"),
    ),
    (
        "codelists/astmondec_cod.csv",
        include_str!("../../../examples/queries/codelists/astmondec_cod.csv"),
    ),
    (
        "codelists/astpcadec_cod.csv",
        include_str!("../../../examples/queries/codelists/astpcadec_cod.csv"),
    ),
    (
        "codelists/astpcapu_cod.csv",
        include_str!("../../../examples/queries/codelists/astpcapu_cod.csv"),
    ),
    (
        "codelists/astres_cod.csv",
        include_str!("../../../examples/queries/codelists/astres_cod.csv"),
    ),
    (
        "codelists/asttrt_cod.csv",
        include_str!("../../../examples/queries/codelists/asttrt_cod.csv"),
    ),
    (
        "codelists/bldtestdec_cod.csv",
        include_str!("../../../examples/queries/codelists/bldtestdec_cod.csv"),
    ),
    (
        "codelists/bpdec_cod.csv",
        include_str!("../../../examples/queries/codelists/bpdec_cod.csv"),
    ),
    (
        "codelists/chd_cod.csv",
        include_str!("../../../examples/queries/codelists/chd_cod.csv"),
    ),
    (
        "codelists/diabp_cod.csv",
        include_str!("../../../examples/queries/codelists/diabp_cod.csv"),
    ),
    (
        "codelists/dm_cod.csv",
        include_str!("../../../examples/queries/codelists/dm_cod.csv"),
    ),
    (
        "codelists/dminvite_cod.csv",
        include_str!("../../../examples/queries/codelists/dminvite_cod.csv"),
    ),
    (
        "codelists/dmmax_cod.csv",
        include_str!("../../../examples/queries/codelists/dmmax_cod.csv"),
    ),
    (
        "codelists/dmpcadec_cod.csv",
        include_str!("../../../examples/queries/codelists/dmpcadec_cod.csv"),
    ),
    (
        "codelists/dmpcapu_cod.csv",
        include_str!("../../../examples/queries/codelists/dmpcapu_cod.csv"),
    ),
    (
        "codelists/dmres_cod.csv",
        include_str!("../../../examples/queries/codelists/dmres_cod.csv"),
    ),
    (
        "codelists/exsmok_cod.csv",
        include_str!("../../../examples/queries/codelists/exsmok_cod.csv"),
    ),
    (
        "codelists/flu_cod.csv",
        include_str!("../../../examples/queries/codelists/flu_cod.csv"),
    ),
    (
        "codelists/htmax_cod.csv",
        include_str!("../../../examples/queries/codelists/htmax_cod.csv"),
    ),
    (
        "codelists/hyp_cod.csv",
        include_str!("../../../examples/queries/codelists/hyp_cod.csv"),
    ),
    (
        "codelists/hypinvite_cod.csv",
        include_str!("../../../examples/queries/codelists/hypinvite_cod.csv"),
    ),
    (
        "codelists/hyppcadec_cod.csv",
        include_str!("../../../examples/queries/codelists/hyppcadec_cod.csv"),
    ),
    (
        "codelists/hyppcapu_cod.csv",
        include_str!("../../../examples/queries/codelists/hyppcapu_cod.csv"),
    ),
    (
        "codelists/hypres_cod.csv",
        include_str!("../../../examples/queries/codelists/hypres_cod.csv"),
    ),
    (
        "codelists/ifcchbam_cod.csv",
        include_str!("../../../examples/queries/codelists/ifcchbam_cod.csv"),
    ),
    (
        "codelists/lsmok_cod.csv",
        include_str!("../../../examples/queries/codelists/lsmok_cod.csv"),
    ),
    (
        "codelists/mildfrail_cod.csv",
        include_str!("../../../examples/queries/codelists/mildfrail_cod.csv"),
    ),
    (
        "codelists/modfrail_cod.csv",
        include_str!("../../../examples/queries/codelists/modfrail_cod.csv"),
    ),
    (
        "codelists/nsmok_cod.csv",
        include_str!("../../../examples/queries/codelists/nsmok_cod.csv"),
    ),
    (
        "codelists/rev_cod.csv",
        include_str!("../../../examples/queries/codelists/rev_cod.csv"),
    ),
    (
        "codelists/serfruc_cod.csv",
        include_str!("../../../examples/queries/codelists/serfruc_cod.csv"),
    ),
    (
        "codelists/sevfrail_cod.csv",
        include_str!("../../../examples/queries/codelists/sevfrail_cod.csv"),
    ),
    (
        "codelists/sysbp_cod.csv",
        include_str!("../../../examples/queries/codelists/sysbp_cod.csv"),
    ),
    (
        "codelists/writpastp_cod.csv",
        include_str!("../../../examples/queries/codelists/writpastp_cod.csv"),
    ),
];

/// A built-in example, parsed with its built-in code lists.
pub fn parse_example(file: &str, text: &str) -> anyhow::Result<QuerySpec> {
    let lists = |f: &str| {
        EXAMPLE_CODE_LISTS
            .iter()
            .find(|(name, _)| *name == f)
            .map(|(_, text)| (*text).to_owned())
            .ok_or_else(|| format!("'{f}' is not among the built-in example code lists"))
    };
    gpes_query::parse_with(file, text, &lists).map_err(|e| anyhow!("{e}"))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The names in `examples/queries` (or its `codelists`) ending in `ext`.
    fn on_disk(folder: &str, ext: &str) -> Vec<String> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/queries")
            .join(folder);
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("examples")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(ext))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn every_example_and_code_list_is_built_in_and_parses() {
        let mut built_in: Vec<String> = EXAMPLES.iter().map(|(f, _)| f.to_string()).collect();
        built_in.sort();
        assert_eq!(
            built_in,
            on_disk("", ".yaml"),
            "add the new example to EXAMPLES"
        );
        let mut lists: Vec<String> = EXAMPLE_CODE_LISTS
            .iter()
            .map(|(f, _)| f.trim_start_matches("codelists/").to_string())
            .collect();
        lists.sort();
        assert_eq!(
            lists,
            on_disk("codelists", ".csv"),
            "add the new list to EXAMPLE_CODE_LISTS"
        );
        for (file, text) in EXAMPLES {
            let spec = parse_example(file, text).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert!(!spec.populations.is_empty(), "{file}");
        }
    }
}
