//! The number of patients registered at a practice on a reference date.
//!
//! The rules, as the engine applies them:
//!
//! 1. A registration covers the days from its start date (inclusive) up to
//!    its end date (exclusive): the end date is the deregistration date, the
//!    first day the patient is no longer registered. A registration with no
//!    end date is open.
//! 2. Only regular (GMS) registrations at the practice being extracted
//!    count; temporary residents and registrations at other practices do not.
//! 3. A patient counts when at least one registration covers the reference
//!    date, and the patient has a record in the patients table, and has not
//!    died on or before the reference date. Overlapping or repeated
//!    registrations count the patient once.
//! 4. A date of death of month or year precision counts as the first day of
//!    its month or year (so a death "in 2024-03" is on or before 2024-03-31
//!    and after 2024-02-29): the patient is treated as dead from the start of
//!    the period, the conservative reading for a count of living patients.
//!    A patient recorded as dead on an unknown date (`death_date_unknown`)
//!    is dead on every date, for the same reason.
//! 5. Registrations whose patient has no record in the patients table are
//!    not counted; how many there were is reported beside the count.

use crate::{DataNeeds, Evaluation};
use gpes_model::{Date, Record, RegistrationType, Table};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The query: patients registered at `practice` on `date`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredOn {
    pub practice: String,
    pub date: Date,
}

/// The answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredCount {
    /// Patients registered on the reference date.
    pub registered: u64,
    /// Distinct patient ids with a covering registration but no patient
    /// record (not counted).
    pub registrations_without_patient: u64,
}

#[derive(Debug, Default, Clone, Copy)]
struct PatientState {
    has_record: bool,
    dead_by_date: bool,
    registered: bool,
}

/// Streaming evaluation of [`RegisteredOn`]: one small state per patient.
#[derive(Debug)]
pub struct RegisteredEvaluation {
    query: RegisteredOn,
    patients: HashMap<String, PatientState>,
}

impl RegisteredOn {
    pub fn needs(&self) -> DataNeeds {
        DataNeeds {
            tables: vec![Table::Patients, Table::Registrations],
        }
    }

    pub fn evaluation(&self) -> RegisteredEvaluation {
        RegisteredEvaluation {
            query: self.clone(),
            patients: HashMap::new(),
        }
    }

    /// Evaluates over records already in memory (tests, small inputs).
    pub fn evaluate<'a>(&self, records: impl IntoIterator<Item = &'a Record>) -> RegisteredCount {
        let mut e = self.evaluation();
        for r in records {
            e.push(r);
        }
        e.finish()
    }
}

impl RegisteredEvaluation {
    fn state(&mut self, id: &str) -> &mut PatientState {
        // Avoid allocating a key for patients already seen.
        if !self.patients.contains_key(id) {
            self.patients.insert(id.to_owned(), PatientState::default());
        }
        self.patients.get_mut(id).expect("inserted above")
    }
}

impl Evaluation for RegisteredEvaluation {
    type Output = RegisteredCount;

    fn push(&mut self, record: &Record) {
        let date = self.query.date;
        match record {
            Record::Patient(p) => {
                // Rule 4: a partial date is its period's first day, whatever
                // its precision (Date's own order puts precision last).
                let day = |d: Date| (d.year, d.month, d.day);
                let dead =
                    p.death_date_unknown || p.date_of_death.is_some_and(|d| day(d) <= day(date));
                let s = self.state(&p.id);
                s.has_record = true;
                s.dead_by_date |= dead;
            }
            Record::Registration(r) => {
                let covers = r.kind == RegistrationType::Regular
                    && r.practice == self.query.practice
                    && r.start <= date
                    && r.end.is_none_or(|end| date < end);
                if covers {
                    self.state(&r.patient_id).registered = true;
                }
            }
            Record::Event(_) | Record::Medication(_) => {}
        }
    }

