//! Patients held until their table has been read whole, so that an id on
//! more than one line is seen before any of its lines is used.

use crate::{Patient, WarningKind, Warnings};
use std::collections::HashMap;

/// The patient records of one table, collected line by line and handed
/// back by [`Patients::finish`] once the whole table has been read.
///
/// An id on more than one line (or resource) is a `duplicate-patient`
/// warning for **every** such line, counted in that line's file. If all its
/// lines map to the same record the patient is kept once; if they differ,
/// neither is preferred and the patient record is left out (the patient's
/// other records then reach the engine without one, which the engine
/// counts). A patient on one line is kept as it is.
///
/// Holds one record per patient, plus the lines of repeated ids.
#[derive(Debug)]
pub struct Patients {
    label: String,
    files: Vec<String>,
    index: HashMap<String, usize>,
    entries: Vec<Entry>,
}

/// A line: the index of its file in `Patients::files`, and its number.
type Place = (usize, u64);

#[derive(Debug)]
struct Entry {
    patient: Patient,
    first: Place,
    /// The id's later lines, in the order read.
    more: Vec<Place>,
    differ: bool,
}

/// Lines named in a warning's message; the count says how many in all.
const NAMED: usize = 5;

/// Reasons the warnings are counted under (so that kept and left-out
/// patients are counted apart in each file).
const AGREE: &str = "duplicate patient, lines agree";
const DIFFER: &str = "duplicate patient, lines differ";

impl Patients {
    /// `label` names the id in warnings, before the id in quotes: e.g.
    /// `"PatientGuid"` gives "PatientGuid 'p01' is on lines 2 and 17, ...".
    pub fn new(label: &str) -> Patients {
        Patients {
            label: label.to_owned(),
            files: Vec::new(),
            index: HashMap::new(),
            entries: Vec::new(),
        }
    }

    /// Collects the patient mapped from `line` of `file` (1-based).
    pub fn add(&mut self, patient: Patient, file: &str, line: u64) {
        let file = match self.files.iter().rposition(|f| f == file) {
            Some(i) => i,
            None => {
                self.files.push(file.to_owned());
                self.files.len() - 1
            }
        };
        match self.index.get(&patient.id) {
            Some(&i) => {
                let entry = &mut self.entries[i];
                entry.differ |= entry.patient != patient;
                entry.more.push((file, line));
            }
            None => {
                self.index.insert(patient.id.clone(), self.entries.len());
                self.entries.push(Entry {
                    patient,
                    first: (file, line),
                    more: Vec::new(),
                    differ: false,
                });
            }
        }
    }

