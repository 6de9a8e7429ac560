//! Registration on a date, its type and start: the rules of
//! SPEC.md (start inclusive, end exclusive, regular only at the
//! practice, not dead on or before the date).

use super::*;

const B: &str = "B82002";

fn records() -> Vec<Record> {
    vec![
        p("open"),
        reg("open", PRACTICE, "2000-01-01", None, true),
        p("starts-on-date"),
        reg("starts-on-date", PRACTICE, "2025-03-31", None, true),
        p("starts-after"),
        reg("starts-after", PRACTICE, "2025-04-01", None, true),
        p("ends-on-date"),
        reg(
            "ends-on-date",
            PRACTICE,
            "2000-01-01",
            Some("2025-03-31"),
            true,
        ),
        p("ends-after"),
        reg(
            "ends-after",
            PRACTICE,
            "2000-01-01",
            Some("2025-04-01"),
            true,
        ),
        p("temporary"),
        reg("temporary", PRACTICE, "2000-01-01", None, false),
        p("other-practice"),
        reg("other-practice", B, "2000-01-01", None, true),
        patient(
            "died-on-date",
            Some("1950-01-01"),
            Sex::Male,
            Some("2025-03-31"),
        ),
        reg("died-on-date", PRACTICE, "2000-01-01", None, true),
        patient(
            "died-after",
            Some("1950-01-01"),
            Sex::Male,
            Some("2025-04-01"),
        ),
        reg("died-after", PRACTICE, "2000-01-01", None, true),
        patient(
            "died-that-month",
            Some("1950-01-01"),
            Sex::Male,
            Some("2025-03"),
        ),
        reg("died-that-month", PRACTICE, "2000-01-01", None, true),
        p("overlapping"),
        reg("overlapping", PRACTICE, "2000-01-01", None, true),
        reg("overlapping", PRACTICE, "2010-01-01", None, true),
        p("in-a-gap"),
        reg("in-a-gap", PRACTICE, "2000-01-01", Some("2025-01-01"), true),
        reg("in-a-gap", PRACTICE, "2025-06-01", None, true),
        p("came-back"),
        reg(
            "came-back",
            PRACTICE,
            "2000-01-01",
            Some("2005-01-01"),
            true,
        ),
        reg("came-back", PRACTICE, "2020-01-01", None, true),
        p("transferred-out"),
        reg(
            "transferred-out",
            PRACTICE,
            "2000-01-01",
            Some("2024-01-01"),
            true,
        ),
        reg("transferred-out", B, "2024-01-01", None, true),
        p("transferred-in"),
        reg("transferred-in", B, "2000-01-01", Some("2024-01-01"), true),
        reg("transferred-in", PRACTICE, "2024-01-01", None, true),
        p("temporary-and-regular"),
        reg("temporary-and-regular", PRACTICE, "2024-01-01", None, false),
        reg("temporary-and-regular", PRACTICE, "2001-01-01", None, true),
        p("never"),
    ]
}

#[test]
fn registered_on_a_date() {
    check_variable(
        "registered on PPED",
        "{ registered: { on: PPED } }",
        &records(),
        &[
            ("open", "true"),
            ("starts-on-date", "true"),
            ("starts-after", "false"),
            ("ends-on-date", "false"),
            ("ends-after", "true"),
            ("temporary", "false"),
            ("other-practice", "false"),
            ("died-on-date", "false"),
            ("died-after", "true"),
            ("died-that-month", "false"),
            ("overlapping", "true"),
            ("in-a-gap", "false"),
            ("came-back", "true"),
            ("transferred-out", "false"),
            ("transferred-in", "true"),
            ("temporary-and-regular", "true"),
            ("never", "false"),
        ],
    );
}

#[test]
fn registration_type_and_start() {
    check_variable(
        "type on PPED",
        "{ registration_type: { on: PPED } }",
        &records(),
        &[
            ("open", "regular"),
            ("starts-on-date", "regular"),
            ("starts-after", "null"),
            ("ends-on-date", "null"),
            ("ends-after", "regular"),
            ("temporary", "temporary"),
            ("other-practice", "null"),
            // Type is about the registration, whatever the date of death.
            ("died-on-date", "regular"),
            ("died-after", "regular"),
            ("died-that-month", "regular"),
            ("overlapping", "regular"),
            ("in-a-gap", "null"),
            ("came-back", "regular"),
            ("transferred-out", "null"),
            ("transferred-in", "regular"),
            ("temporary-and-regular", "regular"),
            ("never", "null"),
        ],
    );
    check_variable(
        "start of the covering regular registration (latest start if several)",
        "{ registration_start: { on: PPED } }",
        &records(),
        &[
            ("open", "2000-01-01"),
            ("starts-on-date", "2025-03-31"),
            ("starts-after", "null"),
            ("ends-on-date", "null"),
            ("ends-after", "2000-01-01"),
            ("temporary", "null"),
            ("other-practice", "null"),
            ("died-on-date", "2000-01-01"),
            ("died-after", "2000-01-01"),
            ("died-that-month", "2000-01-01"),
            ("overlapping", "2010-01-01"),
            ("in-a-gap", "null"),
            ("came-back", "2020-01-01"),
            ("transferred-out", "null"),
            ("transferred-in", "2024-01-01"),
            ("temporary-and-regular", "2001-01-01"),
            ("never", "null"),
        ],
    );
}

/// A patient recorded as dead on an unknown date (FHIR `deceasedBoolean`
/// without a date) is dead on every date: registered on none, whatever the
/// registrations say, and `date_of_death` is null. Registration type and
/// start do not look at death.
#[test]
fn dead_on_an_unknown_date() {
    let dead = |id: &str| {
        Record::Patient(Patient {
            id: id.into(),
            nhs_number: None,
            date_of_birth: Some(d("1940-01-01")),
            sex: Sex::Female,
            postcode: None,
            date_of_death: None,
            death_date_unknown: true,
        })
    };
    let r = vec![
        dead("dead-unknown"),
        reg("dead-unknown", PRACTICE, "1980-01-01", None, true),
        // Registered again later: still dead on every date.
        dead("dead-unknown-came-back"),
        reg(
            "dead-unknown-came-back",
            PRACTICE,
            "1980-01-01",
            Some("1990-01-01"),
            true,
        ),
        reg("dead-unknown-came-back", PRACTICE, "2020-01-01", None, true),
        dead("dead-unknown-unregistered"),
        p("alive"),
        reg("alive", PRACTICE, "1980-01-01", None, true),
    ];
    for on in ["2025-03-31", "1985-06-01"] {
        check_variable_with(
            &format!("registered on {on}"),
            "{ registered: { on: PPED } }",
            &[("PPED", on)],
            &r,
            &[
                ("dead-unknown", "false"),
                ("dead-unknown-came-back", "false"),
                ("dead-unknown-unregistered", "false"),
                ("alive", "true"),
            ],
        );
    }
    check_variable(
        "date of death of a death of unknown date",
        "{ date_of_death: }",
        &r,
        &[
            ("dead-unknown", "null"),
            ("dead-unknown-came-back", "null"),
            ("dead-unknown-unregistered", "null"),
            ("alive", "null"),
        ],
    );
    check_variable(
        "registration type does not look at death",
        "{ registration_type: { on: PPED } }",
        &r,
        &[
            ("dead-unknown", "regular"),
            ("dead-unknown-came-back", "regular"),
            ("dead-unknown-unregistered", "null"),
            ("alive", "regular"),
        ],
    );
}