    fn finish(self) -> RegisteredCount {
        let mut out = RegisteredCount {
            registered: 0,
            registrations_without_patient: 0,
        };
        for s in self.patients.values().filter(|s| s.registered) {
            if !s.has_record {
                out.registrations_without_patient += 1;
            } else if !s.dead_by_date {
                out.registered += 1;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gpes_model::{Patient, Registration, Sex};

    fn d(s: &str) -> Date {
        Date::parse_iso(s).expect("test date")
    }

    fn patient(id: &str, death: Option<&str>) -> Record {
        Record::Patient(Patient {
            id: id.into(),
            nhs_number: None,
            date_of_birth: Some(d("1970-01-01")),
            sex: Sex::Unknown,
            postcode: None,
            date_of_death: death.map(d),
            death_date_unknown: false,
        })
    }

    fn reg(
        id: &str,
        practice: &str,
        start: &str,
        end: Option<&str>,
        kind: RegistrationType,
    ) -> Record {
        Record::Registration(Registration {
            patient_id: id.into(),
            practice: practice.into(),
            start: d(start),
            end: end.map(d),
            kind,
        })
    }

    fn count(records: &[Record]) -> RegisteredCount {
        RegisteredOn {
            practice: "A81001".into(),
            date: d("2025-03-31"),
        }
        .evaluate(records)
    }

    use RegistrationType::{Regular, Temporary};

    #[test]
    fn each_rule_in_a_table() {
        // (case, records, expected registered count)
        let cases: Vec<(&str, Vec<Record>, u64)> = vec![
            (
                "open registration",
                vec![
                    patient("a", None),
                    reg("a", "A81001", "2000-01-01", None, Regular),
                ],
                1,
            ),
            (
                "starts on the date",
                vec![
                    patient("a", None),
                    reg("a", "A81001", "2025-03-31", None, Regular),
                ],
                1,
            ),
            (
                "starts the day after",
                vec![
                    patient("a", None),
                    reg("a", "A81001", "2025-04-01", None, Regular),
                ],
                0,
            ),
            (
                "ends on the date (deregistered that day)",
                vec![
                    patient("a", None),
                    reg("a", "A81001", "2000-01-01", Some("2025-03-31"), Regular),
                ],
                0,
            ),
            (
                "ends the day after",
                vec![
                    patient("a", None),
                    reg("a", "A81001", "2000-01-01", Some("2025-04-01"), Regular),
                ],
                1,
            ),
            (
                "temporary resident",
                vec![
                    patient("a", None),
                    reg("a", "A81001", "2000-01-01", None, Temporary),
                ],
                0,
            ),
            (
                "another practice",
                vec![
                    patient("a", None),
                    reg("a", "B82002", "2000-01-01", None, Regular),
                ],
                0,
            ),
            (
                "died on the date",
                vec![
                    patient("a", Some("2025-03-31")),
                    reg("a", "A81001", "2000-01-01", None, Regular),
                ],
                0,
            ),
            (
                "died the day after",
                vec![
                    patient("a", Some("2025-04-01")),
                    reg("a", "A81001", "2000-01-01", None, Regular),
                ],
                1,
            ),
            (
                "death known to the month, that month",
                vec![
                    patient("a", Some("2025-03")),
                    reg("a", "A81001", "2000-01-01", None, Regular),
                ],
                0,
            ),
            (
                "overlapping registrations count once",
                vec![
                    patient("a", None),
                    reg("a", "A81001", "2000-01-01", None, Regular),
                    reg("a", "A81001", "2010-01-01", None, Regular),
                ],
                1,
            ),
            (
                "left and came back",
                vec![
                    patient("a", None),
                    reg("a", "A81001", "2000-01-01", Some("2005-01-01"), Regular),
                    reg("a", "A81001", "2020-01-01", None, Regular),
                ],
                1,
            ),
            (
                "in a registration gap",
                vec![
                    patient("a", None),
                    reg("a", "A81001", "2000-01-01", Some("2025-01-01"), Regular),
                    reg("a", "A81001", "2025-06-01", None, Regular),
                ],
                0,
            ),
            (
                "registration before its patient record",
                vec![
                    reg("a", "A81001", "2000-01-01", None, Regular),
                    patient("a", None),
                ],
                1,
            ),
            (
                "no patient record",
                vec![reg("a", "A81001", "2000-01-01", None, Regular)],
                0,
            ),
            ("patient never registered", vec![patient("a", None)], 0),
        ];
        for (case, records, want) in cases {
            assert_eq!(count(&records).registered, want, "{case}");
        }
    }

    #[test]
    fn a_death_known_to_the_month_counts_from_its_first_day() {
        let q = RegisteredOn {
            practice: "A81001".into(),
            date: d("2025-03-01"),
        };
        let records = [
            patient("a", Some("2025-03")),
            reg("a", "A81001", "2000-01-01", None, Regular),
        ];
        assert_eq!(q.evaluate(&records).registered, 0);
    }

    #[test]
    fn registrations_without_patients_are_reported() {
        let c = count(&[
            reg("x", "A81001", "2000-01-01", None, Regular),
            reg("x", "A81001", "2001-01-01", None, Regular),
            reg("y", "A81001", "2000-01-01", None, Regular),
        ]);
        assert_eq!(c.registrations_without_patient, 2);
        assert_eq!(c.registered, 0);
    }

    #[test]
    fn order_does_not_matter() {
        let mut records = vec![
            patient("a", None),
            patient("b", Some("2020-01-01")),
            patient("c", None),
            reg("a", "A81001", "2000-01-01", None, Regular),
            reg("b", "A81001", "2000-01-01", None, Regular),
            reg("c", "A81001", "2000-01-01", Some("2024-01-01"), Regular),
            reg("c", "A81001", "2024-06-01", None, Regular),
        ];
        let forward = count(&records);
        records.reverse();
        assert_eq!(count(&records), forward);
        assert_eq!(forward.registered, 2);
    }
}
