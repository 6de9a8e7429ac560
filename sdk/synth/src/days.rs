//! Whole dates as day numbers, for arithmetic (Howard Hinnant's
//! `days_from_civil` / `civil_from_days`, proleptic Gregorian calendar).

use gpes_model::Date;

/// Days since 1970-01-01 of a date (its first day, if partial).
pub fn to_days(d: Date) -> i64 {
    let y = i64::from(d.year) - i64::from(d.month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(d.month);
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + i64::from(d.day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The whole date of a day number.
pub fn from_days(z: i64) -> Date {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
    Date::ymd(year, month, day).expect("civil_from_days yields calendar dates")
}

/// Whole years from `birth` to `on` (age on a date).
pub fn age_on(birth: Date, on: Date) -> i32 {
    let mut age = on.year - birth.year;
    if (on.month, on.day) < (birth.month, birth.day) {
        age -= 1;
    }
    age
}

/// The same day `years` earlier (29 February becomes 28 February).
pub fn years_before(d: Date, years: i32) -> Date {
    let y = d.year - years;
    let day = d.day.min(gpes_model::days_in_month(y, d.month));
    Date::ymd(y, d.month, day).expect("clamped to the month")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let epoch = Date::ymd(1970, 1, 1).expect("valid");
        assert_eq!(to_days(epoch), 0);
        let leap = Date::ymd(2024, 2, 29).expect("valid");
        assert_eq!(from_days(to_days(leap)), leap);
        for z in -40_000..40_000 {
            assert_eq!(to_days(from_days(z)), z);
        }
        let a = Date::ymd(1960, 4, 12).expect("valid");
        let b = Date::ymd(2025, 3, 31).expect("valid");
        assert_eq!(age_on(a, b), 64);
        assert_eq!(
            years_before(leap, 1),
            Date::ymd(2023, 2, 28).expect("valid")
        );
    }
}
