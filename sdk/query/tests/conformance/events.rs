//! Variables over events and medications: earliest, latest, values, count,
//! exists.

use super::*;

fn records() -> Vec<Record> {
    vec![
        // a: two DM events and a T2-only event
        p("a"),
        ev("a", "2010-05-01", DM, None),
        ev("a", "2020-01-10", DM, None),
        ev("a", "2015-03-03", T2_ONLY, None),
        // b: a code that is in both DM and T2
        p("b"),
        ev("b", "2018-07-07", T2, None),
        // c: no events at all
        p("c"),
        // d: events of other codes only
        p("d"),
        ev("d", "2019-01-01", OTHER, Some(1.0)),
        ev("d", "2019-01-01", RES, None),
        // e: two events on one date
        p("e"),
        ev("e", "2021-02-02", DM, None),
        ev("e", "2021-02-02", DM, None),
        // f: an event after the reference date only
        p("f"),
        ev("f", "2025-04-01", DM, None),
    ]
}

#[test]
fn latest_and_earliest_dates() {
    let r = records();
    check_variable(
        "latest",
        "{ latest: { cluster: DM } }",
        &r,
        &[
            ("a", "2020-01-10"),
            ("b", "2018-07-07"),
            ("c", "null"),
            ("d", "null"),
            ("e", "2021-02-02"),
            ("f", "2025-04-01"),
        ],
    );
    check_variable(
        "latest on or before PPED",
        "{ latest: { cluster: DM, on_or_before: PPED } }",
        &r,
        &[
            ("a", "2020-01-10"),
            ("b", "2018-07-07"),
            ("c", "null"),
            ("d", "null"),
            ("e", "2021-02-02"),
            ("f", "null"),
        ],
    );
    check_variable(
        "earliest",
        "{ earliest: { cluster: DM } }",
        &r,
        &[
            ("a", "2010-05-01"),
            ("b", "2018-07-07"),
            ("c", "null"),
            ("d", "null"),
            ("e", "2021-02-02"),
            ("f", "2025-04-01"),
        ],
    );
    check_variable(
        "a code in two clusters counts in both",
        "{ earliest: { cluster: T2 } }",
        &r,
        &[
            ("a", "2015-03-03"),
            ("b", "2018-07-07"),
            ("c", "null"),
            ("d", "null"),
            ("e", "null"),
            ("f", "null"),
        ],
    );
}

#[test]
fn count_and_exists() {
    let r = records();
    check_variable(
        "count",
        "{ count: { cluster: DM } }",
        &r,
        &[
            ("a", "2"),
            ("b", "1"),
            ("c", "0"),
            ("d", "0"),
            ("e", "2"),
            ("f", "1"),
        ],
    );
    check_variable(
        "count in a window",
        "{ count: { cluster: DM, between: [2015-01-01, PPED] } }",
        &r,
        &[
            ("a", "1"),
            ("b", "1"),
            ("c", "0"),
            ("d", "0"),
            ("e", "2"),
            ("f", "0"),
        ],
    );
    check_variable(
        "exists",
        "{ exists: { cluster: DM, before: PPED } }",
        &r,
        &[
            ("a", "true"),
            ("b", "true"),
            ("c", "false"),
            ("d", "false"),
            ("e", "true"),
            ("f", "false"),
        ],
    );
}

#[test]
fn empty_cluster_matches_nothing() {
    let r = records();
    check_variable(
        "latest of empty",
        "{ latest: { cluster: EMPTY } }",
        &r,
        &[
            ("a", "null"),
            ("b", "null"),
            ("c", "null"),
            ("d", "null"),
            ("e", "null"),
            ("f", "null"),
        ],
    );
    check_variable(
        "count of empty",
        "{ count: { cluster: EMPTY } }",
        &r,
        &[
            ("a", "0"),
            ("b", "0"),
            ("c", "0"),
            ("d", "0"),
            ("e", "0"),
            ("f", "0"),
        ],
    );
}

