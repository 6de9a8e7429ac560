//! Events chosen by their value (SPEC.md 4, "Values"): the latest or
//! earliest record that has a value, or a value in a range; the lowest,
//! highest and mean value; counts of distinct dates; windows relative to
//! another variable's date.

use super::*;

fn records() -> Vec<Record> {
    vec![
        // a: the latest reading has no value
        p("a"),
        ev("a", "2024-01-01", HBA1C, Some(60.0)),
        ev("a", "2024-06-01", HBA1C, Some(50.0)),
        ev("a", "2024-09-01", HBA1C, None),
        ev("a", "2024-09-01", OTHER, Some(10.0)),
        // b: a value on the bound (58); two on one day (48 and 74)
        p("b"),
        ev("b", "2024-02-02", HBA1C, Some(58.0)),
        ev("b", "2024-03-03", HBA1C, Some(48.0)),
        ev("b", "2024-03-03", HBA1C, Some(74.0)),
        // c: nothing
        p("c"),
        // d: a negative value and a reading without one on the same day
        p("d"),
        ev("d", "2024-05-05", HBA1C, Some(-5.0)),
        ev("d", "2024-05-05", HBA1C, None),
    ]
}

#[test]
fn latest_and_earliest_with_a_value() {
    let r = records();
    check_variable(
        "latest, any reading",
        "{ latest: { cluster: HBA1C } }",
        &r,
        &[
            ("a", "2024-09-01"),
            ("b", "2024-03-03"),
            ("c", "null"),
            ("d", "2024-05-05"),
        ],
    );
    check_variable(
        "latest with a value",
        "{ latest: { cluster: HBA1C, value: present } }",
        &r,
        &[
            ("a", "2024-06-01"),
            ("b", "2024-03-03"),
            ("c", "null"),
            ("d", "2024-05-05"),
        ],
    );
    check_variable(
        "earliest with a value",
        "{ earliest: { cluster: HBA1C, value: present } }",
        &r,
        &[
            ("a", "2024-01-01"),
            ("b", "2024-02-02"),
            ("c", "null"),
            ("d", "2024-05-05"),
        ],
    );
}

#[test]
fn values_in_a_range() {
    let r = records();
    check_variable(
        "latest with a value of at most 58 (inclusive)",
        "{ latest: { cluster: HBA1C, value: { at_most: 58 } } }",
        &r,
        &[
            ("a", "2024-06-01"),
            ("b", "2024-03-03"),
            ("c", "null"),
            ("d", "2024-05-05"),
        ],
    );
    check_variable(
        "a parameter as the bound",
        "{ earliest: { cluster: HBA1C, value: { at_most: LIMIT } } }",
        &r,
        &[
            ("a", "2024-06-01"),
            ("b", "2024-02-02"),
            ("c", "null"),
            ("d", "2024-05-05"),
        ],
    );
    check_variable(
        "latest with a value above 58 (exclusive)",
        "{ latest: { cluster: HBA1C, value: { more_than: 58 } } }",
        &r,
        &[
            ("a", "2024-01-01"),
            ("b", "2024-03-03"),
            ("c", "null"),
            ("d", "null"),
        ],
    );
    check_variable(
        "at least 0: a negative value is out",
        "{ exists: { cluster: HBA1C, value: { at_least: 0 } } }",
        &r,
        &[("a", "true"), ("b", "true"), ("c", "false"), ("d", "false")],
    );
    check_variable(
        "count between 48 and 58, both inclusive",
        "{ count: { cluster: HBA1C, value: { at_least: 48, at_most: 58 } } }",
        &r,
        &[("a", "1"), ("b", "2"), ("c", "0"), ("d", "0")],
    );
    check_variable(
        "count above 48 and below 74, both exclusive",
        "{ count: { cluster: HBA1C, value: { more_than: 48, less_than: 74 } } }",
        &r,
        &[("a", "2"), ("b", "1"), ("c", "0"), ("d", "0")],
    );
    check_variable(
        "latest value in range: 74 on the same day is out, so 48",
        "{ latest_value: { cluster: HBA1C, value: { at_most: 58 }, ties: highest } }",
        &r,
        &[("a", "50"), ("b", "48"), ("c", "null"), ("d", "-5")],
    );
    check_variable(
        "negative bounds",
        "{ latest_value: { cluster: HBA1C, value: { at_least: -10, less_than: 0 } } }",
        &r,
        &[("a", "null"), ("b", "null"), ("c", "null"), ("d", "-5")],
    );
}

