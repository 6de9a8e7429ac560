//! Evaluating a schedule: when does it next fire?

use std::fmt;
use std::str::FromStr;

use chrono::{
    DateTime, Datelike, LocalResult, NaiveDate, NaiveDateTime, TimeDelta, TimeZone, Timelike, Utc,
};
use chrono_tz::Tz;

use crate::error::ScheduleError;
use crate::parse::{Fields, parse};

/// The time zone every schedule is evaluated in.
pub const TIME_ZONE: Tz = chrono_tz::Europe::London;

/// How far ahead [`Schedule::next_after`] searches, in years.
///
/// The Gregorian calendar repeats itself (dates and weekdays alike) every
/// 400 years, so a schedule that does not fire within 400 years never fires.
pub const SEARCH_YEARS: u32 = 400;

/// Europe/London's offset from UTC has never been below -00:01:15 (local
/// mean time, before December 1847), so a local time `L` never fires later
/// than `L + 75s`; candidates before `after - EARLY_SLACK` cannot fire after
/// `after`.
const EARLY_SLACK: TimeDelta = TimeDelta::minutes(2);

/// Europe/London's offset from UTC has never exceeded +2 hours (British
/// Double Summer Time), so a local time `L` never fires earlier than
/// `L - 2h`. Used to bound the search for a skipped time's gap end.
const LATE_SLACK_SECONDS: i64 = 3 * 3600;

/// A parsed five-field cron expression, evaluated in Europe/London.
///
/// See the [crate documentation](crate) for the syntax and for what happens
/// when the clocks change.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Schedule {
    source: String,
    fields: Fields,
}

impl Schedule {
    /// Parses a five-field cron expression (`minute hour day-of-month month
    /// day-of-week`) or one of the macros `@yearly`, `@annually`,
    /// `@monthly`, `@weekly`, `@daily`, `@midnight` and `@hourly`.
    ///
    /// # Errors
    ///
    /// [`ScheduleError`] naming the field at fault, what was wrong and what
    /// is expected instead.
    pub fn parse(expr: &str) -> Result<Schedule, ScheduleError> {
        Ok(Schedule {
            source: expr.to_owned(),
            fields: parse(expr)?,
        })
    }

