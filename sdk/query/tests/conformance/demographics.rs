//! Age, sex, date of birth, date of death; patients without a record.

use super::*;

#[test]
fn age_on_a_date() {
    let r = vec![
        patient("birthday-today", Some("2008-03-31"), Sex::Male, None),
        patient("birthday-tomorrow", Some("2008-04-01"), Sex::Male, None),
        patient("birthday-yesterday", Some("2008-03-30"), Sex::Male, None),
        patient("leapling", Some("2008-02-29"), Sex::Female, None),
        patient("no-dob", None, Sex::Female, None),
        patient("month-only", Some("2008-03"), Sex::Female, None),
        patient("year-only", Some("2008"), Sex::Female, None),
        patient("unborn", Some("2025-04-01"), Sex::Female, None),
        patient("born-today", Some("2025-03-31"), Sex::Female, None),
    ];
    check_variable(
        "age on PPED (2025-03-31)",
        "{ age: { on: PPED } }",
        &r,
        &[
            ("birthday-today", "17"),
            ("birthday-tomorrow", "16"),
            ("birthday-yesterday", "17"),
            ("leapling", "17"),
            ("no-dob", "null"),
            ("month-only", "17"),
            ("year-only", "17"),
            ("unborn", "null"),
            ("born-today", "0"),
        ],
    );
    check_variable(
        "29 February birthdays fall on 1 March in other years",
        "{ age: { on: 2025-02-28 } }",
        &r,
        &[
            ("birthday-today", "16"),
            ("birthday-tomorrow", "16"),
            ("birthday-yesterday", "16"),
            ("leapling", "16"),
            ("no-dob", "null"),
            ("month-only", "16"),
            ("year-only", "17"),
            ("unborn", "null"),
            ("born-today", "null"),
        ],
    );
    check_variable(
        "on 1 March the leapling is a year older",
        "{ age: { on: 2025-03-01 } }",
        &r,
        &[
            ("birthday-today", "16"),
            ("birthday-tomorrow", "16"),
            ("birthday-yesterday", "16"),
            ("leapling", "17"),
            ("no-dob", "null"),
            ("month-only", "17"),
            ("year-only", "17"),
            ("unborn", "null"),
            ("born-today", "null"),
        ],
    );
}

#[test]
fn sex_birth_and_death() {
    let r = vec![
        patient("m", Some("1950-01-01"), Sex::Male, None),
        patient("f", Some("1950-01-01"), Sex::Female, Some("2024-06-30")),
        patient("o", None, Sex::Other, Some("2024-06")),
        patient("u", None, Sex::Unknown, None),
        // Events but no patient record: not evaluated at all.
        ev("ghost", "2020-01-01", DM, None),
    ];
    check_variable(
        "sex",
        "{ sex: {} }",
        &r,
        &[
            ("m", "male"),
            ("f", "female"),
            ("o", "other"),
            ("u", "unknown"),
        ],
    );
    check_variable(
        "date of death",
        "{ date_of_death: }",
        &r,
        &[
            ("m", "null"),
            ("f", "2024-06-30"),
            ("o", "2024-06-01"),
            ("u", "null"),
        ],
    );
    check_variable(
        "date of birth",
        "{ date_of_birth: {} }",
        &r,
        &[
            ("m", "1950-01-01"),
            ("f", "1950-01-01"),
            ("o", "null"),
            ("u", "null"),
        ],
    );
    // The ghost's event is one the query reads, so the ghost is counted as
    // without a patient record; a query that reads no events never sees it.
    let answer = run(&variable_query("{ exists: { cluster: DM } }"), &[], &r);
    assert_eq!(answer.records_without_patient, 1);
    assert_eq!(answer.patients_evaluated, 4);
    let answer = run(&variable_query("{ sex: {} }"), &[], &r);
    assert_eq!(answer.records_without_patient, 0);
    assert_eq!(answer.patients_evaluated, 4);
}
