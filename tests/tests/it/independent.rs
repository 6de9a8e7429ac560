//! The engine against an independent computation: on a seeded 10,000-patient
//! synthetic practice, the counts of every population of the example
//! indicators (the registers; DM020, DM021, HYP008, HYP009, AST007 and
//! SMOK002 with their ordered rules; the flu cohorts) equal DuckDB's over
//! the same csv-export files (`scripts/independent_counts.py`, written from
//! the business rules and SPEC.md, sharing no code with the engine, only
//! the published code lists), patient by patient (each population's
//! patient ids, the engine's from a record-level copy of its query), and
//! rule by rule: the patients each rule of an indicator decided, counted by
//! the engine (from copies of the query, one population per rule) and by
//! DuckDB, are the same and non-zero for every rule.

use gpes_host::{Host, Limits};
use std::collections::BTreeMap;
use std::process::Command;

const PRACTICE: &str = "A81001";
const PPED: &str = "2025-03-31";

/// Runs example queries through the csv-export plugin in the sandbox and
/// the engine, as the agent does, every pass included: each population's
/// count.
async fn engine_counts(
    host: &Host,
    folder: &std::path::Path,
    files: &[&str],
) -> BTreeMap<String, u64> {
    // PPED, for the queries that have it; the flu queries' season ends on
    // it by default.
    let pped: BTreeMap<String, String> = [("PPED".to_string(), PPED.to_string())].into();
    let bound: Vec<gpes_query::BoundQuery> = files
        .iter()
        .map(|file| {
            let spec = gpes_query::parse(file, &gpes_tests::example_query(file)).expect("valid");
            let params = match spec.parameter("PPED") {
                Some(_) => pped.clone(),
                None => BTreeMap::new(),
            };
            spec.bind(PRACTICE, &params).expect("binds")
        })
        .collect();
    let wasm = std::fs::read(gpes_plugin_artifacts::CSV_EXPORT).expect("plugin");
    let plugin = host.load(&wasm).expect("loads");
    let run = gpes_host::run_queries(
        &plugin,
        folder,
        PRACTICE,
        &bound,
        &Limits::default(),
        |_, _| {},
    )
    .await
    .expect("the queries run");
    assert!(
        run.warnings
            .iter()
            .all(|w| w.file == gpes_host::HOST_CHECKS),
        "no warning of the plugin's: {:?}",
        run.warnings
    );
    let mut counts = BTreeMap::new();
    for (file, answer) in files.iter().zip(run.answers) {
        let gpes_query::ResultOutput::Aggregate(aggregate) = answer.output else {
            panic!("{file} is not an aggregate query");
        };
        for p in aggregate.populations {
            let n = p.count.expect("exact: nothing is suppressed");
            // A population several queries define (DM_REG...) must count
            // the same in each.
            if let Some(before) = counts.insert(p.population.clone(), n) {
                assert_eq!(
                    before, n,
                    "{file}: {} differs between queries",
                    p.population
                );
            }
        }
    }
    counts
}

/// The patients of each named population, by the engine: each example
/// query run again (through the plugin, every pass) with its output made a
/// record-level list of the population's patient ids.
async fn engine_members(
    host: &Host,
    folder: &std::path::Path,
    populations: &[(&str, &str)],
) -> BTreeMap<String, Vec<String>> {
    let pped: BTreeMap<String, String> = [("PPED".to_string(), PPED.to_string())].into();
    let bound: Vec<gpes_query::BoundQuery> = populations
        .iter()
        .map(|(file, population)| {
            let text = gpes_tests::example_query(file);
            let rules = text.split("\noutput:").next().expect("text");
            let listed = format!(
                "{rules}\noutput:\n  record_level:\n    population: {population}\n    columns:\n      - {{ name: id, value: patient_id, class: pseudonym }}\n"
            );
            let spec = gpes_query::parse(file, &listed).unwrap_or_else(|e| panic!("{e}"));
            let params = match spec.parameter("PPED") {
                Some(_) => pped.clone(),
                None => BTreeMap::new(),
            };
            spec.bind(PRACTICE, &params).expect("binds")
        })
        .collect();
    let wasm = std::fs::read(gpes_plugin_artifacts::CSV_EXPORT).expect("plugin");
    let plugin = host.load(&wasm).expect("loads");
    let run = gpes_host::run_queries(
        &plugin,
        folder,
        PRACTICE,
        &bound,
        &Limits::default(),
        |_, _| {},
    )
    .await
    .expect("the queries run");
    let mut out = BTreeMap::new();
    for ((_, population), answer) in populations.iter().zip(run.answers) {
        let gpes_query::ResultOutput::RecordLevel(list) = answer.output else {
            panic!("{population}: a list was asked for");
        };
        let ids: Vec<String> = list
            .rows
            .into_iter()
            .map(|row| match &row[..] {
                [gpes_query::OutValue::Text(id)] => id.clone(),
                other => panic!("{population}: {other:?}"),
            })
            .collect();
        out.insert(population.to_string(), ids);
    }
    out
}