    /// The expression exactly as given to [`Schedule::parse`].
    #[must_use]
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The first fire time strictly after `after`, or `None` if the schedule
    /// never fires (e.g. `0 0 31 2 *`) or the next fire would be beyond the
    /// dates chrono can represent.
    ///
    /// Searches at most [`SEARCH_YEARS`] ahead, which is exhaustive: `None`
    /// means "never", not "not soon".
    #[must_use]
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.next_until(after, search_limit(after))
    }

    /// Every fire time in `(from, to]`, in order: what a scheduler that woke
    /// up at `to`, having last looked at `from`, has missed. Empty if `to`
    /// is not after `from`.
    pub fn fires_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> impl Iterator<Item = DateTime<Utc>> {
        // Local dates run at most a day ahead of UTC ones; a day of margin
        // keeps every fire up to `to` within the search.
        let to_limit = to
            .date_naive()
            .checked_add_days(chrono::Days::new(2))
            .unwrap_or(NaiveDate::MAX);
        let mut cursor = Some(from);
        std::iter::from_fn(move || {
            let after = cursor?;
            let next = self
                .next_until(after, to_limit.min(search_limit(after)))
                .filter(|next| *next <= to);
            cursor = next;
            next
        })
    }

    /// The first fire strictly after `after` whose local date is no later
    /// than `limit`.
    fn next_until(&self, after: DateTime<Utc>, limit: NaiveDate) -> Option<DateTime<Utc>> {
        let start = after
            .naive_utc()
            .checked_sub_signed(EARLY_SLACK)
            .unwrap_or(NaiveDateTime::MIN);
        let mut cursor = ceil_to_minute(start)?;
        let mut best: Option<DateTime<Utc>> = None;
        // Walk the matching local times in order. Their fire instants only
        // go out of order within a repeated (fall-back) hour, where the
        // second occurrence of 01:10 comes after the first of 01:50; so keep
        // going until a local time that is not repeated fires after `after`:
        // nothing later in local time can fire earlier than that.
        while let Some(local) = self.next_local_match(cursor, limit) {
            let (instants, repeated) = self.instants(local);
            let mut fired_after = false;
            for instant in instants.into_iter().flatten() {
                if instant > after {
                    fired_after = true;
                    if best.is_none_or(|best| instant < best) {
                        best = Some(instant);
                    }
                }
            }
            if fired_after && !repeated {
                break;
            }
            match local.checked_add_signed(TimeDelta::minutes(1)) {
                Some(next) => cursor = next,
                None => break,
            }
        }
        best
    }

    /// Fires for hour-wildcard schedules follow the real clock; fixed-hour
    /// ones fire once per local day. See the crate documentation.
    fn every_hour(&self) -> bool {
        self.fields.hours == (1 << 24) - 1
    }

    /// The instants at which matching local time `local` fires, and whether
    /// `local` occurs twice that day.
    fn instants(&self, local: NaiveDateTime) -> ([Option<DateTime<Utc>>; 2], bool) {
        match TIME_ZONE.from_local_datetime(&local) {
            LocalResult::Single(at) => ([Some(at.with_timezone(&Utc)), None], false),
            LocalResult::Ambiguous(first, second) => {
                let second = self.every_hour().then(|| second.with_timezone(&Utc));
                ([Some(first.with_timezone(&Utc)), second], true)
            }
            LocalResult::None if self.every_hour() => ([None, None], false),
            LocalResult::None => ([gap_end(local), None], false),
        }
    }

    /// The first matching local time at or after `from` (whole minutes) on a
    /// date no later than `limit`.
    fn next_local_match(&self, from: NaiveDateTime, limit: NaiveDate) -> Option<NaiveDateTime> {
        let start_date = from.date();
        let start_minute = from.hour() * 60 + from.minute();
        let (mut year, mut month) = (start_date.year(), start_date.month());
        loop {
            let first = NaiveDate::from_ymd_opt(year, month, 1)?;
            if first > limit {
                return None;
            }
            if self.fields.months & (1 << month) != 0 {
                let mut days = self.matching_days(first);
                if first == start_date.with_day(1)? {
                    days &= u32::MAX << start_date.day();
                }
                while days != 0 {
                    let day = days.trailing_zeros();
                    days &= days - 1;
                    let date = first.with_day(day)?;
                    if date > limit {
                        return None;
                    }
                    let from_minute = if date == start_date { start_minute } else { 0 };
                    if let Some(minute) = self.next_minute_of_day(from_minute) {
                        return date.and_hms_opt(minute / 60, minute % 60, 0);
                    }
                }
            }
            (year, month) = if month == 12 {
                (year.checked_add(1)?, 1)
            } else {
                (year, month + 1)
            };
        }
    }

    /// Bit `d` set: day `d` of the month starting on `first` matches, by
    /// crontab's rule: when both day fields are restricted (neither starts
    /// with `*`) either may match, otherwise both must.
    fn matching_days(&self, first: NaiveDate) -> u32 {
        let length = u32::from(first.num_days_in_month());
        let in_month = u32::try_from((1u64 << (length + 1)) - 2).unwrap_or(u32::MAX - 1);
        let by_month_day = self.fields.days_of_month & in_month;
        let first_weekday = first.weekday().num_days_from_sunday();
        let mut by_weekday = 0u32;
        for day in 1..=length {
            if self.fields.days_of_week & (1 << ((first_weekday + day - 1) % 7)) != 0 {
                by_weekday |= 1 << day;
            }
        }
        if self.fields.dom_restricted && self.fields.dow_restricted {
            by_month_day | by_weekday
        } else {
            by_month_day & by_weekday
        }
    }

    /// The first matching minute of the day (minutes since midnight) at or
    /// after `from`.
    fn next_minute_of_day(&self, from: u32) -> Option<u32> {
        let (from_hour, from_minute) = (from / 60, from % 60);
        (from_hour..24)
            .filter(|hour| self.fields.hours & (1 << hour) != 0)
            .find_map(|hour| {
                let skip = if hour == from_hour { from_minute } else { 0 };
                let minutes = self.fields.minutes & (u64::MAX << skip);
                (minutes != 0).then(|| hour * 60 + minutes.trailing_zeros())
            })
    }
}