    /// Ends the table: counts a warning for every line of a repeated id
    /// (in each file, the first such line and its id's message are the
    /// ones the warning keeps) and returns the patients to emit, in the
    /// order their ids were first read. Leaves the collection empty.
    pub fn finish(&mut self, warnings: &mut Warnings) -> Vec<Patient> {
        self.index = HashMap::new();
        let entries = std::mem::take(&mut self.entries);
        let files = std::mem::take(&mut self.files);
        let mut repeated: Vec<(Place, usize)> = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            if !e.more.is_empty() {
                repeated.push((e.first, i));
                repeated.extend(e.more.iter().map(|&place| (place, i)));
            }
        }
        repeated.sort_unstable();
        for ((file, line), i) in repeated {
            let e = &entries[i];
            let reason = if e.differ { DIFFER } else { AGREE };
            warnings.add_for(
                WarningKind::DuplicatePatient,
                &files[file],
                line,
                reason,
                || self.message(e, &files),
            );
        }
        entries
            .into_iter()
            .filter(|e| !e.differ)
            .map(|e| e.patient)
            .collect()
    }

    fn message(&self, e: &Entry, files: &[String]) -> String {
        let places: Vec<Place> = std::iter::once(e.first)
            .chain(e.more.iter().copied())
            .collect();
        let one_file = places.iter().all(|p| p.0 == e.first.0);
        let mut named: Vec<String> = places
            .iter()
            .take(NAMED)
            .map(|&(file, line)| {
                if one_file {
                    line.to_string()
                } else {
                    format!("{} line {line}", files[file])
                }
            })
            .collect();
        if places.len() > NAMED {
            named.push(format!("{} more", places.len() - NAMED));
        }
        let last = named.pop().unwrap_or_default();
        let list = if named.is_empty() {
            last
        } else {
            format!("{} and {last}", named.join(", "))
        };
        let lines = if one_file {
            format!("lines {list}")
        } else {
            list
        };
        let outcome = if e.differ {
            "which differ: neither is used, so the patient has no patient record"
        } else {
            "which agree: the patient is kept once"
        };
        format!(
            "{} '{}' is on {lines}, {outcome} (every line of a repeated id is counted)",
            self.label, e.patient.id
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Date, Sex};

    fn patient(id: &str, sex: Sex) -> Patient {
        Patient {
            id: id.into(),
            nhs_number: None,
            date_of_birth: Some(Date::ymd(1960, 4, 12).expect("valid")),
            sex,
            postcode: None,
            date_of_death: None,
            death_date_unknown: false,
        }
    }

    /// (kind, file, line, count, message) of every warning.
    fn found(w: &Warnings) -> Vec<(String, u64, u64, String)> {
        w.to_vec()
            .into_iter()
            .map(|w| {
                assert_eq!(w.kind, WarningKind::DuplicatePatient);
                (w.file, w.line, w.count, w.message)
            })
            .collect()
    }

    #[test]
    fn single_patients_pass_through_in_the_order_read() {
        let mut p = Patients::new("PatientGuid");
        p.add(patient("b", Sex::Male), "P.csv", 2);
        p.add(patient("a", Sex::Female), "P.csv", 3);
        let mut w = Warnings::default();
        let kept = p.finish(&mut w);
        assert_eq!(kept, [patient("b", Sex::Male), patient("a", Sex::Female)]);
        assert_eq!(w.total(), 0);
    }

    #[test]
    fn every_line_of_a_repeated_id_is_counted_and_only_agreeing_ones_kept() {
        let mut p = Patients::new("PatientGuid");
        p.add(patient("a", Sex::Male), "P.csv", 2);
        p.add(patient("b", Sex::Male), "P.csv", 3);
        p.add(patient("c", Sex::Male), "P.csv", 4);
        p.add(patient("b", Sex::Male), "P.csv", 5);
        p.add(patient("a", Sex::Female), "P.csv", 6);
        p.add(patient("a", Sex::Male), "P.csv", 7);
        let mut w = Warnings::default();
        let kept = p.finish(&mut w);
        assert_eq!(kept, [patient("b", Sex::Male), patient("c", Sex::Male)]);
        assert_eq!(
            found(&w),
            [
                (
                    "P.csv".into(),
                    3,
                    2,
                    "PatientGuid 'b' is on lines 3 and 5, which agree: the patient is kept \
                     once (every line of a repeated id is counted)"
                        .into()
                ),
                (
                    "P.csv".into(),
                    2,
                    3,
                    "PatientGuid 'a' is on lines 2, 6 and 7, which differ: neither is used, \
                     so the patient has no patient record (every line of a repeated id is \
                     counted)"
                        .into()
                ),
            ]
        );
        // Emptied: the next table starts afresh.
        assert!(p.finish(&mut w).is_empty());
    }

    #[test]
    fn lines_in_several_files_are_named_with_their_file_and_long_lists_cut() {
        let mut p = Patients::new("Patient: id");
        p.add(patient("a", Sex::Male), "P.1", 9);
        for line in 1..=6 {
            p.add(patient("a", Sex::Male), "P.2", line);
        }
        let mut w = Warnings::default();
        assert_eq!(p.finish(&mut w).len(), 1);
        let message = "Patient: id 'a' is on P.1 line 9, P.2 line 1, P.2 line 2, P.2 line 3, \
                       P.2 line 4 and 2 more, which agree: the patient is kept once (every \
                       line of a repeated id is counted)";
        assert_eq!(
            found(&w),
            [
                ("P.1".into(), 9, 1, message.into()),
                ("P.2".into(), 1, 6, message.into()),
            ]
        );
    }
}