/// The rules of `population` in `spec`, each deciding branch made a
/// population of its own, named by the label the DuckDB script gives it
/// ("rN" rejected at rule N, "sN" selected by rule N's `then`, "s_end"
/// selected by the last rule's `else`): its rules are `population`'s up to
/// that one, with every earlier selection turned to a rejection and the
/// chosen branch the only one that selects, so it holds exactly the
/// patients that branch decided. `spec` is returned counting those.
fn rule_by_rule(mut spec: gpes_query::QuerySpec, population: &str) -> gpes_query::QuerySpec {
    use gpes_query::Action::{Next, Reject, Select};
    let original = spec
        .population(population)
        .unwrap_or_else(|| panic!("no population {population}"))
        .clone();
    let last = original.rules.len() - 1;
    let mut added = Vec::new();
    for (k, rule) in original.rules.iter().enumerate() {
        for then_branch in [true, false] {
            let decision = if then_branch {
                rule.then
            } else {
                rule.otherwise
            };
            let label = match decision {
                Next => continue,
                Reject => format!("r{}", k + 1),
                Select if k == last && !then_branch => "s_end".to_string(),
                Select => format!("s{}", k + 1),
            };
            let mut rules: Vec<gpes_query::Rule> = original.rules[..k]
                .iter()
                .map(|r| {
                    let mut r = r.clone();
                    for a in [&mut r.then, &mut r.otherwise] {
                        if *a == Select {
                            *a = Reject;
                        }
                    }
                    r
                })
                .collect();
            let mut chosen = rule.clone();
            (chosen.then, chosen.otherwise) = if then_branch {
                (Select, Reject)
            } else {
                (Reject, Select)
            };
            rules.push(chosen);
            let mut p = original.clone();
            p.name = label;
            p.rules = rules;
            added.push(p);
        }
    }
    let names = added.iter().map(|p| p.name.clone()).collect::<Vec<_>>();
    spec.populations.extend(added);
    spec.output = gpes_query::Output::Aggregate {
        positions: vec![Default::default(); names.len()],
        populations: names,
        breakdown: Vec::new(),
    };
    spec
}