#[test]
fn lowest_highest_and_mean() {
    let r = records();
    check_variable(
        "lowest",
        "{ minimum_value: { cluster: HBA1C } }",
        &r,
        &[("a", "50"), ("b", "48"), ("c", "null"), ("d", "-5")],
    );
    check_variable(
        "highest",
        "{ maximum_value: { cluster: HBA1C } }",
        &r,
        &[("a", "60"), ("b", "74"), ("c", "null"), ("d", "-5")],
    );
    check_variable(
        "mean: readings without a value are left out",
        "{ mean_value: { cluster: HBA1C } }",
        &r,
        &[("a", "55"), ("b", "60"), ("c", "null"), ("d", "-5")],
    );
    check_variable(
        "mean in a window",
        "{ mean_value: { cluster: HBA1C, on_or_after: 2024-03-01 } }",
        &r,
        &[("a", "50"), ("b", "61"), ("c", "null"), ("d", "-5")],
    );
    check_variable(
        "highest on one day",
        "{ maximum_value: { cluster: HBA1C, on: 2024-03-03 } }",
        &r,
        &[("a", "null"), ("b", "74"), ("c", "null"), ("d", "null")],
    );
}

#[test]
fn distinct_dates() {
    let r = records();
    check_variable(
        "distinct dates: two readings on one day count once",
        "{ count_dates: { cluster: HBA1C } }",
        &r,
        &[("a", "3"), ("b", "2"), ("c", "0"), ("d", "1")],
    );
    check_variable(
        "distinct dates with a value",
        "{ count_dates: { cluster: HBA1C, value: present } }",
        &r,
        &[("a", "2"), ("b", "2"), ("c", "0"), ("d", "1")],
    );
    check_variable(
        "distinct dates in a window",
        "{ count_dates: { cluster: HBA1C, on_or_after: 2024-03-01 } }",
        &r,
        &[("a", "2"), ("b", "1"), ("c", "0"), ("d", "1")],
    );
    check_variable(
        "count, unlike count_dates, counts each record",
        "{ count: { cluster: HBA1C } }",
        &r,
        &[("a", "3"), ("b", "3"), ("c", "0"), ("d", "2")],
    );
}

const RELATIVE: &str = r#"id: relative
title: dates relative to another variable
source: "conformance suite"
clusters:
  DM:  { system: snomed, codes: ["73211009"] }
  RES: { system: snomed, codes: ["315051004"] }
variables:
  DIAG: { earliest: { cluster: DM } }
  LATE: { exists: { cluster: RES, on_or_after: DIAG + 7 days } }
  EARLY: { count: { cluster: RES, before: DIAG - 1 month } }
  SOON: { earliest: { cluster: RES, between: [DIAG + 1 day, DIAG + 6 days] } }
populations:
  ALL: { from: all_patients }
output:
  record_level:
    population: ALL
    columns:
      - { name: id, value: patient_id, class: pseudonym }
      - { name: late, value: LATE, class: non_identifying }
      - { name: early, value: EARLY, class: non_identifying }
      - { name: soon, value: SOON, class: non_identifying }
"#;

#[test]
fn dates_relative_to_another_variable() {
    let r = vec![
        // a: a resolution 6 days after (not at least 7), one 1 month and
        // 1 day before (before DIAG - 1 month) and one exactly 1 month
        // before (not before it)
        p("a"),
        ev("a", "2024-03-31", DM, None),
        ev("a", "2024-04-06", RES, None),
        ev("a", "2024-02-28", RES, None),
        ev("a", "2024-02-29", RES, None),
        // b: 7 days after exactly
        p("b"),
        ev("b", "2024-01-01", DM, None),
        ev("b", "2024-01-08", RES, None),
        // c: no diagnosis: every window is empty
        p("c"),
        ev("c", "2024-01-08", RES, None),
        // d: the earliest of two diagnoses is the one that counts
        p("d"),
        ev("d", "2024-06-01", DM, None),
        ev("d", "2024-05-01", DM, None),
        ev("d", "2024-05-09", RES, None),
    ];
    let answer = run(RELATIVE, &[], &r);
    assert_eq!(answer.passes, 2);
    assert_eq!(
        table(&answer),
        vec![
            // 2024-03-31 - 1 month = 2024-02-29 (clamped): only 02-28 is before it
            vec!["a", "false", "1", "2024-04-06"],
            vec!["b", "true", "0", "null"],
            vec!["c", "false", "0", "null"],
            vec!["d", "true", "0", "null"],
        ]
    );
}
