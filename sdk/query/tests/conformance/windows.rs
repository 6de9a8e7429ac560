//! Window bounds and date arithmetic: inclusive and exclusive bounds, month
//! ends, leap days.

use super::*;

/// One DM event per patient on the date in its id.
fn one_event_each(dates: &[&str]) -> Vec<Record> {
    dates
        .iter()
        .flat_map(|date| [p(date), ev(date, date, DM, None)])
        .collect()
}

#[test]
fn bounds_inclusive_and_exclusive() {
    let r = one_event_each(&["2024-12-31", "2025-01-01", "2025-03-31", "2025-04-01"]);
    let cases: &[(&str, [&str; 4])] = &[
        (
            "{ on_or_after: 2025-01-01 }",
            ["false", "true", "true", "true"],
        ),
        ("{ after: 2025-01-01 }", ["false", "false", "true", "true"]),
        (
            "{ on_or_before: 2025-03-31 }",
            ["true", "true", "true", "false"],
        ),
        ("{ before: 2025-03-31 }", ["true", "true", "false", "false"]),
        (
            "{ between: [2025-01-01, 2025-03-31] }",
            ["false", "true", "true", "false"],
        ),
        (
            "{ after: 2024-12-31, before: 2025-04-01 }",
            ["false", "true", "true", "false"],
        ),
        (
            "{ between: [2025-03-31, 2025-01-01] }",
            ["false", "false", "false", "false"],
        ),
    ];
    for (window, want) in cases {
        let def = format!(
            "{{ exists: {{ cluster: DM, {} }} }}",
            &window[2..window.len() - 2]
        );
        let expected: Vec<(&str, &str)> = ["2024-12-31", "2025-01-01", "2025-03-31", "2025-04-01"]
            .into_iter()
            .zip(want.iter().copied())
            .collect();
        check_variable(window, &def, &r, &expected);
    }
}

#[test]
fn month_arithmetic_clamps_to_month_end() {
    // PPED - 1 month from 31 March is the last day of February.
    let r = one_event_each(&["2025-02-27", "2025-02-28", "2024-02-28", "2024-02-29"]);
    check_variable_with(
        "2025-03-31 - 1 month = 2025-02-28",
        "{ exists: { cluster: DM, between: [PPED - 1 month, PPED - 1 month] } }",
        &[("PPED", "2025-03-31")],
        &r,
        &[
            ("2025-02-27", "false"),
            ("2025-02-28", "true"),
            ("2024-02-28", "false"),
            ("2024-02-29", "false"),
        ],
    );
    check_variable_with(
        "2024-03-31 - 1 month = 2024-02-29",
        "{ exists: { cluster: DM, between: [PPED - 1 month, PPED - 1 month] } }",
        &[("PPED", "2024-03-31")],
        &r,
        &[
            ("2025-02-27", "false"),
            ("2025-02-28", "false"),
            ("2024-02-28", "false"),
            ("2024-02-29", "true"),
        ],
    );
    check_variable_with(
        "2025-02-28 - 1 year = 2024-02-28 (not 29)",
        "{ exists: { cluster: DM, on_or_before: PPED - 1 year } }",
        &[("PPED", "2025-02-28")],
        &r,
        &[
            ("2025-02-27", "false"),
            ("2025-02-28", "false"),
            ("2024-02-28", "true"),
            ("2024-02-29", "false"),
        ],
    );
}

#[test]
fn leap_day_arithmetic() {
    let r = one_event_each(&["2023-02-28", "2023-03-01", "2024-02-29", "2024-03-01"]);
    check_variable_with(
        "2024-02-29 + 1 year = 2025-02-28; - 1 year = 2023-02-28",
        "{ exists: { cluster: DM, between: [PPED - 1 year, PPED - 1 year] } }",
        &[("PPED", "2024-02-29")],
        &r,
        &[
            ("2023-02-28", "true"),
            ("2023-03-01", "false"),
            ("2024-02-29", "false"),
            ("2024-03-01", "false"),
        ],
    );
    check_variable_with(
        "2024-03-01 - 1 day = 2024-02-29",
        "{ exists: { cluster: DM, between: [PPED - 1 day, PPED - 1 day] } }",
        &[("PPED", "2024-03-01")],
        &r,
        &[
            ("2023-02-28", "false"),
            ("2023-03-01", "false"),
            ("2024-02-29", "true"),
            ("2024-03-01", "false"),
        ],
    );
    check_variable_with(
        "12 months back then 1 day on, over a leap day",
        "{ count: { cluster: DM, between: [PPED - 12 months + 1 day, PPED] } }",
        &[("PPED", "2024-02-29")],
        &r,
        &[
            // window is 2023-03-01 .. 2024-02-29
            ("2023-02-28", "0"),
            ("2023-03-01", "1"),
            ("2024-02-29", "1"),
            ("2024-03-01", "0"),
        ],
    );
    check_variable_with(
        "365 days back from 2024-03-01 is 2023-03-02",
        "{ exists: { cluster: DM, on_or_after: PPED - 365 days } }",
        &[("PPED", "2024-03-01")],
        &r,
        &[
            ("2023-02-28", "false"),
            ("2023-03-01", "false"),
            ("2024-02-29", "true"),
            ("2024-03-01", "true"),
        ],
    );
}
