//! Calendar dates with a precision, as records state them.

use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::fmt;

/// How much of a date is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Precision {
    Day,
    Month,
    Year,
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Precision::Day => "day",
            Precision::Month => "month",
            Precision::Year => "year",
        })
    }
}

/// A calendar date exactly as the record states it. A partial date is
/// stored at the first day of its month or year (month 1 and day 1 for
/// precision `Year`, day 1 for precision `Month`).
///
/// `Ord` is (year, month, day), then precision, so that it agrees with `Eq`
/// (March 2024 and 1 March 2024 are different statements). It is for
/// sorting and maps only: **every rule that compares dates** (a query's
/// windows and expressions, a plugin's filter, the host's plausibility
/// check) compares [`Date::first_day`] keys, where a partial date is the
/// first day of its period, as `sdk/query/SPEC.md` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Date {
    pub year: i32,
    pub month: u8,
    pub day: u8,
    pub precision: Precision,
}

/// Why a date is not a calendar date.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DateError {
    #[error("year {0} is outside 1 to 9999")]
    Year(i32),
    #[error("month {0} is outside 1 to 12")]
    Month(u8),
    #[error("{year:04}-{month:02} has no day {day}")]
    Day { year: i32, month: u8, day: u8 },
    #[error("a date of {precision} precision must have {what} 1")]
    Partial {
        precision: Precision,
        what: &'static str,
    },
    #[error("'{0}' is not a date in the form YYYY-MM-DD, YYYY-MM or YYYY")]
    Syntax(String),
}

pub(crate) fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// Days in a month of a year (`month` in 1..=12).
pub fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        _ => 28,
    }
}

impl Date {
    /// A checked date.
    pub fn new(year: i32, month: u8, day: u8, precision: Precision) -> Result<Date, DateError> {
        let d = Date {
            year,
            month,
            day,
            precision,
        };
        d.check().map(|()| d)
    }

    /// A checked whole date.
    pub fn ymd(year: i32, month: u8, day: u8) -> Result<Date, DateError> {
        Date::new(year, month, day, Precision::Day)
    }

    /// Checks that this is a real calendar date and that a partial date
    /// is stored at the start of its period.
    pub fn check(&self) -> Result<(), DateError> {
        if !(1..=9999).contains(&self.year) {
            return Err(DateError::Year(self.year));
        }
        if !(1..=12).contains(&self.month) {
            return Err(DateError::Month(self.month));
        }
        if self.day < 1 || self.day > days_in_month(self.year, self.month) {
            return Err(DateError::Day {
                year: self.year,
                month: self.month,
                day: self.day,
            });
        }
        match self.precision {
            Precision::Day => {}
            Precision::Month if self.day != 1 => {
                return Err(DateError::Partial {
                    precision: self.precision,
                    what: "day",
                });
            }
            Precision::Year if self.month != 1 || self.day != 1 => {
                return Err(DateError::Partial {
                    precision: self.precision,
                    what: "month and day",
                });
            }
            _ => {}
        }
        Ok(())
    }

    /// Parses `YYYY-MM-DD`, `YYYY-MM` (month precision) or `YYYY` (year
    /// precision).
    pub fn parse_iso(s: &str) -> Result<Date, DateError> {
        let syntax = || DateError::Syntax(s.to_owned());
        let num = |part: &str, len: usize| -> Result<u32, DateError> {
            if part.len() == len && part.bytes().all(|b| b.is_ascii_digit()) {
                part.parse().map_err(|_| syntax())
            } else {
                Err(syntax())
            }
        };
        let mut parts = s.split('-');
        let year = num(parts.next().ok_or_else(syntax)?, 4)? as i32;
        let month = parts.next().map(|m| num(m, 2)).transpose()?;
        let day = parts.next().map(|d| num(d, 2)).transpose()?;
        if parts.next().is_some() {
            return Err(syntax());
        }
        match (month, day) {
            (None, _) => Date::new(year, 1, 1, Precision::Year),
            (Some(m), None) => Date::new(year, m as u8, 1, Precision::Month),
            (Some(m), Some(d)) => Date::ymd(year, m as u8, d as u8),
        }
    }
}

/// The day a date stands for in every comparison a rule makes: the first day
/// of its period for a partial date. Two dates with equal keys are the same
/// day to every rule, whatever their precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FirstDay {
    year: i32,
    month: u8,
    day: u8,
}

impl Date {
    /// The comparison key every rule uses (see [`FirstDay`]).
    pub fn first_day(&self) -> FirstDay {
        FirstDay {
            year: self.year,
            month: self.month,
            day: self.day,
        }
    }

    /// Whether this date is on or after `from` and on or before `to`
    /// (inclusive bounds, `None` unbounded), comparing first days.
    pub fn within(&self, from: Option<Date>, to: Option<Date>) -> bool {
        let k = self.first_day();
        from.is_none_or(|f| k >= f.first_day()) && to.is_none_or(|t| k <= t.first_day())
    }
}

impl Ord for Date {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.year, self.month, self.day, self.precision).cmp(&(
            other.year,
            other.month,
            other.day,
            other.precision,
        ))
    }
}

impl PartialOrd for Date {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.precision {
            Precision::Day => write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day),
            Precision::Month => write!(f, "{:04}-{:02}", self.year, self.month),
            Precision::Year => write!(f, "{:04}", self.year),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_precisions() {
        assert_eq!(Date::parse_iso("2024-02-29"), Date::ymd(2024, 2, 29));
        assert_eq!(
            Date::parse_iso("1950-07"),
            Date::new(1950, 7, 1, Precision::Month)
        );
        assert_eq!(
            Date::parse_iso("1950"),
            Date::new(1950, 1, 1, Precision::Year)
        );
        assert_eq!(
            Date::parse_iso("2024-02-29")
                .map(|d| d.to_string())
                .as_deref(),
            Ok("2024-02-29")
        );
    }

    #[test]
    fn refuses_what_is_not_a_date() {
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-00-10",
            "24-01-01",
            "2024-1-01",
            "2024-01-01T00",
            "",
            "abcd",
            "2024-01-01-01",
            "+202-01-01",
        ] {
            assert!(Date::parse_iso(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn partial_dates_compare_as_their_first_day() {
        let month = Date::new(2024, 3, 1, Precision::Month).unwrap();
        let first = Date::ymd(2024, 3, 1).unwrap();
        assert_ne!(month, first, "different statements");
        assert_eq!(
            month.first_day(),
            first.first_day(),
            "the same day to rules"
        );
        assert!(month.within(Some(first), Some(first)));
        assert!(!month.within(Some(Date::ymd(2024, 3, 2).unwrap()), None));
        assert!(month.within(None, Some(first)));
    }

    #[test]
    fn leap_years() {
        assert_eq!(days_in_month(2000, 2), 29);
        assert_eq!(days_in_month(1900, 2), 28);
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(days_in_month(2023, 2), 28);
    }
}
