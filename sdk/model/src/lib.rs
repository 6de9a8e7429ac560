//! The common clinical data model, version 1: the records a supplier plugin
//! hands to the engine (patients, registrations, events, medications) and the
//! rules a record must keep to be accepted.
//!
//! These are the same types as the `types` interface of the WIT contract in
//! `sdk/wit`, which stays the one definition of the plugin boundary; this
//! crate is their plain-Rust form, with no dependency on wasmtime or on any
//! plugin binding. It does no I/O and knows nothing of queries.

mod contract;
mod date;
mod nhs;
mod verhoeff;

pub use contract::{CodeSet, PluginInfo, Request, Summary, Warning, WarningKind};
pub use date::{Date, DateError, FirstDay, Precision, days_in_month};
pub use nhs::is_valid_nhs_number;
pub use verhoeff::verhoeff_valid;

use serde::{Deserialize, Serialize};

/// Version of the data model these types describe.
pub const DATA_MODEL_VERSION: u32 = 1;

/// Administrative gender, as FHIR has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Sex {
    Male,
    Female,
    Other,
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Patient {
    pub id: String,
    pub nhs_number: Option<String>,
    pub date_of_birth: Option<Date>,
    pub sex: Sex,
    pub postcode: Option<String>,
    pub date_of_death: Option<Date>,
    /// The record says the patient died but gives no date; then
    /// `date_of_death` is `None` (a patient with both breaks the model). Such
    /// a patient counts as dead on every date.
    #[serde(default)]
    pub death_date_unknown: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RegistrationType {
    /// A regular (GMS) registration.
    Regular,
    /// A temporary resident.
    Temporary,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Registration {
    pub patient_id: String,
    /// ODS code of the practice.
    pub practice: String,
    /// First day registered.
    pub start: Date,
    /// Deregistration date: the first day no longer registered.
    pub end: Option<Date>,
    pub kind: RegistrationType,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub patient_id: String,
    pub date: Date,
    /// SNOMED CT concept id.
    pub code: u64,
    pub value: Option<f64>,
    pub unit: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Medication {
    pub patient_id: String,
    pub date: Date,
    /// dm+d code.
    pub code: u64,
    pub quantity: Option<f64>,
}

/// One record of the common data model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "table", rename_all = "kebab-case")]
pub enum Record {
    Patient(Patient),
    Registration(Registration),
    Event(Event),
    Medication(Medication),
}

/// The tables of the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Table {
    Patients,
    Registrations,
    Events,
    Medications,
}

impl Table {
    pub const ALL: [Table; 4] = [
        Table::Patients,
        Table::Registrations,
        Table::Events,
        Table::Medications,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Table::Patients => "patients",
            Table::Registrations => "registrations",
            Table::Events => "events",
            Table::Medications => "medications",
        }
    }
}

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a record breaks the model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    #[error("{table} record has an empty {field}")]
    Empty { table: Table, field: &'static str },
    #[error("{table} record for patient '{patient}' has a bad {field}: {source}")]
    BadDate {
        table: Table,
        patient: String,
        field: &'static str,
        source: DateError,
    },
    #[error(
        "patient '{patient}' has NHS number '{number}', which fails the modulus 11 check (a plugin must drop it and count a warning)"
    )]
    BadNhsNumber { patient: String, number: String },
    #[error("registration of patient '{patient}' ends ({end}) before it starts ({start})")]
    EndsBeforeStart {
        patient: String,
        start: Date,
        end: Date,
    },
    #[error(
        "registration of patient '{patient}' has a {field} of {precision} precision; registration dates must be whole dates"
    )]
    PartialRegistrationDate {
        patient: String,
        field: &'static str,
        precision: Precision,
    },
    #[error("{table} record for patient '{patient}' has a {field} that is not a finite number")]
    NotFinite {
        table: Table,
        patient: String,
        field: &'static str,
    },
    #[error("{table} record for patient '{patient}' has code 0, which is not a concept id")]
    ZeroCode { table: Table, patient: String },
    #[error(
        "patient '{patient}' has a date of death and is also marked as dead on an unknown date (a plugin sends one or the other)"
    )]
    DeathDateAndUnknown { patient: String },
}

impl Record {
    pub fn table(&self) -> Table {
        match self {
            Record::Patient(_) => Table::Patients,
            Record::Registration(_) => Table::Registrations,
            Record::Event(_) => Table::Events,
            Record::Medication(_) => Table::Medications,
        }
    }

    pub fn patient_id(&self) -> &str {
        match self {
            Record::Patient(p) => &p.id,
            Record::Registration(r) => &r.patient_id,
            Record::Event(e) => &e.patient_id,
            Record::Medication(m) => &m.patient_id,
        }
    }

