//! Dates no record can truly have: after today (the host's clock; the
//! plugin has none), or before the patient's birth. Counted as data-quality
//! warnings added to the plugin's summary, never dropped: the query's rules
//! decide what a record means, the site sees how many were implausible.
//!
//! A partial date is implausible only if every day it may stand for is:
//! "2020" is after today only if 1 January 2020 is, before a birth on
//! 5 May 2020 only if 31 December 2020 is before it.

use gpes_model::{Date, Precision, Record, Warning, WarningKind, days_in_month};
use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

/// Where the host's warnings say they come from (they concern records, not
/// one file's lines): the `file` of every warning the host adds.
pub const SOURCE: &str = "(host checks)";

#[derive(Debug)]
pub struct Plausibility {
    today: Date,
    future: u64,
    first_future: Option<String>,
    births: HashMap<String, Date>,
    /// Per patient, the latest day their earliest record may stand for.
    earliest: HashMap<String, Date>,
}

fn last_day(d: Date) -> Date {
    let (month, day) = match d.precision {
        Precision::Day => (d.month, d.day),
        Precision::Month => (d.month, days_in_month(d.year, d.month)),
        Precision::Year => (12, 31),
    };
    Date {
        year: d.year,
        month,
        day,
        precision: Precision::Day,
    }
}

/// Whole days since 1970-01-01 to a civil date (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> Date {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
    Date {
        year,
        month,
        day,
        precision: Precision::Day,
    }
}

/// Today on the host's clock, in UTC.
pub fn today() -> Date {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    civil_from_days((secs / 86_400) as i64)
}

impl Plausibility {
    pub fn new(today: Date) -> Plausibility {
        Plausibility {
            today,
            future: 0,
            first_future: None,
            births: HashMap::new(),
            earliest: HashMap::new(),
        }
    }

    /// Called for every record of an extraction: allocates only for a
    /// patient's first record.
    pub fn check(&mut self, record: &Record) {
        let (patient, first, second) = match record {
            Record::Patient(p) => {
                if let Some(dob) = p.date_of_birth {
                    self.births.insert(p.id.clone(), dob);
                }
                (&p.id, p.date_of_birth, p.date_of_death)
            }
            Record::Registration(r) => (&r.patient_id, Some(r.start), None),
            Record::Event(e) => (&e.patient_id, Some(e.date), None),
            Record::Medication(m) => (&m.patient_id, Some(m.date), None),
        };
        for d in [first, second].into_iter().flatten() {
            // A partial date is stored at its first day.
            if d.first_day() > self.today.first_day() {
                self.future += 1;
                if self.first_future.is_none() {
                    self.first_future = Some(format!("patient '{patient}', dated {d}"));
                }
            }
            let last = last_day(d);
            match self.earliest.get_mut(patient.as_str()) {
                Some(earliest) if last.first_day() < earliest.first_day() => *earliest = last,
                Some(_) => {}
                None => {
                    self.earliest.insert(patient.clone(), last);
                }
            }
        }
    }

    /// The warnings, if any, to add to the plugin's summary.
    pub fn finish(self) -> Vec<Warning> {
        let mut out = Vec::new();
        if let Some(first) = self.first_future {
            out.push(Warning {
                kind: WarningKind::BadDate,
                count: self.future,
                file: SOURCE.into(),
                line: 0,
                message: format!(
                    "dates after today ({}): kept; the first: {first}",
                    self.today
                ),
            });
        }
        let mut before: Vec<(&String, Date, Date)> = self
            .births
            .iter()
            .filter_map(|(id, dob)| {
                let earliest = *self.earliest.get(id)?;
                (earliest.first_day() < dob.first_day()).then_some((id, earliest, *dob))
            })
            .collect();
        before.sort();
        if let Some((id, _, dob)) = before.first() {
            out.push(Warning {
                kind: WarningKind::BadDate,
                count: before.len() as u64,
                file: SOURCE.into(),
                line: 0,
                message: format!(
                    "patients with a record dated before their date of birth: kept; the first: \
                     patient '{id}', born {dob}"
                ),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gpes_model::{Event, Patient, Sex};

    fn date(y: i32, m: u8, d: u8, p: Precision) -> Date {
        Date::new(y, m, d, p).expect("valid")
    }

    fn patient(id: &str, dob: Date) -> Record {
        Record::Patient(Patient {
            id: id.into(),
            nhs_number: None,
            date_of_birth: Some(dob),
            sex: Sex::Unknown,
            postcode: None,
            date_of_death: None,
            death_date_unknown: false,
        })
    }

    fn event(id: &str, d: Date) -> Record {
        Record::Event(Event {
            patient_id: id.into(),
            date: d,
            code: 1,
            value: None,
            unit: None,
        })
    }

    #[test]
    fn today_is_a_civil_date() {
        assert_eq!(civil_from_days(0), date(1970, 1, 1, Precision::Day));
        assert_eq!(civil_from_days(19_782), date(2024, 2, 29, Precision::Day));
        assert_eq!(civil_from_days(-1), date(1969, 12, 31, Precision::Day));
    }

    #[test]
    fn counts_future_dates_and_records_before_birth_in_any_order() {
        let mut p = Plausibility::new(date(2025, 3, 31, Precision::Day));
        let dob = date(2020, 5, 5, Precision::Day);
        // The event comes before its patient; partial dates get the benefit
        // of the doubt.
        p.check(&event("a", date(2020, 1, 1, Precision::Day)));
        p.check(&patient("a", dob));
        p.check(&patient("b", dob));
        p.check(&event("b", date(2020, 1, 1, Precision::Year)));
        p.check(&event("b", date(2025, 4, 1, Precision::Day)));
        p.check(&event("b", date(2025, 1, 1, Precision::Year)));
        let w = p.finish();
        assert_eq!(w.len(), 2, "{w:?}");
        assert_eq!(w[0].count, 1, "{w:?}");
        assert!(w[0].message.contains("2025-04-01"), "{w:?}");
        assert_eq!(w[1].count, 1, "{w:?}");
        assert!(w[1].message.contains("patient 'a'"), "{w:?}");
    }

    #[test]
    fn plausible_records_give_no_warning() {
        let mut p = Plausibility::new(date(2025, 3, 31, Precision::Day));
        p.check(&patient("a", date(1960, 1, 1, Precision::Year)));
        p.check(&event("a", date(1960, 6, 1, Precision::Day)));
        p.check(&event("a", date(2025, 3, 31, Precision::Day)));
        assert!(p.finish().is_empty());
    }

    /// Regression: a month-only date of birth is the first day of its
    /// month, so a record on that day is not before the birth (2,238 of
    /// 10,000 patients were warned about), and neither is a record in the
    /// same month stated with month precision.
    #[test]
    fn a_record_on_the_first_day_of_a_partial_birth_is_not_before_it() {
        let mut p = Plausibility::new(date(2025, 3, 31, Precision::Day));
        p.check(&patient("a", date(1950, 7, 1, Precision::Month)));
        p.check(&event("a", date(1950, 7, 1, Precision::Day)));
        p.check(&patient("b", date(1950, 1, 1, Precision::Year)));
        p.check(&event("b", date(1950, 1, 1, Precision::Month)));
        p.check(&event("b", date(1950, 1, 1, Precision::Day)));
        // A partial date starting today is not after today.
        p.check(&event("b", date(2025, 3, 1, Precision::Month)));
        assert!(p.finish().is_empty());
    }
}
