//! `gpes-synth` makes synthetic English GP practices: made-up patients with
//! registration histories, diagnoses, readings, prescriptions,
//! vaccinations and opt-outs, at roughly the age structure and prevalences
//! of a real practice, and writes them in the csv-export format
//! (`plugins/csv-export/FORMAT.md`, [`write_csv_export`]) or as a FHIR R4
//! bulk-data export (NDJSON, read by the fhir-ndjson plugin,
//! [`write_fhir_ndjson`]) for the demo, tests and benchmarks. A
//! seed fixes the practice: the same configuration gives the same records,
//! byte for byte when written, on every platform (the crate has its own
//! PRNG, [`rng`]). It is not a clinical simulation: conditions are drawn
//! independently by age from published national figures (see the crate's
//! README), no real person is described, and NHS numbers come from the
//! 999 range, which is never issued to patients.

pub mod cli;
pub mod codes;
pub mod days;
mod export;
mod fhir;
mod generate;
pub mod rng;
mod stats;

pub use export::{HEADERS, write_csv_export};
pub use fhir::{
    FHIR_RESOURCES_PER_FILE, FhirCounts, FhirOptions, write_fhir_ndjson, write_fhir_ndjson_with,
};
pub use generate::generate;
pub use stats::Stats;

use gpes_model::{Date, Event, Medication, Patient, Precision, Record, Registration};

/// Fewest patients a practice may have (the realism tolerances hold from here).
pub const MIN_PATIENTS: usize = 1_000;
/// Most patients a practice may have.
pub const MAX_PATIENTS: usize = 100_000;

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PracticeConfig {
    /// Fixes every random choice: same seed, same practice.
    pub seed: u64,
    /// ODS code of the practice, e.g. `A81001`.
    pub practice: String,
    /// Number of patient records, [`MIN_PATIENTS`] to [`MAX_PATIENTS`]
    /// (everyone in the export, not only those registered on the
    /// reference date).
    pub patients: usize,
    /// The extraction date: no record is dated after it.
    pub reference_date: Date,
    /// Years of routine activity (consultations, vital signs, smoking
    /// status) before the reference date, 0 to 50; default 10, which gives
    /// about 100 events per patient. 0 leaves only the clinical records the
    /// realism figures are about (small files for quick tests).
    pub background_years: u32,
}

/// A configuration that [`generate`] refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} patients is outside {MIN_PATIENTS} to {MAX_PATIENTS}")]
    Patients(usize),
    #[error("the practice code is empty")]
    EmptyPractice,
    #[error("the reference date {0} is not a whole date from 1950 to 9000")]
    ReferenceDate(Date),
    #[error("{0} years of background activity is more than 50")]
    BackgroundYears(u32),
}

impl PracticeConfig {
    /// A configuration with the default reference date, 2025-03-31.
    pub fn new(seed: u64, practice: impl Into<String>, patients: usize) -> Self {
        PracticeConfig {
            seed,
            practice: practice.into(),
            patients,
            reference_date: Self::default_reference_date(),
            background_years: 10,
        }
    }

    /// 2025-03-31, the end of the 2024-25 QOF year.
    pub fn default_reference_date() -> Date {
        Date::ymd(2025, 3, 31).expect("a calendar date")
    }

    /// Checks the configuration; [`generate`] panics on what this refuses.
    pub fn check(&self) -> Result<(), ConfigError> {
        if !(MIN_PATIENTS..=MAX_PATIENTS).contains(&self.patients) {
            return Err(ConfigError::Patients(self.patients));
        }
        if self.practice.trim().is_empty() {
            return Err(ConfigError::EmptyPractice);
        }
        let d = self.reference_date;
        if d.check().is_err() || d.precision != Precision::Day || !(1950..=9000).contains(&d.year) {
            return Err(ConfigError::ReferenceDate(d));
        }
        if self.background_years > 50 {
            return Err(ConfigError::BackgroundYears(self.background_years));
        }
        Ok(())
    }
}

impl Default for PracticeConfig {
    fn default() -> Self {
        PracticeConfig::new(1, "A81001", 10_000)
    }
}

/// A generated practice: its tables, each in patient order (and, within a
/// patient, in date order).
#[derive(Debug, Clone, PartialEq)]
pub struct Practice {
    /// ODS code of the practice.
    pub practice: String,
    /// The extraction date the practice was generated for.
    pub reference_date: Date,
    pub patients: Vec<Patient>,
    pub registrations: Vec<Registration>,
    pub events: Vec<Event>,
    pub medications: Vec<Medication>,
}

impl Practice {
    /// Counts for checks and documentation (see [`Stats`]).
    pub fn stats(&self) -> Stats {
        stats::compute(self)
    }

    /// Every record, as the model's [`Record`] (patients, registrations,
    /// events, medications, in that order).
    pub fn records(&self) -> impl Iterator<Item = Record> + '_ {
        self.patients
            .iter()
            .cloned()
            .map(Record::Patient)
            .chain(self.registrations.iter().cloned().map(Record::Registration))
            .chain(self.events.iter().cloned().map(Record::Event))
            .chain(self.medications.iter().cloned().map(Record::Medication))
    }
}
