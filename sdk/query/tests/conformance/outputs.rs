//! Aggregate output with breakdowns, record-level output, policy
//! exclusions.

use super::*;
use gpes_query::{Cell, ColumnHead, DataClass};

fn records() -> Vec<Record> {
    vec![
        patient("a", Some("2010-01-01"), Sex::Female, None), // 15 on PPED
        ev("a", "2020-01-01", DM, None),
        patient("b", Some("1990-01-01"), Sex::Male, None), // 35
        ev("b", "2020-01-01", DM, None),
        patient("c", Some("1940-01-01"), Sex::Female, None), // 85
        ev("c", "2020-01-01", DM, None),
        ev("c", "2021-01-01", OTHER, None),
        patient("d", None, Sex::Unknown, None), // no age
        ev("d", "2020-01-01", DM, None),
        patient("e", Some("1980-01-01"), Sex::Male, None), // not in DM
    ]
}

const QUERY: &str = r#"id: agg
title: aggregate
source: "conformance suite"
parameters: { PPED: { type: date, default: 2025-03-31 } }
clusters: { DM: { system: snomed, codes: ["73211009"] } }
variables:
  HAS_DM: { exists: { cluster: DM } }
populations:
  DM_REG: { from: HAS_DM }
  EVERYONE: { from: all_patients }
output:
  aggregate:
    populations: [EVERYONE, DM_REG]
    breakdown: [sex, { age_bands: [0, 17, 65], on: PPED }]
"#;

fn cell(sex: &str, band: &str, count: u64) -> Cell {
    Cell {
        sex: Some(sex.into()),
        age_band: Some(band.into()),
        count: Some(count),
        suppressed: false,
    }
}

#[test]
fn aggregate_with_breakdown() {
    let answer = run(QUERY, &[], &records());
    assert_eq!(answer.count("EVERYONE"), Some(5));
    assert_eq!(answer.count("DM_REG"), Some(4));
    let ResultOutput::Aggregate(a) = &answer.output else {
        panic!("aggregate expected");
    };
    assert_eq!(a.populations[0].population, "EVERYONE");
    assert_eq!(
        a.populations[1].cells,
        vec![
            cell("female", "0-16", 1),
            cell("female", "65+", 1),
            cell("male", "17-64", 1),
            cell("unknown", "unknown", 1),
        ]
    );
}

#[test]
fn policy_exclusion_removes_before_any_rule() {
    let spec = gpes_query::parse("agg.yaml", QUERY).expect("valid");
    let bound = spec
        .bind(PRACTICE, &BTreeMap::new())
        .expect("binds")
        .with_exclusion([OTHER]);
    let answer = bound.evaluate(&records());
    assert_eq!(answer.excluded_by_policy, 1);
    assert_eq!(answer.count("EVERYONE"), Some(4));
    assert_eq!(answer.count("DM_REG"), Some(3));
    let needs = bound.needs();
    assert!(
        needs
            .code_sets
            .iter()
            .any(|c| c.policy && c.codes == vec![OTHER] && c.earliest.is_none())
    );
}

#[test]
fn record_level_columns() {
    let q = r#"id: rl
title: record level
source: "conformance suite"
parameters: { PPED: { type: date, default: 2025-03-31 } }
clusters: { DM: { system: snomed, codes: ["73211009"] } }
variables:
  HAS_DM: { exists: { cluster: DM } }
  DMLAT: { latest: { cluster: DM } }
  AGE: { age: { on: PPED } }
populations:
  DM_REG: { from: HAS_DM }
output:
  record_level:
    population: DM_REG
    columns:
      - { name: nhs, value: nhs_number, class: identifier }
      - { name: id, value: patient_id, class: pseudonym }
      - { name: diagnosed, value: DMLAT, class: non_identifying }
      - { name: age, value: AGE, class: non_identifying }
"#;
    let mut r = records();
    r.push(Record::Patient(gpes_model::Patient {
        id: "f".into(),
        nhs_number: Some("9434765919".into()),
        date_of_birth: Some(d("2000-03-31")),
        sex: Sex::Female,
        postcode: None,
        date_of_death: None,
        death_date_unknown: false,
    }));
    r.push(ev("f", "2024-02-29", DM, None));
    let answer = run(q, &[], &r);
    let ResultOutput::RecordLevel(rl) = &answer.output else {
        panic!("record level expected");
    };
    assert_eq!(
        rl.columns,
        [
            ("nhs", DataClass::Identifier),
            ("id", DataClass::Pseudonym),
            ("diagnosed", DataClass::NonIdentifying),
            ("age", DataClass::NonIdentifying),
        ]
        .map(|(name, class)| ColumnHead {
            name: name.into(),
            class
        })
    );
    let shown: Vec<Vec<String>> = rl
        .rows
        .iter()
        .map(|r| r.iter().map(show).collect())
        .collect();
    assert_eq!(
        shown,
        vec![
            vec!["null", "a", "2020-01-01", "15"],
            vec!["null", "b", "2020-01-01", "35"],
            vec!["null", "c", "2020-01-01", "85"],
            vec!["null", "d", "2020-01-01", "null"],
            vec!["9434765919", "f", "2024-02-29", "25"],
        ]
    );
}

