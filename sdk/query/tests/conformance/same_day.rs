//! Values recorded on the same day across clusters (SPEC.md 4, "Same
//! day"): the latest or earliest date on which every listed cluster has a
//! matching event, and the lowest, highest or mean value of a cluster on a
//! date another variable gives (`on:`).

use super::*;

fn records() -> Vec<Record> {
    vec![
        // a: one day with both; later a systolic alone, then a diastolic
        // alone on another day
        p("a"),
        ev("a", "2024-01-10", SYS, Some(150.0)),
        ev("a", "2024-01-10", DIA, Some(90.0)),
        ev("a", "2024-01-10", PULSE, Some(70.0)),
        ev("a", "2024-06-01", SYS, Some(140.0)),
        ev("a", "2024-07-01", DIA, Some(85.0)),
        // b: two days with both, each with two readings of each (from the
        // two codes of each cluster)
        p("b"),
        ev("b", "2023-05-05", SYS, Some(160.0)),
        ev("b", "2023-05-05", SYS2, Some(150.0)),
        ev("b", "2023-05-05", DIA, Some(95.0)),
        ev("b", "2023-05-05", DIA2, Some(100.0)),
        ev("b", "2024-02-02", SYS, Some(130.0)),
        ev("b", "2024-02-02", SYS2, Some(136.0)),
        ev("b", "2024-02-02", DIA2, Some(84.0)),
        ev("b", "2024-02-02", DIA, Some(80.0)),
        // c: both codes on one day, but the diastolic has no value
        p("c"),
        ev("c", "2024-03-03", SYS, Some(145.0)),
        ev("c", "2024-03-03", DIA, None),
        // d: nothing
        p("d"),
        // e: both after the reference date, and both before it
        p("e"),
        ev("e", "2025-04-01", SYS, Some(120.0)),
        ev("e", "2025-04-01", DIA, Some(70.0)),
        ev("e", "2024-12-01", DIA, Some(75.0)),
        ev("e", "2024-12-01", SYS, Some(125.0)),
    ]
}

#[test]
fn latest_and_earliest_same_day() {
    let r = records();
    check_variable(
        "latest same day",
        "{ latest_same_day: { clusters: [SYS, DIA] } }",
        &r,
        &[
            ("a", "2024-01-10"),
            ("b", "2024-02-02"),
            ("c", "2024-03-03"),
            ("d", "null"),
            ("e", "2025-04-01"),
        ],
    );
    check_variable(
        "earliest same day",
        "{ earliest_same_day: { clusters: [SYS, DIA] } }",
        &r,
        &[
            ("a", "2024-01-10"),
            ("b", "2023-05-05"),
            ("c", "2024-03-03"),
            ("d", "null"),
            ("e", "2024-12-01"),
        ],
    );
    check_variable(
        "the order of the clusters does not matter",
        "{ latest_same_day: { clusters: [DIA, SYS] } }",
        &r,
        &[
            ("a", "2024-01-10"),
            ("b", "2024-02-02"),
            ("c", "2024-03-03"),
            ("d", "null"),
            ("e", "2025-04-01"),
        ],
    );
}

#[test]
fn same_day_with_values_and_windows() {
    let r = records();
    check_variable(
        "only readings with a value count: c's diastolic has none",
        "{ latest_same_day: { clusters: [SYS, DIA], value: present } }",
        &r,
        &[
            ("a", "2024-01-10"),
            ("b", "2024-02-02"),
            ("c", "null"),
            ("d", "null"),
            ("e", "2025-04-01"),
        ],
    );
    check_variable(
        "window: on or before PPED",
        "{ latest_same_day: { clusters: [SYS, DIA], on_or_before: PPED } }",
        &r,
        &[
            ("a", "2024-01-10"),
            ("b", "2024-02-02"),
            ("c", "2024-03-03"),
            ("d", "null"),
            ("e", "2024-12-01"),
        ],
    );
    check_variable(
        "a value range applies to every cluster: systolic and diastolic both at least 84",
        "{ latest_same_day: { clusters: [SYS, DIA], value: { at_least: 84 } } }",
        &r,
        &[
            // 2024-01-10: 150 and 90
            ("a", "2024-01-10"),
            // 2024-02-02: systolics 130, 136 and diastolic 84 (80 does not count)
            ("b", "2024-02-02"),
            ("c", "null"),
            ("d", "null"),
            // no diastolic reaches 84
            ("e", "null"),
        ],
    );
    check_variable(
        "three clusters",
        "{ latest_same_day: { clusters: [SYS, DIA, PULSE] } }",
        &r,
        &[
            ("a", "2024-01-10"),
            ("b", "null"),
            ("c", "null"),
            ("d", "null"),
            ("e", "null"),
        ],
    );
}