    /// Checks the rules every record must keep: non-empty identifiers, real
    /// calendar dates, whole registration dates that do not run backwards,
    /// finite numbers, non-zero codes, valid NHS numbers, and a death either
    /// dated or of unknown date, not both.
    pub fn validate(&self) -> Result<(), ModelError> {
        let table = self.table();
        let patient = self.patient_id();
        if patient.is_empty() {
            return Err(ModelError::Empty {
                table,
                field: "patient id",
            });
        }
        let date = |field: &'static str, d: &Date| {
            d.check().map_err(|source| ModelError::BadDate {
                table,
                patient: patient.to_owned(),
                field,
                source,
            })
        };
        let finite = |field: &'static str, v: Option<f64>| match v {
            Some(v) if !v.is_finite() => Err(ModelError::NotFinite {
                table,
                patient: patient.to_owned(),
                field,
            }),
            _ => Ok(()),
        };
        let code = |c: u64| {
            if c == 0 {
                Err(ModelError::ZeroCode {
                    table,
                    patient: patient.to_owned(),
                })
            } else {
                Ok(())
            }
        };
        match self {
            Record::Patient(p) => {
                if let Some(d) = &p.date_of_birth {
                    date("date of birth", d)?;
                }
                if let Some(d) = &p.date_of_death {
                    date("date of death", d)?;
                    if p.death_date_unknown {
                        return Err(ModelError::DeathDateAndUnknown {
                            patient: p.id.clone(),
                        });
                    }
                }
                if let Some(n) = &p.nhs_number
                    && !is_valid_nhs_number(n)
                {
                    return Err(ModelError::BadNhsNumber {
                        patient: p.id.clone(),
                        number: n.clone(),
                    });
                }
            }
            Record::Registration(r) => {
                if r.practice.is_empty() {
                    return Err(ModelError::Empty {
                        table,
                        field: "practice code",
                    });
                }
                date("start date", &r.start)?;
                let whole = |field: &'static str, d: &Date| {
                    if d.precision == Precision::Day {
                        Ok(())
                    } else {
                        Err(ModelError::PartialRegistrationDate {
                            patient: patient.to_owned(),
                            field,
                            precision: d.precision,
                        })
                    }
                };
                whole("start date", &r.start)?;
                if let Some(end) = &r.end {
                    date("end date", end)?;
                    whole("end date", end)?;
                    if end.first_day() < r.start.first_day() {
                        return Err(ModelError::EndsBeforeStart {
                            patient: patient.to_owned(),
                            start: r.start,
                            end: *end,
                        });
                    }
                }
            }
            Record::Event(e) => {
                date("date", &e.date)?;
                code(e.code)?;
                finite("value", e.value)?;
            }
            Record::Medication(m) => {
                date("date", &m.date)?;
                code(m.code)?;
                finite("quantity", m.quantity)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(date: Date, value: Option<f64>) -> Record {
        Record::Event(Event {
            patient_id: "p1".into(),
            date,
            code: 73211009,
            value,
            unit: None,
        })
    }

    #[test]
    fn good_records_pass() {
        let d = Date::ymd(2024, 2, 29).expect("leap day exists");
        assert_eq!(event(d, Some(48.0)).validate(), Ok(()));
    }

    #[test]
    fn impossible_dates_and_numbers_fail() {
        let bad = Date {
            year: 2023,
            month: 2,
            day: 29,
            precision: Precision::Day,
        };
        assert!(matches!(
            event(bad, None).validate(),
            Err(ModelError::BadDate { .. })
        ));
        let d = Date::ymd(2023, 1, 1).expect("valid");
        assert!(matches!(
            event(d, Some(f64::NAN)).validate(),
            Err(ModelError::NotFinite { .. })
        ));
    }

    #[test]
    fn registration_rules() {
        let reg = |start: Date, end: Option<Date>| {
            Record::Registration(Registration {
                patient_id: "p".into(),
                practice: "A81001".into(),
                start,
                end,
                kind: RegistrationType::Regular,
            })
        };
        let a = Date::ymd(2020, 5, 1).expect("valid");
        let b = Date::ymd(2019, 5, 1).expect("valid");
        assert!(matches!(
            reg(a, Some(b)).validate(),
            Err(ModelError::EndsBeforeStart { .. })
        ));
        assert_eq!(reg(b, Some(a)).validate(), Ok(()));
        let month = Date::new(2020, 5, 1, Precision::Month).expect("valid");
        assert!(matches!(
            reg(month, None).validate(),
            Err(ModelError::PartialRegistrationDate { .. })
        ));
    }

    #[test]
    fn bad_nhs_number_breaks_the_model() {
        let p = |n: &str| {
            Record::Patient(Patient {
                id: "p".into(),
                nhs_number: Some(n.into()),
                date_of_birth: None,
                sex: Sex::Female,
                postcode: None,
                date_of_death: None,
                death_date_unknown: false,
            })
        };
        assert_eq!(p("9434765919").validate(), Ok(()));
        assert!(matches!(
            p("9434765918").validate(),
            Err(ModelError::BadNhsNumber { .. })
        ));
    }

    #[test]
    fn a_death_is_dated_or_of_unknown_date_never_both() {
        let p = |death: Option<Date>, unknown: bool| {
            Record::Patient(Patient {
                id: "p".into(),
                nhs_number: None,
                date_of_birth: None,
                sex: Sex::Male,
                postcode: None,
                date_of_death: death,
                death_date_unknown: unknown,
            })
        };
        let d = Date::ymd(2024, 3, 1).expect("valid");
        assert_eq!(p(Some(d), false).validate(), Ok(()));
        assert_eq!(p(None, true).validate(), Ok(()));
        assert_eq!(p(None, false).validate(), Ok(()));
        assert!(matches!(
            p(Some(d), true).validate(),
            Err(ModelError::DeathDateAndUnknown { .. })
        ));
    }
}