/// The engine's count of the patients each rule of each `(file,
/// population)` decided, run as [`engine_counts`] runs the queries, by
/// [`rule_by_rule`]: `{population: {label: count}}`, zero counts left out
/// (as DuckDB leaves them out).
async fn engine_rule_counts(
    host: &Host,
    folder: &std::path::Path,
    populations: &[(&str, &str)],
) -> BTreeMap<String, BTreeMap<String, u64>> {
    let pped: BTreeMap<String, String> = [("PPED".to_string(), PPED.to_string())].into();
    let bound: Vec<gpes_query::BoundQuery> = populations
        .iter()
        .map(|(file, population)| {
            let spec = gpes_query::parse(file, &gpes_tests::example_query(file)).expect("valid");
            let params = match spec.parameter("PPED") {
                Some(_) => pped.clone(),
                None => BTreeMap::new(),
            };
            rule_by_rule(spec, population)
                .bind(PRACTICE, &params)
                .expect("binds")
        })
        .collect();
    let wasm = std::fs::read(gpes_plugin_artifacts::CSV_EXPORT).expect("plugin");
    let plugin = host.load(&wasm).expect("loads");
    let run = gpes_host::run_queries(
        &plugin,
        folder,
        PRACTICE,
        &bound,
        &Limits::default(),
        |_, _| {},
    )
    .await
    .expect("the queries run");
    let mut out = BTreeMap::new();
    for ((_, population), answer) in populations.iter().zip(run.answers) {
        let gpes_query::ResultOutput::Aggregate(aggregate) = answer.output else {
            panic!("{population}: counts were asked for");
        };
        let counts = aggregate
            .populations
            .into_iter()
            .map(|p| (p.population, p.count.expect("exact")))
            .filter(|(_, n)| *n > 0)
            .collect();
        out.insert(population.to_string(), counts);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn example_indicators_equal_duckdb_over_the_same_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let folder = dir.path().join(PRACTICE);
    let practice = gpes_synth::generate(&gpes_synth::PracticeConfig::new(42, PRACTICE, 10_000));
    gpes_synth::write_csv_export(&practice, &folder).expect("written");

    let script = gpes_tests::workspace().join("scripts/independent_counts.py");
    let python = gpes_plugin_artifacts::tools::python_with_duckdb();
    let out = Command::new(python)
        .arg(&script)
        .arg(&folder)
        .args([PRACTICE, PPED, "--patients"])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "the independent computation failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let independent: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");

    let host = Host::new().expect("host");
    let engine = engine_counts(
        &host,
        &folder,
        &[
            "registered.yaml",
            "dm_reg.yaml",
            "hyp_reg.yaml",
            "ast_reg.yaml",
            "chd001.yaml",
            "af001.yaml",
            "dm020.yaml",
            "dm021.yaml",
            "hyp008.yaml",
            "hyp009.yaml",
            "ast007.yaml",
            "smok002.yaml",
            "flu.yaml",
            "flu65.yaml",
        ],
    )
    .await;
    let same = |engine_name: &str, duckdb_name: &str| {
        assert_eq!(
            engine.get(engine_name).copied(),
            independent[duckdb_name].as_u64(),
            "{engine_name}: engine {engine:?}, DuckDB {independent}"
        );
        assert!(
            engine[engine_name] > 0,
            "{engine_name} is empty: {engine:?}"
        );
    };
    for population in [
        "REGISTERED",
        "DM_REG",
        "HYP_REG",
        "AST_REG",
        "CHD_REG",
        "AF_REG",
        "DM020_DEN",
        "DM020_NUM",
        "DM021_DEN",
        "DM021_NUM",
        "HYP008_DEN",
        "HYP008_NUM",
        "HYP009_DEN",
        "HYP009_NUM",
        "AST007_DEN",
        "AST007_NUM",
        "SMOK_REG",
        "SMOK002_DEN",
        "SMOK002_NUM",
        "AGED_65_PLUS",
        "VACCINATED_65_PLUS",
        "AT_RISK_UNDER_65",
        "VACCINATED_AT_RISK",
    ] {
        same(population, population);
    }
    // flu65.yaml's cohort is flu.yaml's first.
    same("COHORT", "AGED_65_PLUS");
    same("VACCINATED", "VACCINATED_65_PLUS");

    // Which rules decide some patient: every rule of every indicator, at
    // this seed, and the engine's count of each equals DuckDB's.
    let hyp = [
        "r1", "s2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "s_end",
    ];
    let dm = [
        "r1", "s2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "s_end",
    ];
    let reached: [(&str, &str, &str, &[&str]); 7] = [
        ("HYP008_RULES", "hyp008.yaml", "HYP008_DEN", &hyp),
        ("HYP009_RULES", "hyp009.yaml", "HYP009_DEN", &hyp),
        ("DM020_RULES", "dm020.yaml", "DM020_DEN", &dm),
        ("DM021_RULES", "dm021.yaml", "DM021_DEN", &dm),
        (
            "AST007_RULES",
            "ast007.yaml",
            "AST007_DEN",
            &["s1", "r2", "r3", "r4", "r5", "r6", "r7", "s_end"],
        ),
        (
            "SMOK002_RULES",
            "smok002.yaml",
            "SMOK002_DEN",
            &["s1", "r2", "r3", "s_end"],
        ),
        (
            "AT_RISK_UNDER_65_RULES",
            "flu.yaml",
            "AT_RISK_UNDER_65",
            &["r1", "s2", "s3", "s4", "r4"],
        ),
    ];
    let by_rule = engine_rule_counts(
        &host,
        &folder,
        &reached
            .iter()
            .map(|(_, file, population, _)| (*file, *population))
            .collect::<Vec<_>>(),
    )
    .await;
    for (indicator, _, population, rules) in reached {
        let decided = &independent[indicator];
        let theirs: BTreeMap<String, u64> = decided
            .as_object()
            .expect("rule counts")
            .iter()
            .map(|(rule, n)| (rule.clone(), n.as_u64().expect("count")))
            .collect();
        assert_eq!(
            by_rule[population], theirs,
            "{indicator}: the engine's rule counts, then DuckDB's"
        );
        for rule in rules {
            let n = decided[*rule].as_u64().unwrap_or(0);
            assert!(
                n > 0,
                "{indicator}: no patient decided at {rule}: {decided}"
            );
        }
        // The rules' counts add up to the population they start from.
        let total: u64 = decided
            .as_object()
            .expect("rule counts")
            .values()
            .map(|n| n.as_u64().expect("count"))
            .sum();
        let from = match indicator {
            "HYP008_RULES" | "HYP009_RULES" => engine["HYP_REG"],
            "DM020_RULES" | "DM021_RULES" => engine["DM_REG"],
            "AST007_RULES" => engine["AST_REG"],
            "SMOK002_RULES" => engine["SMOK_REG"],
            _ => engine["REGISTERED"],
        };
        assert_eq!(total, from, "{indicator}: {decided}");
        println!("{indicator}: {decided}");
    }
    // Patient by patient: every population holds the same patients.
    let members = engine_members(
        &host,
        &folder,
        &[
            ("registered.yaml", "REGISTERED"),
            ("dm_reg.yaml", "DM_REG"),
            ("hyp_reg.yaml", "HYP_REG"),
            ("ast_reg.yaml", "AST_REG"),
            ("chd001.yaml", "CHD_REG"),
            ("af001.yaml", "AF_REG"),
            ("dm020.yaml", "DM020_DEN"),
            ("dm020.yaml", "DM020_NUM"),
            ("dm021.yaml", "DM021_DEN"),
            ("dm021.yaml", "DM021_NUM"),
            ("hyp008.yaml", "HYP008_DEN"),
            ("hyp008.yaml", "HYP008_NUM"),
            ("hyp009.yaml", "HYP009_DEN"),
            ("hyp009.yaml", "HYP009_NUM"),
            ("ast007.yaml", "AST007_DEN"),
            ("ast007.yaml", "AST007_NUM"),
            ("smok002.yaml", "SMOK_REG"),
            ("smok002.yaml", "SMOK002_DEN"),
            ("smok002.yaml", "SMOK002_NUM"),
            ("flu.yaml", "AGED_65_PLUS"),
            ("flu.yaml", "VACCINATED_65_PLUS"),
            ("flu.yaml", "AT_RISK_UNDER_65"),
            ("flu.yaml", "VACCINATED_AT_RISK"),
        ],
    )
    .await;
    for (population, ids) in &members {
        let theirs: Vec<&str> = independent["PATIENTS"][population]
            .as_array()
            .unwrap_or_else(|| panic!("DuckDB lists no {population}"))
            .iter()
            .map(|v| v.as_str().expect("an id"))
            .collect();
        let ours: Vec<&str> = ids.iter().map(String::as_str).collect();
        if ours != theirs {
            let only_engine: Vec<&&str> = ours
                .iter()
                .filter(|i| !theirs.contains(i))
                .take(5)
                .collect();
            let only_duckdb: Vec<&&str> = theirs
                .iter()
                .filter(|i| !ours.contains(i))
                .take(5)
                .collect();
            panic!(
                "{population}: {} patients by the engine, {} by DuckDB; only the engine's: {only_engine:?}; only DuckDB's: {only_duckdb:?}",
                ours.len(),
                theirs.len()
            );
        }
        assert_eq!(ours.len() as u64, engine[population], "{population}");
    }

    // Near the national prevalences the generator aims at, so the
    // comparison is over registers worth the name.
    assert!(engine["DM_REG"] > 300 && engine["HYP_REG"] > 1000 && engine["AST_REG"] > 200);
    assert!(engine["CHD_REG"] > 150 && engine["AF_REG"] > 80);
}