#[test]
fn a_code_in_two_clusters_fills_both() {
    // 44054006 is in DM and in T2: one event is both on its day.
    let r = vec![
        p("a"),
        ev("a", "2018-07-07", T2, None),
        p("b"),
        ev("b", "2018-07-07", T2_ONLY, None),
        ev("b", "2018-07-08", DM, None),
    ];
    check_variable(
        "shared code",
        "{ latest_same_day: { clusters: [DM, T2] } }",
        &r,
        &[("a", "2018-07-07"), ("b", "null")],
    );
}

const BP: &str = r#"id: bp
title: blood pressure on one day
source: "conformance suite"
parameters:
  PPED: { type: date, default: 2025-03-31 }
clusters:
  SYS: { system: snomed, codes: ["72313002", "163030003"] }
  DIA: { system: snomed, codes: ["1091811000000102", "163031004"] }
variables:
  BP_DAT: { latest_same_day: { clusters: [SYS, DIA], value: present, on_or_before: PPED } }
  SYS_LOW: { minimum_value: { cluster: SYS, on: BP_DAT } }
  SYS_HIGH: { maximum_value: { cluster: SYS, on: BP_DAT } }
  SYS_MEAN: { mean_value: { cluster: SYS, on: BP_DAT } }
  DIA_LOW: { minimum_value: { cluster: DIA, on: BP_DAT } }
  DIA_HIGH: { maximum_value: { cluster: DIA, on: BP_DAT } }
  DIA_MEAN: { mean_value: { cluster: DIA, on: BP_DAT } }
  FIRST_DAT: { earliest_same_day: { clusters: [SYS, DIA], value: present } }
  FIRST_SYS_LOW: { minimum_value: { cluster: SYS, on: FIRST_DAT } }
populations:
  ALL: { from: all_patients }
output:
  record_level:
    population: ALL
    columns:
      - { name: id, value: patient_id, class: pseudonym }
      - { name: date, value: BP_DAT, class: non_identifying }
      - { name: sys_low, value: SYS_LOW, class: non_identifying }
      - { name: sys_high, value: SYS_HIGH, class: non_identifying }
      - { name: sys_mean, value: SYS_MEAN, class: non_identifying }
      - { name: dia_low, value: DIA_LOW, class: non_identifying }
      - { name: dia_high, value: DIA_HIGH, class: non_identifying }
      - { name: dia_mean, value: DIA_MEAN, class: non_identifying }
      - { name: first, value: FIRST_DAT, class: non_identifying }
      - { name: first_sys_low, value: FIRST_SYS_LOW, class: non_identifying }
"#;

#[test]
fn the_values_of_each_that_day() {
    let answer = run(BP, &[], &records());
    // One pass for the dates, one for the values on them.
    assert_eq!(answer.passes, 2);
    let n = "null";
    assert_eq!(
        table(&answer),
        vec![
            // a: the systolic of 2024-06-01 and diastolic of 2024-07-01 are
            // on other days and do not count
            vec![
                "a",
                "2024-01-10",
                "150",
                "150",
                "150",
                "90",
                "90",
                "90",
                "2024-01-10",
                "150"
            ],
            vec![
                "b",
                "2024-02-02",
                "130",
                "136",
                "133",
                "80",
                "84",
                "82",
                "2023-05-05",
                "150"
            ],
            // c: the diastolic has no value: no day has both
            vec!["c", n, n, n, n, n, n, n, n, n],
            vec!["d", n, n, n, n, n, n, n, n, n],
            // e: 2025-04-01 is after PPED; FIRST_DAT has no window
            vec![
                "e",
                "2024-12-01",
                "125",
                "125",
                "125",
                "75",
                "75",
                "75",
                "2024-12-01",
                "125"
            ],
        ]
    );
}
