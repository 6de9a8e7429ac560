//! Date rules of the language (SPEC.md, "Dates"): comparison of partial
//! dates, arithmetic in days, months and years, and age in whole years.

use gpes_model::{Date, Precision, days_in_month};
use serde::Serialize;
use std::fmt;

/// A date literal or value; serializes as its ISO text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateLit(pub Date);

impl DateLit {
    /// A whole date `YYYY-MM-DD` (literals are always whole dates).
    pub fn parse(s: &str) -> Result<DateLit, String> {
        let d = Date::parse_iso(s).map_err(|e| e.to_string())?;
        if d.precision != Precision::Day {
            return Err("a whole date YYYY-MM-DD is needed".into());
        }
        Ok(DateLit(d))
    }
}

impl fmt::Display for DateLit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for DateLit {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

/// The key dates compare by: a partial date is the first day of its period.
pub fn key(d: &Date) -> gpes_model::FirstDay {
    d.first_day()
}

/// A date as a whole date (the first day of its period for a partial one).
pub fn whole(d: Date) -> Date {
    Date {
        precision: Precision::Day,
        ..d
    }
}

/// Days since 0000-03-01 (proleptic Gregorian), for day arithmetic.
fn to_days(d: &Date) -> i64 {
    let (y, m, dd) = (i64::from(d.year), i64::from(d.month), i64::from(d.day));
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + dd - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe
}

fn from_days(z: i64) -> Option<Date> {
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    Date::ymd(i32::try_from(y).ok()?, m as u8, d as u8).ok()
}

/// `d + n days`; `None` outside years 1 to 9999.
pub fn add_days(d: Date, n: i64) -> Option<Date> {
    from_days(to_days(&whole(d)).checked_add(n)?)
}

/// `d + n months`, the day clamped to the end of the resulting month
/// (2025-03-31 − 1 month = 2025-02-28); `None` outside years 1 to 9999.
pub fn add_months(d: Date, n: i64) -> Option<Date> {
    let d = whole(d);
    let total = i64::from(d.year) * 12 + i64::from(d.month) - 1 + n;
    let year = i32::try_from(total.div_euclid(12)).ok()?;
    let month = (total.rem_euclid(12) + 1) as u8;
    if !(1..=9999).contains(&year) {
        return None;
    }
    let day = d.day.min(days_in_month(year, month));
    Date::ymd(year, month, day).ok()
}

/// `d + n years` is `d + 12n months` (2024-02-29 + 1 year = 2025-02-28).
pub fn add_years(d: Date, n: i64) -> Option<Date> {
    add_months(d, n.checked_mul(12)?)
}

/// Age in whole years on `on` of someone born on `dob`: the birthday on
/// `on` counts; someone born on 29 February has their birthday on 1 March
/// in other years; a partial date of birth is the first day of its period.
/// `None` when `on` is before the date of birth.
pub fn age_on(dob: &Date, on: &Date) -> Option<i64> {
    if key(on) < key(dob) {
        return None;
    }
    let mut age = i64::from(on.year) - i64::from(dob.year);
    if (on.month, on.day) < (dob.month, dob.day) {
        age -= 1;
    }
    Some(age)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        Date::parse_iso(s).expect("date")
    }

    #[test]
    fn arithmetic() {
        let s = |x: Option<Date>| x.map(|x| x.to_string()).unwrap_or_default();
        assert_eq!(s(add_months(d("2025-03-31"), -1)), "2025-02-28");
        assert_eq!(s(add_months(d("2024-03-31"), -1)), "2024-02-29");
        assert_eq!(s(add_months(d("2025-01-31"), 1)), "2025-02-28");
        assert_eq!(s(add_months(d("2025-03-31"), -12)), "2024-03-31");
        assert_eq!(s(add_years(d("2024-02-29"), 1)), "2025-02-28");
        assert_eq!(s(add_years(d("2024-02-29"), -4)), "2020-02-29");
        assert_eq!(s(add_days(d("2024-02-28"), 1)), "2024-02-29");
        assert_eq!(s(add_days(d("2024-03-01"), -1)), "2024-02-29");
        assert_eq!(s(add_days(d("2024-12-31"), 1)), "2025-01-01");
        assert_eq!(s(add_days(d("2025-03-31"), -365)), "2024-03-31");
        assert_eq!(add_days(d("9999-12-31"), 1), None);
        assert_eq!(add_months(d("0001-01-01"), -1), None);
        assert_eq!(s(add_days(d("2024-03"), 0)), "2024-03-01");
    }

    #[test]
    fn ages() {
        assert_eq!(age_on(&d("2000-03-31"), &d("2025-03-31")), Some(25));
        assert_eq!(age_on(&d("2000-04-01"), &d("2025-03-31")), Some(24));
        assert_eq!(age_on(&d("2004-02-29"), &d("2025-02-28")), Some(20));
        assert_eq!(age_on(&d("2004-02-29"), &d("2025-03-01")), Some(21));
        assert_eq!(age_on(&d("2004-02-29"), &d("2024-02-29")), Some(20));
        assert_eq!(age_on(&d("2000-03"), &d("2025-03-01")), Some(25));
        assert_eq!(age_on(&d("2026-01-01"), &d("2025-03-01")), None);
    }
}
