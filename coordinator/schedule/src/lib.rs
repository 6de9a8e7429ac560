//! Five-field cron schedules in Europe/London, with crontab's meaning.
//!
//! This crate parses the cron expressions operators write for collections
//! and answers "when does this next fire?" and "what fired between then and
//! now?". It also provides a [`Clock`] abstraction with a [`ManualClock`]
//! for testing schedulers. It does not run anything, sleep, or keep any
//! state: what to do at a fire time, and remembering what already ran, is
//! the coordinator's business.
//!
//! # Syntax
//!
//! Exactly five whitespace-separated fields, `minute hour day-of-month month
//! day-of-week`:
//!
//! | field        | values                                         |
//! |--------------|------------------------------------------------|
//! | minute       | 0-59                                           |
//! | hour         | 0-23                                           |
//! | day-of-month | 1-31                                           |
//! | month        | 1-12 or `jan`-`dec`                            |
//! | day-of-week  | 0-7 (0 and 7 are Sunday) or `sun`-`sat`        |
//!
//! Each field is `*`, a number, a range `a-b`, a stepped range `*/n` or
//! `a-b/n`, or a comma-separated list of those. Names are case-insensitive
//! and may be used in ranges (`mon-fri`; `sun` closing a range is 7, so
//! `fri-sun` works). The macros `@yearly`/`@annually` (`0 0 1 1 *`),
//! `@monthly` (`0 0 1 * *`), `@weekly` (`0 0 * * 0`), `@daily`/`@midnight`
//! (`0 0 * * *`) and `@hourly` (`0 * * * *`) are accepted on their own.
//!
//! Refused, with a message naming the field, what was wrong and what is
//! expected: six- and seven-field expressions (seconds, years), `@reboot`,
//! Quartz's `?`, `L`, `W` and `#`, out-of-range values, empty fields or list
//! items, steps of 0 (or larger than the field's maximum), a step on a
//! single number (`5/15`: write `5-59/15`), and ranges written backwards
//! (ranges do not wrap around). Parsing never panics.
//!
//! # Which days match
//!
//! As in crontab(5): if both day-of-month and day-of-week are restricted, a
//! day matches when *either* does, so `0 9 1 * 1` fires at 09:00 on the 1st
//! of every month and on every Monday. If either field is unrestricted, only
//! the other one counts. Like Vixie cron and cronie, "unrestricted" means the
//! field *as written* starts with `*`: `*/2` in day-of-month counts as
//! unrestricted, so `0 0 */2 * 1` fires on Mondays that fall on odd days,
//! whereas `0 0 1-31/2 * 1` fires on odd days and on Mondays.
//!
//! # Time zone and clock changes
//!
//! Expressions are matched against wall-clock time in Europe/London
//! ([`TIME_ZONE`]); fire times are returned as UTC instants. Twice a year
//! the wall clock is not a simple copy of real time, and the rules are:
//!
//! * **Spring forward** (last Sunday of March, 01:00 GMT becomes 02:00 BST,
//!   so 01:00-01:59 does not exist). A schedule with a *fixed* hour whose
//!   wall-clock time falls in the gap fires once, at the first instant after
//!   the gap (02:00 BST = 01:00 UTC), as cronie does: `30 1 * * *` fires at
//!   01:00 UTC, and `*/15 1 * * *` fires once at 01:00 UTC, not four times.
//!   If the schedule also matches 02:00 (`0 1,2 * * *`) that is the same
//!   instant and fires once.
//! * **Fall back** (last Sunday of October, 02:00 BST becomes 01:00 GMT, so
//!   01:00-01:59 happens twice). A schedule with a *fixed* hour fires once,
//!   at the first occurrence (BST): `30 1 * * *` fires at 00:30 UTC only.
//! * A schedule whose hour field covers **every hour** (`*`, `*/1`, `0-23`,
//!   ...) follows real time instead: wall-clock times in the spring gap are
//!   simply skipped (the hours either side still fire) and times in the
//!   repeated hour fire at both occurrences. So `0 * * * *` fires on every
//!   real hour, 23 times on the spring day and 25 on the autumn one, and
//!   `* * * * *` fires every real minute, without gaps or duplicates in UTC.
//!
//! A "fixed hour" is any hour field that leaves out at least one hour.
//!
//! # Search bound
//!
//! [`Schedule::next_after`] looks at most [`SEARCH_YEARS`] (400) years
//! ahead. The Gregorian calendar repeats every 400 years, so that search is
//! exhaustive: `0 0 29 2 *` (up to 8 years between fires, e.g. 2096 to 2104)
//! is found, and `0 0 31 2 *`, which never fires, returns `None` quickly:
//! the search steps a month at a time and skips months that cannot match.

mod clock;
mod error;
mod parse;
mod schedule;

pub use clock::{Clock, ManualClock, ScaledClock, SystemClock};
pub use error::{Field, ScheduleError};
pub use schedule::{SEARCH_YEARS, Schedule, TIME_ZONE};