#[test]
fn record_level_example_end_to_end() {
    // tests/queries/record_level.yaml: DM_REG from REG; reject without a
    // DM code; then select when not male and (HbA1c after PPED - 1 year
    // over LIMIT (58), or a medication since 2020).
    let q = include_str!("../queries/record_level.yaml");
    let nhs = |id: &str, sex: Sex, number: Option<&str>| {
        Record::Patient(gpes_model::Patient {
            id: id.into(),
            nhs_number: number.map(str::to_owned),
            date_of_birth: Some(d("1970-01-01")),
            sex,
            postcode: None,
            date_of_death: None,
            death_date_unknown: false,
        })
    };
    let mut r = vec![
        // x: two readings on one day, ties: highest gives 60 > 58
        nhs("x", Sex::Female, Some("9434765919")),
        reg("x", PRACTICE, "2001-05-05", None, true),
        ev("x", "2010-01-01", DM, None),
        ev("x", "2024-06-01", HBA1C, Some(57.0)),
        ev("x", "2024-06-01", HBA1C, Some(60.0)),
        // y: male
        nhs("y", Sex::Male, None),
        reg("y", PRACTICE, "2001-01-01", None, true),
        ev("y", "2010-01-01", DM, None),
        ev("y", "2024-06-01", HBA1C, Some(70.0)),
        // z: no reading (null), but a medication: null or true is true
        nhs("z", Sex::Female, None),
        reg("z", PRACTICE, "2015-02-03", None, true),
        ev("z", "2010-01-01", DM, None),
        med("z", "2021-01-01", MED1, Some(1.0)),
        // w: the reading is on PPED - 1 year, not after it: null, no
        // medication: null or false is null, and null rejects
        nhs("w", Sex::Female, None),
        reg("w", PRACTICE, "2001-01-01", None, true),
        ev("w", "2010-01-01", DM, None),
        ev("w", "2024-03-31", HBA1C, Some(90.0)),
        // v: temporary resident
        nhs("v", Sex::Female, None),
        reg("v", PRACTICE, "2001-01-01", None, false),
        ev("v", "2010-01-01", DM, None),
        ev("v", "2024-06-01", HBA1C, Some(60.0)),
        // u: sex unknown is not male; 59 > 58
        nhs("u", Sex::Unknown, None),
        reg("u", PRACTICE, "2012-12-12", None, true),
        ev("u", "2010-01-01", DM, None),
        ev("u", "2024-06-01", HBA1C, Some(59.0)),
        // t: no DM code
        nhs("t", Sex::Female, None),
        reg("t", PRACTICE, "2001-01-01", None, true),
        ev("t", "2024-06-01", HBA1C, Some(80.0)),
    ];
    let answer = run(q, &[], &r);
    let ResultOutput::RecordLevel(rl) = &answer.output else {
        panic!("record level expected");
    };
    let shown: Vec<Vec<String>> = rl
        .rows
        .iter()
        .map(|r| r.iter().map(show).collect())
        .collect();
    assert_eq!(
        shown,
        vec![
            vec!["null", "59", "2012-12-12"],
            vec!["9434765919", "60", "2001-05-05"],
            vec!["null", "null", "2015-02-03"],
        ]
    );
    // With LIMIT 59, u's 59 no longer counts.
    r.retain(|x| x.patient_id() == "u");
    let answer = run(q, &[("LIMIT", "59")], &r);
    let ResultOutput::RecordLevel(rl) = &answer.output else {
        panic!("record level expected");
    };
    assert!(rl.rows.is_empty());
}

#[test]
fn age_band_edges_use_age_on_the_date() {
    let r = vec![
        // 17 on PPED (birthday that day): 17-64
        patient("a", Some("2008-03-31"), Sex::Female, None),
        ev("a", "2020-01-01", DM, None),
        // 16 on PPED (birthday the day after): 0-16
        patient("b", Some("2008-04-01"), Sex::Female, None),
        ev("b", "2020-01-01", DM, None),
        // 65 on PPED: 65+
        patient("c", Some("1960-03-31"), Sex::Female, None),
        ev("c", "2020-01-01", DM, None),
        // 64 on PPED: 17-64
        patient("d", Some("1960-04-01"), Sex::Female, None),
        ev("d", "2020-01-01", DM, None),
    ];
    let answer = run(QUERY, &[], &r);
    let ResultOutput::Aggregate(a) = &answer.output else {
        panic!("aggregate expected");
    };
    assert_eq!(
        a.populations[1].cells,
        vec![
            cell("female", "0-16", 1),
            cell("female", "17-64", 2),
            cell("female", "65+", 1),
        ]
    );
}