#[test]
fn values() {
    let r = vec![
        // g: readings on three dates
        p("g"),
        ev("g", "2024-06-01", HBA1C, Some(60.0)),
        ev("g", "2024-09-01", HBA1C, Some(52.0)),
        ev("g", "2023-01-01", HBA1C, Some(70.0)),
        // h: two readings on the latest date: ties
        p("h"),
        ev("h", "2024-10-10", HBA1C, Some(49.0)),
        ev("h", "2024-10-10", HBA1C, Some(47.0)),
        ev("h", "2024-01-01", HBA1C, Some(80.0)),
        // i: the latest event has no value; the latest with one counts
        p("i"),
        ev("i", "2024-05-05", HBA1C, Some(55.0)),
        ev("i", "2024-12-12", HBA1C, None),
        // j: events without values only
        p("j"),
        ev("j", "2024-05-05", HBA1C, None),
        // k: nothing
        p("k"),
    ];
    check_variable(
        "latest value",
        "{ latest_value: { cluster: HBA1C } }",
        &r,
        &[
            ("g", "52"),
            ("h", "47"),
            ("i", "55"),
            ("j", "null"),
            ("k", "null"),
        ],
    );
    check_variable(
        "latest value, highest on ties",
        "{ latest_value: { cluster: HBA1C, ties: highest } }",
        &r,
        &[
            ("g", "52"),
            ("h", "49"),
            ("i", "55"),
            ("j", "null"),
            ("k", "null"),
        ],
    );
    check_variable(
        "earliest value",
        "{ earliest_value: { cluster: HBA1C } }",
        &r,
        &[
            ("g", "70"),
            ("h", "80"),
            ("i", "55"),
            ("j", "null"),
            ("k", "null"),
        ],
    );
    check_variable(
        "latest value in the 12 months to PPED",
        "{ latest_value: { cluster: HBA1C, between: [PPED - 12 months + 1 day, PPED] } }",
        &r,
        &[
            ("g", "52"),
            ("h", "47"),
            ("i", "55"),
            ("j", "null"),
            ("k", "null"),
        ],
    );
    check_variable(
        "latest value in a window that leaves out the latest",
        "{ latest_value: { cluster: HBA1C, before: 2024-09-01 } }",
        &r,
        &[
            ("g", "60"),
            ("h", "80"),
            ("i", "55"),
            ("j", "null"),
            ("k", "null"),
        ],
    );
}

#[test]
fn medications_use_dmd_clusters() {
    let r = vec![
        p("a"),
        med("a", "2024-01-01", MED1, Some(28.0)),
        med("a", "2024-03-01", MED2, Some(56.0)),
        // An event with a dm+d code is not a medication.
        p("b"),
        ev("b", "2024-02-02", MED1, None),
        p("c"),
        // A medication with a SNOMED cluster's code is not an event.
        med("c", "2024-02-02", DM, None),
    ];
    check_variable(
        "latest issue",
        "{ latest: { cluster: MED } }",
        &r,
        &[("a", "2024-03-01"), ("b", "null"), ("c", "null")],
    );
    check_variable(
        "quantity as value",
        "{ earliest_value: { cluster: MED } }",
        &r,
        &[("a", "28"), ("b", "null"), ("c", "null")],
    );
    check_variable(
        "DM does not see medications",
        "{ exists: { cluster: DM } }",
        &r,
        &[("a", "false"), ("b", "false"), ("c", "false")],
    );
}

#[test]
fn partial_event_dates_are_the_first_day_of_their_period() {
    let r = vec![
        p("a"),
        Record::Event(gpes_model::Event {
            patient_id: "a".into(),
            date: d("2024-03"),
            code: DM,
            value: None,
            unit: None,
        }),
        p("b"),
        Record::Event(gpes_model::Event {
            patient_id: "b".into(),
            date: d("2024"),
            code: DM,
            value: None,
            unit: None,
        }),
    ];
    check_variable(
        "2024-03 is 2024-03-01",
        "{ latest: { cluster: DM } }",
        &r,
        &[("a", "2024-03-01"), ("b", "2024-01-01")],
    );
    check_variable(
        "a window from mid-March leaves out a March event",
        "{ exists: { cluster: DM, on_or_after: 2024-03-15 } }",
        &r,
        &[("a", "false"), ("b", "false")],
    );
    check_variable(
        "a window from 1 March keeps it",
        "{ exists: { cluster: DM, on_or_after: 2024-03-01 } }",
        &r,
        &[("a", "true"), ("b", "false")],
    );
}