/// The first instant after the clock-change gap that swallowed `local`.
///
/// Binary search over seconds for the first instant whose local reading is
/// later than `local`: before the gap the reading is earlier, from the end
/// of the gap on it is later.
fn gap_end(local: NaiveDateTime) -> Option<DateTime<Utc>> {
    let reading = |timestamp: i64| -> Option<i64> {
        let at = DateTime::from_timestamp(timestamp, 0)?;
        let offset = TIME_ZONE.offset_from_utc_datetime(&at.naive_utc());
        let offset = chrono::Offset::fix(&offset).local_minus_utc();
        timestamp.checked_add(i64::from(offset))
    };
    let target = local.and_utc().timestamp();
    let mut low = target.checked_sub(LATE_SLACK_SECONDS)?;
    let mut high = target.checked_add(EARLY_SLACK.num_seconds())?;
    if reading(low)? >= target || reading(high)? <= target {
        return None;
    }
    while high - low > 1 {
        let middle = low + (high - low) / 2;
        if reading(middle)? > target {
            high = middle;
        } else {
            low = middle;
        }
    }
    // A time that exists is read at some instant: not a gap after all.
    if reading(low)? == target {
        return None;
    }
    DateTime::from_timestamp(high, 0)
}

/// The last local date [`Schedule::next_after`] looks at.
fn search_limit(after: DateTime<Utc>) -> NaiveDate {
    after
        .date_naive()
        .checked_add_months(chrono::Months::new(12 * SEARCH_YEARS))
        .unwrap_or(NaiveDate::MAX)
}

fn ceil_to_minute(at: NaiveDateTime) -> Option<NaiveDateTime> {
    let floor = at.with_second(0)?.with_nanosecond(0)?;
    if floor == at {
        Some(floor)
    } else {
        floor.checked_add_signed(TimeDelta::minutes(1))
    }
}

impl fmt::Display for Schedule {
    /// The normalized expression: single spaces, names as numbers, macros
    /// expanded, e.g. `@daily` shows as `0 0 * * *` and `0 9 * JAN Mon-Fri`
    /// as `0 9 * 1 1-5`. It parses back to the same schedule.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.fields.normalized)
    }
}

impl FromStr for Schedule {
    type Err = ScheduleError;

    fn from_str(expr: &str) -> Result<Self, Self::Err> {
        Schedule::parse(expr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    fn local(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, mo, d)
            .unwrap()
            .and_hms_opt(h, mi, 0)
            .unwrap()
    }

    #[test]
    fn gap_end_is_the_first_instant_of_summer_time() {
        assert_eq!(
            gap_end(local(2026, 3, 29, 1, 0)),
            Some(utc(2026, 3, 29, 1, 0))
        );
        assert_eq!(
            gap_end(local(2026, 3, 29, 1, 59)),
            Some(utc(2026, 3, 29, 1, 0))
        );
        assert_eq!(
            gap_end(local(2025, 3, 30, 1, 30)),
            Some(utc(2025, 3, 30, 1, 0))
        );
        // Not in a gap at all.
        assert_eq!(gap_end(local(2026, 3, 29, 2, 0)), None);
    }

    #[test]
    fn matching_days_applies_the_or_rule() {
        // June 2026 starts on a Monday.
        let june = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
        let or = Schedule::parse("0 9 1 * 1").unwrap().matching_days(june);
        assert_eq!(or, 1 << 1 | 1 << 8 | 1 << 15 | 1 << 22 | 1 << 29);
        let and = Schedule::parse("0 9 */2 * 1").unwrap().matching_days(june);
        assert_eq!(and, 1 << 1 | 1 << 15 | 1 << 29);
        let all = Schedule::parse("0 9 * * *").unwrap().matching_days(june);
        assert_eq!(all, ((1u32 << 31) - 1) & !1);
    }

    #[test]
    fn next_minute_of_day() {
        let schedule = Schedule::parse("15,45 9,17 * * *").unwrap();
        assert_eq!(schedule.next_minute_of_day(0), Some(9 * 60 + 15));
        assert_eq!(schedule.next_minute_of_day(9 * 60 + 15), Some(9 * 60 + 15));
        assert_eq!(schedule.next_minute_of_day(9 * 60 + 16), Some(9 * 60 + 45));
        assert_eq!(schedule.next_minute_of_day(9 * 60 + 46), Some(17 * 60 + 15));
        assert_eq!(schedule.next_minute_of_day(17 * 60 + 46), None);
    }
}
