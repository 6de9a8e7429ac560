//! Variables bounded by other variables take more passes over the data
//! (DESIGN.md, "The engine"): each later pass streams a narrower request.

use super::*;
use gpes_model::Table;

const QUERY: &str = r#"id: passes
title: passes
source: "conformance suite"
clusters:
  DM:    { system: snomed, codes: ["73211009"] }
  RES:   { system: snomed, codes: ["315051004"] }
  HBA1C: { system: snomed, codes: ["999791000000106"] }
variables:
  DIAG: { earliest: { cluster: DM } }
  V: { latest_value: { cluster: HBA1C, after: DIAG } }
  W: { count: { cluster: HBA1C, between: [DIAG, DIAG + 1 year] } }
  W_DATE: { latest: { cluster: HBA1C, after: DIAG } }
  X: { exists: { cluster: RES, on_or_after: W_DATE } }
populations:
  ALL: { from: all_patients }
output:
  record_level:
    population: ALL
    columns:
      - { name: id, value: patient_id, class: pseudonym }
      - { name: v, value: V, class: non_identifying }
      - { name: w, value: W, class: non_identifying }
      - { name: x, value: X, class: non_identifying }
"#;

fn records() -> Vec<Record> {
    vec![
        p("a"),
        ev("a", "2020-01-01", DM, None),
        ev("a", "2019-06-01", HBA1C, Some(70.0)),
        ev("a", "2020-06-01", HBA1C, Some(60.0)),
        ev("a", "2022-01-01", HBA1C, Some(50.0)),
        ev("a", "2022-06-01", RES, None),
        // b: never diagnosed: every bound is null, nothing matches
        p("b"),
        ev("b", "2021-01-01", HBA1C, Some(40.0)),
        ev("b", "2021-02-01", RES, None),
        // c: a reading on the day of diagnosis: not after it, but between
        p("c"),
        ev("c", "2020-01-01", DM, None),
        ev("c", "2020-01-01", HBA1C, Some(45.0)),
        // d: the earliest of two diagnoses; resolved before the reading
        p("d"),
        ev("d", "2021-05-05", DM, None),
        ev("d", "2018-01-01", DM, None),
        ev("d", "2019-01-01", HBA1C, Some(55.0)),
        ev("d", "2017-01-01", RES, None),
    ]
}

#[test]
fn dependent_variables() {
    let answer = run(QUERY, &[], &records());
    assert_eq!(answer.passes, 3);
    assert_eq!(
        table(&answer),
        vec![
            vec!["a", "50", "1", "true"],
            vec!["b", "null", "0", "false"],
            vec!["c", "null", "1", "false"],
            vec!["d", "55", "1", "false"],
        ]
    );
}

#[test]
fn each_pass_asks_for_less() {
    let spec = gpes_query::parse("passes.yaml", QUERY).expect("valid");
    let bound = spec.bind(PRACTICE, &BTreeMap::new()).expect("binds");
    assert_eq!(bound.passes(), 3);
    // Pass 1: whole patients table and DIAG's codes only.
    let first = bound.needs();
    assert_eq!(first.tables, vec![Table::Patients]);
    assert_eq!(first.code_sets.len(), 1);
    assert_eq!(first.code_sets[0].codes, vec![DM]);
    let r = records();
    let mut e = bound.evaluation();
    for x in &r {
        gpes_query::Evaluation::push(&mut e, x);
    }
    // Pass 2: V, W and W_DATE read HbA1c; the widest window over the
    // patients: from DIAG (2018-01-01 for d, W's inclusive bound), open
    // above (V and W_DATE have no upper bound).
    let second = e.end_pass().expect("another pass");
    assert!(second.tables.is_empty());
    assert_eq!(second.code_sets.len(), 1);
    assert_eq!(second.code_sets[0].codes, vec![HBA1C]);
    assert_eq!(second.code_sets[0].earliest, Some(d("2018-01-01")));
    assert_eq!(second.code_sets[0].latest, None);
    for x in r
        .iter()
        .filter(|x| matches!(x, Record::Event(e) if e.code == HBA1C))
    {
        gpes_query::Evaluation::push(&mut e, x);
    }
    // Pass 3: X reads RES from W_DATE: 2022-01-01 (a), 2019-01-01 (d).
    let third = e.end_pass().expect("another pass");
    assert_eq!(third.code_sets[0].codes, vec![RES]);
    assert_eq!(third.code_sets[0].earliest, Some(d("2019-01-01")));
    for x in r
        .iter()
        .filter(|x| matches!(x, Record::Event(e) if e.code == RES))
    {
        gpes_query::Evaluation::push(&mut e, x);
    }
    assert!(e.end_pass().is_none());
    let answer = gpes_query::Evaluation::finish(e);
    assert_eq!(answer, run(QUERY, &[], &r));
}
