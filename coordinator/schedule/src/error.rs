//! Why an expression was refused.

use std::fmt;

/// One of the five fields of a cron expression, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// First field: minute, 0-59.
    Minute,
    /// Second field: hour, 0-23.
    Hour,
    /// Third field: day of the month, 1-31.
    DayOfMonth,
    /// Fourth field: month, 1-12 or `jan`-`dec`.
    Month,
    /// Fifth field: day of the week, 0-7 (0 and 7 are Sunday) or `sun`-`sat`.
    DayOfWeek,
}

impl Field {
    /// The five fields in the order they are written.
    pub const ALL: [Field; 5] = [
        Field::Minute,
        Field::Hour,
        Field::DayOfMonth,
        Field::Month,
        Field::DayOfWeek,
    ];

    /// The field's name as used in error messages, e.g. `day-of-week`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Field::Minute => "minute",
            Field::Hour => "hour",
            Field::DayOfMonth => "day-of-month",
            Field::Month => "month",
            Field::DayOfWeek => "day-of-week",
        }
    }

    /// Position in the expression, counting from 1.
    #[must_use]
    pub const fn position(self) -> usize {
        match self {
            Field::Minute => 1,
            Field::Hour => 2,
            Field::DayOfMonth => 3,
            Field::Month => 4,
            Field::DayOfWeek => 5,
        }
    }

    const fn ordinal(self) -> &'static str {
        match self {
            Field::Minute => "1st",
            Field::Hour => "2nd",
            Field::DayOfMonth => "3rd",
            Field::Month => "4th",
            Field::DayOfWeek => "5th",
        }
    }

    /// Smallest value a number in this field may take.
    pub(crate) const fn min(self) -> u32 {
        match self {
            Field::Minute | Field::Hour | Field::DayOfWeek => 0,
            Field::DayOfMonth | Field::Month => 1,
        }
    }

    /// Largest value a number in this field may take.
    pub(crate) const fn max(self) -> u32 {
        match self {
            Field::Minute => 59,
            Field::Hour => 23,
            Field::DayOfMonth => 31,
            Field::Month => 12,
            Field::DayOfWeek => 7,
        }
    }

    /// What this field accepts, for error messages.
    pub(crate) const fn expected(self) -> &'static str {
        match self {
            Field::Minute => "values run from 0 to 59",
            Field::Hour => "values run from 0 to 23",
            Field::DayOfMonth => "values run from 1 to 31",
            Field::Month => "values run from 1 to 12, or jan to dec",
            Field::DayOfWeek => "values run from 0 to 7 (0 and 7 are Sunday), or sun to sat",
        }
    }

    /// Three-letter names accepted in this field; index 0 stands for
    /// [`Field::min`].
    pub(crate) const fn names(self) -> &'static [&'static str] {
        match self {
            Field::Month => &[
                "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
            ],
            Field::DayOfWeek => &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
            Field::Minute | Field::Hour | Field::DayOfMonth => &[],
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why [`Schedule::parse`](crate::Schedule::parse) refused an expression.
///
/// Every message says what was wrong and what is expected instead; field
/// errors also name the field and its position, e.g.
/// `day-of-week field (5th of 5) "8": 8 is out of range; values run from 0 to 7 (0 and 7 are Sunday), or sun to sat`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScheduleError {
    /// The expression is empty or only whitespace.
    #[error(
        "empty cron expression: expected five fields \"minute hour day-of-month month day-of-week\", e.g. \"0 9 * * 1-5\""
    )]
    Empty,
    /// The expression does not have exactly five fields.
    #[error("{}", field_count_message(*found))]
    FieldCount {
        /// How many whitespace-separated fields were found.
        found: usize,
    },
    /// An `@` macro that is unknown, unsupported or not on its own.
    #[error("{text:?}: {problem}")]
    Macro {
        /// The expression as written.
        text: String,
        /// What is wrong with it and what is expected.
        problem: String,
    },
    /// One field is malformed.
    #[error("{} field ({} of 5) {text:?}: {problem}", field.name(), field.ordinal())]
    Field {
        /// Which field.
        field: Field,
        /// The field as written.
        text: String,
        /// What is wrong with it and what is expected.
        problem: String,
    },
}

impl ScheduleError {
    /// The field at fault, if the error concerns a single field.
    #[must_use]
    pub fn field(&self) -> Option<Field> {
        match self {
            ScheduleError::Field { field, .. } => Some(*field),
            _ => None,
        }
    }
}

fn field_count_message(found: usize) -> String {
    let hint = match found {
        6 | 7 => {
            "; six- and seven-field expressions (with seconds or years) are not supported, \
             the finest resolution is one minute"
        }
        _ => "",
    };
    format!(
        "cron expression has {found} field{}: expected exactly five, \
         \"minute hour day-of-month month day-of-week\", e.g. \"0 9 * * 1-5\"{hint}",
        if found == 1 { "" } else { "s" }
    )
}
