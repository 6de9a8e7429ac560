//! Registrations and the practice being extracted. A registration names its
//! practice by ODS code; the engine counts only those naming the practice
//! the request is for, so an export of another practice, or one whose codes
//! differ from the agent's (`a81001` for `A81001`), would answer zero for
//! every population without a word. The host counts registrations naming
//! another practice as a warning with the codes seen, and fails the
//! extraction when registrations were asked for and none names the
//! practice. Codes are compared exactly: ODS codes are upper case, and a
//! plugin passes them as the export writes them.

use crate::ExtractionError;
use crate::plausibility::SOURCE;
use gpes_model::{Record, Request, Table, Warning, WarningKind};
use std::collections::BTreeMap;

#[derive(Debug)]
pub struct PracticeCheck {
    practice: String,
    asked: bool,
    own: u64,
    others: BTreeMap<String, u64>,
}

impl PracticeCheck {
    pub fn new(request: &Request) -> PracticeCheck {
        PracticeCheck {
            practice: request.practice.clone(),
            asked: request.tables.contains(&Table::Registrations),
            own: 0,
            others: BTreeMap::new(),
        }
    }

    /// Called for every record; allocates only for a code not seen before.
    pub fn check(&mut self, record: &Record) {
        let Record::Registration(r) = record else {
            return;
        };
        if r.practice == self.practice {
            self.own += 1;
        } else if let Some(n) = self.others.get_mut(r.practice.as_str()) {
            *n += 1;
        } else {
            self.others.insert(r.practice.clone(), 1);
        }
    }

    /// The warning to add to the summary, or the error when registrations
    /// were asked for and none names the practice.
    pub fn finish(self) -> Result<Option<Warning>, ExtractionError> {
        if self.asked && self.own == 0 {
            let mut seen: Vec<(String, u64)> = self.others.into_iter().collect();
            seen.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            return Err(ExtractionError::PracticeNotInExport {
                practice: self.practice,
                seen,
            });
        }
        if self.others.is_empty() {
            return Ok(None);
        }
        let count = self.others.values().sum();
        let codes: Vec<String> = self
            .others
            .iter()
            .map(|(c, n)| format!("'{c}' ({n})"))
            .collect();
        Ok(Some(Warning {
            kind: WarningKind::Other,
            count,
            file: SOURCE.into(),
            line: 0,
            message: format!(
                "registrations naming another practice than {}: kept, and never counted as registered here; codes seen: {}",
                self.practice,
                codes.join(", ")
            ),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gpes_model::{Date, Registration, RegistrationType};

    fn reg(practice: &str) -> Record {
        Record::Registration(Registration {
            patient_id: "p".into(),
            practice: practice.into(),
            start: Date::ymd(2020, 1, 1).expect("valid"),
            end: None,
            kind: RegistrationType::Regular,
        })
    }

    fn request(practice: &str, tables: Vec<Table>) -> Request {
        Request {
            practice: practice.into(),
            tables,
            code_sets: vec![],
        }
    }

    #[test]
    fn other_practices_are_counted_and_none_of_ours_is_an_error() {
        let mut c = PracticeCheck::new(&request("A81001", vec![Table::Registrations]));
        for p in ["A81001", "B82002", "B82002", "a81001"] {
            c.check(&reg(p));
        }
        let w = c.finish().expect("one is ours").expect("a warning");
        assert_eq!(w.count, 3);
        assert!(w.message.contains("'B82002' (2), 'a81001' (1)"), "{w:?}");

        let mut c = PracticeCheck::new(&request("A81001", vec![Table::Registrations]));
        c.check(&reg("a81001"));
        let e = c.finish().expect_err("none is ours").to_string();
        assert!(e.contains("A81001") && e.contains("'a81001' (1)"), "{e}");

        let c = PracticeCheck::new(&request("A81001", vec![Table::Registrations]));
        let e = c.finish().expect_err("none at all").to_string();
        assert!(e.contains("no registrations at all"), "{e}");

        // Not asked for: nothing to check.
        let c = PracticeCheck::new(&request("A81001", vec![Table::Patients]));
        assert!(c.finish().expect("not asked").is_none());
    }
}
