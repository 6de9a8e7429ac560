//! `run_queries`, the one way to run queries through a plugin: several
//! queries share each pass's extraction and answer exactly as each run
//! alone and as the engine over every record; a query bounded by another
//! variable takes its second pass; a file that changes between passes
//! fails the run.

use crate::common::*;
use gpes_host::{ExtractionError, Limits, run_queries};
use gpes_model::{Record, Request, Table};
use gpes_query::BoundQuery;
use std::collections::BTreeMap;

/// A query of two passes over the hand-made practice: the latest HbA1c
/// after the earliest diabetes diagnosis.
const TWO_PASSES: &str = r#"id: after-diagnosis
title: HbA1c after diagnosis
source: "host tests"
parameters: { PPED: { type: date, default: 2025-03-31 } }
clusters:
  DM: { system: snomed, codes: ["44054006"] }
  HBA1C: { system: snomed, codes: ["999791000000106"] }
variables:
  REG: { registered: { on: PPED } }
  DIAG: { earliest: { cluster: DM, on_or_before: PPED } }
  LAST: { latest_value: { cluster: HBA1C, after: DIAG } }
populations:
  DM_REG: { from: REG, rules: [ { when: DIAG is not null, then: select, else: reject } ] }
  CONTROLLED: { from: DM_REG, rules: [ { when: LAST <= 58, then: select, else: reject } ] }
output: { aggregate: { populations: [DM_REG, CONTROLLED] } }
"#;

fn bind(text: &str) -> BoundQuery {
    gpes_query::parse("q.yaml", text)
        .expect("valid")
        .bind(PRACTICE, &BTreeMap::new())
        .expect("binds")
}

#[tokio::test]
async fn queries_sharing_passes_answer_as_each_alone_and_as_the_engine() {
    let dir = practice();
    let plugin = plugin(gpes_plugin_artifacts::CSV_EXPORT);
    let two = bind(TWO_PASSES);
    assert_eq!(two.passes(), 2);
    let queries = [query(), two];
    let mut passes = Vec::new();
    let together = run_queries(
        &plugin,
        dir.path(),
        PRACTICE,
        &queries,
        &Limits::default(),
        |pass, of| passes.push((pass, of)),
    )
    .await
    .expect("the run succeeds");
    assert_eq!(passes, [(1, 2), (2, 2)]);
    assert_eq!(together.passes, 2);
    assert_eq!(together.answers.len(), 2);

    // Each alone.
    for (q, answer) in queries.iter().zip(&together.answers) {
        let alone = run_queries(
            &plugin,
            dir.path(),
            PRACTICE,
            std::slice::from_ref(q),
            &Limits::default(),
            |_, _| {},
        )
        .await
        .expect("alone");
        assert_eq!(&alone.answers[0], answer);
    }
    // The engine over every record, read in full.
    let mut all: Vec<Record> = Vec::new();
    plugin
        .extract(
            dir.path(),
            &Request {
                practice: PRACTICE.into(),
                tables: Table::ALL.to_vec(),
                code_sets: vec![],
            },
            &Limits::default(),
            |r| all.push(r),
        )
        .await
        .expect("full extraction");
    for (q, answer) in queries.iter().zip(&together.answers) {
        assert_eq!(&q.evaluate(&all), answer);
    }
    assert_eq!(together.answers[0].count("REGISTERED"), Some(8));
    assert!(together.answers[1].count("DM_REG").is_some_and(|n| n > 0));
    // Files from both passes, each once, sorted.
    let names: Vec<&str> = together.inputs.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        ["Observation.csv", "Patient.csv", "Registration.csv"]
    );
    // The one registration at another practice warns once, not once a pass.
    let host: Vec<_> = together
        .warnings
        .iter()
        .filter(|w| w.file == "(host checks)")
        .collect();
    assert_eq!(host.len(), 1, "{host:?}");
    assert_eq!(host[0].count, 1, "{host:?}");
}

#[tokio::test]
async fn a_file_that_changes_between_passes_fails_the_run() {
    let dir = practice();
    let observations = path(&dir, "Observation.csv");
    let result = run_queries(
        &plugin(gpes_plugin_artifacts::CSV_EXPORT),
        dir.path(),
        PRACTICE,
        &[bind(TWO_PASSES)],
        &Limits::default(),
        |pass, _| {
            if pass == 2 {
                // The export is rewritten while the run is under way.
                let mut text = std::fs::read_to_string(&observations).expect("read");
                text.push_str("p01,01/01/2024,SNOMED,999791000000106,40,mmol/mol\n");
                std::fs::write(&observations, text).expect("write");
            }
        },
    )
    .await;
    match result {
        Err(ExtractionError::ChangedBetweenPasses { name }) => {
            assert_eq!(name, "Observation.csv")
        }
        other => panic!("expected a change between passes, got {other:?}"),
    }
}
