//! The request as a filter: which tables are needed, and which event and
//! medication codes on which dates.

use crate::{CodeSet, Date, Request, Table};
use std::collections::HashMap;

/// A date window, bounds inclusive; `None` is unbounded.
type Window = (Option<Date>, Option<Date>);

/// Codes wanted from one coded table, each with the date windows asked for
/// it.
#[derive(Debug, Default, Clone)]
pub struct CodeFilter {
    /// The whole table is wanted.
    all: bool,
    windows: HashMap<u64, Vec<Window>>,
}

impl CodeFilter {
    /// Whether any line with this code could be wanted (check this first:
    /// a line whose code is not wanted is skipped before any other check,
    /// so warnings concern only lines a query could use).
    pub fn wants_code(&self, code: u64) -> bool {
        self.all || self.windows.contains_key(&code)
    }

    /// Whether a line with this code on this date is wanted.
    pub fn wants(&self, code: u64, date: Date) -> bool {
        self.all
            || self.windows.get(&code).is_some_and(|ws| {
                // A partial date is the first day of its period (SPEC.md).
                ws.iter().any(|(from, to)| date.within(*from, *to))
            })
    }

    /// The whole table is wanted (no filtering by code).
    pub fn is_all(&self) -> bool {
        self.all
    }

    /// Nothing is wanted from this table: do not open it.
    pub fn is_empty(&self) -> bool {
        !self.all && self.windows.is_empty()
    }

    fn add(&mut self, set: &CodeSet) {
        for code in &set.codes {
            self.windows
                .entry(*code)
                .or_default()
                .push((set.earliest, set.latest));
        }
    }
}

/// What a request needs, table by table.
#[derive(Debug, Default, Clone)]
pub struct Wanted {
    pub patients: bool,
    pub registrations: bool,
    pub events: CodeFilter,
    pub medications: CodeFilter,
}

impl Wanted {
    pub fn from_request(request: &Request) -> Wanted {
        let mut w = Wanted::default();
        for t in &request.tables {
            match t {
                Table::Patients => w.patients = true,
                Table::Registrations => w.registrations = true,
                Table::Events => w.events.all = true,
                Table::Medications => w.medications.all = true,
            }
        }
        for set in &request.code_sets {
            match set.table {
                Table::Events => w.events.add(set),
                Table::Medications => w.medications.add(set),
                // Patients and registrations are never filtered by code.
                Table::Patients | Table::Registrations => {}
            }
        }
        w
    }

    /// Whether anything at all is needed from `table`.
    pub fn needs(&self, table: Table) -> bool {
        match table {
            Table::Patients => self.patients,
            Table::Registrations => self.registrations,
            Table::Events => !self.events.is_empty(),
            Table::Medications => !self.medications.is_empty(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Precision;

    fn day(y: i32, m: u8, d: u8) -> Date {
        Date::new(y, m, d, Precision::Day).unwrap()
    }

    #[test]
    fn codes_and_windows() {
        let request = Request {
            practice: "A81001".into(),
            tables: vec![Table::Patients],
            code_sets: vec![
                CodeSet {
                    table: Table::Events,
                    codes: vec![1, 2],
                    earliest: Some(day(2020, 1, 1)),
                    latest: Some(day(2020, 12, 31)),
                    policy: false,
                },
                CodeSet {
                    table: Table::Events,
                    codes: vec![2],
                    earliest: None,
                    latest: Some(day(2010, 1, 1)),
                    policy: true,
                },
            ],
        };
        let w = Wanted::from_request(&request);
        assert!(w.needs(Table::Patients) && w.needs(Table::Events));
        assert!(!w.needs(Table::Registrations) && !w.needs(Table::Medications));
        assert!(w.events.wants(1, day(2020, 1, 1)) && w.events.wants(1, day(2020, 12, 31)));
        assert!(!w.events.wants(1, day(2021, 1, 1)) && !w.events.wants(1, day(2009, 1, 1)));
        assert!(w.events.wants(2, day(2009, 1, 1)) && !w.events.wants(2, day(2015, 1, 1)));
        assert!(!w.events.wants_code(3));
    }

    /// Regression: a partial date counts as the first day of its period
    /// (SPEC.md), so an event of March 2024 is inside a window that ends on
    /// 1 March 2024 and outside one that starts on 2 March. Ordering by
    /// precision dropped it, and an unrelated variable with a wider window
    /// on the same cluster brought it back.
    #[test]
    fn a_partial_date_is_its_first_day_at_the_window_edges() {
        let month = Date::new(2024, 3, 1, Precision::Month).unwrap();
        let year = Date::new(2024, 1, 1, Precision::Year).unwrap();
        let request = Request {
            practice: "A81001".into(),
            tables: vec![],
            code_sets: vec![
                CodeSet {
                    table: Table::Events,
                    codes: vec![1],
                    earliest: None,
                    latest: Some(day(2024, 3, 1)),
                    policy: false,
                },
                CodeSet {
                    table: Table::Events,
                    codes: vec![2],
                    earliest: Some(day(2024, 3, 2)),
                    latest: None,
                    policy: false,
                },
                CodeSet {
                    table: Table::Medications,
                    codes: vec![3],
                    earliest: Some(day(2023, 1, 1)),
                    latest: Some(day(2024, 1, 1)),
                    policy: false,
                },
            ],
        };
        let w = Wanted::from_request(&request);
        assert!(w.events.wants(1, month), "March 2024 is 1 March 2024");
        assert!(!w.events.wants(2, month), "March 2024 is before 2 March");
        assert!(w.medications.wants(3, year), "2024 is 1 January 2024");
    }
}
