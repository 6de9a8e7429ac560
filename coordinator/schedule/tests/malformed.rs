//! Expressions that must be refused, with a message that names the field,
//! says what was wrong and what is expected; and no input may panic.

use chrono::{DateTime, TimeDelta, Utc};
use gpes_schedule::{Field, Schedule, ScheduleError};

/// (expression, field at fault if any, fragment the message must contain)
const CASES: &[(&str, Option<Field>, &str)] = &[
    // Whole-expression problems.
    ("", None, "empty cron expression"),
    ("   \t ", None, "empty cron expression"),
    ("* * * *", None, "has 4 fields: expected exactly five"),
    ("*", None, "has 1 field: expected exactly five"),
    ("0 * * * * *", None, "six- and seven-field expressions"),
    ("0 0 12 * * ? 2026", None, "has 7 fields"),
    ("0 0 * * * * * *", None, "has 8 fields"),
    ("@reboot", None, "@reboot is not a time schedule"),
    ("@often", None, "unknown macro; expected @yearly"),
    ("@daily 5", None, "a macro stands on its own"),
    ("@", None, "unknown macro"),
    // Out of range, one per field.
    (
        "60 * * * *",
        Some(Field::Minute),
        "60 is out of range; values run from 0 to 59",
    ),
    (
        "* 24 * * *",
        Some(Field::Hour),
        "24 is out of range; values run from 0 to 23",
    ),
    (
        "* * 0 * *",
        Some(Field::DayOfMonth),
        "0 is out of range; values run from 1 to 31",
    ),
    ("* * 32 * *", Some(Field::DayOfMonth), "32 is out of range"),
    (
        "* * * 0 *",
        Some(Field::Month),
        "0 is out of range; values run from 1 to 12, or jan to dec",
    ),
    ("* * * 13 *", Some(Field::Month), "13 is out of range"),
    (
        "* * * * 8",
        Some(Field::DayOfWeek),
        "values run from 0 to 7 (0 and 7 are Sunday)",
    ),
    ("0-60 * * * *", Some(Field::Minute), "60 is out of range"),
    ("1,2,99 * * * *", Some(Field::Minute), "99 is out of range"),
    (
        "99999999999999999999 * * * *",
        Some(Field::Minute),
        "is out of range",
    ),
    // Quartz and cronie extensions.
    ("? * * * *", Some(Field::Minute), "\"?\""),
    ("0 0 ? * mon", Some(Field::DayOfMonth), "\"?\""),
    ("0 0 L * *", Some(Field::DayOfMonth), "\"L\" and \"W\""),
    ("0 0 15W * *", Some(Field::DayOfMonth), "\"L\" and \"W\""),
    ("0 0 LW * *", Some(Field::DayOfMonth), "\"L\" and \"W\""),
    ("0 0 * * 5L", Some(Field::DayOfWeek), "\"L\" and \"W\""),
    ("0 0 * * mon#2", Some(Field::DayOfWeek), "\"#\""),
    ("0 0 * * 1#2", Some(Field::DayOfWeek), "nth weekday"),
    // Steps.
    ("*/0 * * * *", Some(Field::Minute), "a step of 0"),
    ("0 1-5/0 * * *", Some(Field::Hour), "a step of 0"),
    (
        "*/60 * * * *",
        Some(Field::Minute),
        "step 60 is too large; steps run from 1 to 59",
    ),
    ("*/ * * * *", Some(Field::Minute), "missing step"),
    ("*/x * * * *", Some(Field::Minute), "is not a number"),
    ("*/2/3 * * * *", Some(Field::Minute), "is not a number"),
    (
        "5/15 * * * *",
        Some(Field::Minute),
        "a step needs a range: write \"5-59/15\" or \"*/15\"",
    ),
    // Ranges.
    ("5-1 * * * *", Some(Field::Minute), "runs backwards"),
    ("0 22-2 * * *", Some(Field::Hour), "runs backwards"),
    ("0 0 * * sat-mon", Some(Field::DayOfWeek), "runs backwards"),
    ("0 0 * dec-jan *", Some(Field::Month), "runs backwards"),
    (
        "1-2-3 * * * *",
        Some(Field::Minute),
        "one start and one end",
    ),
    ("-5 * * * *", Some(Field::Minute), "both sides"),
    ("* * * jan- *", Some(Field::Month), "both sides"),
    (
        "*-5 * * * *",
        Some(Field::Minute),
        "\"*\" stands on its own",
    ),
    ("** * * * *", Some(Field::Minute), "\"*\" stands on its own"),
    // Lists and empty items.
    ("1,,2 * * * *", Some(Field::Minute), "empty list item"),
    ("1, * * * *", Some(Field::Minute), "empty list item"),
    ("0 ,3 * * *", Some(Field::Hour), "empty list item"),
    (", * * * *", Some(Field::Minute), "empty list item"),
    // Names where they do not belong, or unknown.
    ("* * * foo *", Some(Field::Month), "unknown month \"foo\""),
    ("* * * january *", Some(Field::Month), "unknown month"),
    (
        "* * * * funday",
        Some(Field::DayOfWeek),
        "unknown day \"funday\"",
    ),
    ("* * * mon *", Some(Field::Month), "unknown month"),
    ("* * * * jan", Some(Field::DayOfWeek), "unknown day"),
    (
        "mon * * * *",
        Some(Field::Minute),
        "names are only allowed in the month and day-of-week",
    ),
    ("0 noon * * *", Some(Field::Hour), "is not a number"),
    // Stray characters.
    (
        "0 0 * * 1.5",
        Some(Field::DayOfWeek),
        "unexpected character '.'",
    ),
    ("0 +1 * * *", Some(Field::Hour), "unexpected character '+'"),
    (
        "0 0 * * \u{0661}",
        Some(Field::DayOfWeek),
        "unexpected character",
    ),
    (
        "0 0 1;2 * *",
        Some(Field::DayOfMonth),
        "unexpected character ';'",
    ),
];

fn ordinal(field: Field) -> &'static str {
    ["1st", "2nd", "3rd", "4th", "5th"][field.position() - 1]
}

#[test]
fn malformed_expressions_are_refused_naming_the_field() {
    for &(expr, field, fragment) in CASES {
        let error = match Schedule::parse(expr) {
            Ok(schedule) => panic!("{expr:?} should be refused, parsed as {schedule}"),
            Err(error) => error,
        };
        let message = error.to_string();
        assert_eq!(error.field(), field, "{expr:?}: {message}");
        if let Some(field) = field {
            let prefix = format!("{} field ({} of 5) ", field.name(), ordinal(field));
            assert!(message.starts_with(&prefix), "{expr:?}: {message}");
        }
        assert!(
            message.contains(fragment),
            "{expr:?}: message {message:?} lacks {fragment:?}"
        );
    }
}

#[test]
fn day_of_week_out_of_range_message_in_full() {
    let error = Schedule::parse("0 9 * * 8").unwrap_err();
    assert_eq!(
        error.to_string(),
        "day-of-week field (5th of 5) \"8\": 8 is out of range; \
         values run from 0 to 7 (0 and 7 are Sunday), or sun to sat"
    );
    assert_eq!(
        error,
        ScheduleError::Field {
            field: Field::DayOfWeek,
            text: "8".to_owned(),
            problem: "8 is out of range; values run from 0 to 7 (0 and 7 are Sunday), \
                      or sun to sat"
                .to_owned(),
        }
    );
}

#[test]
fn the_first_bad_field_is_reported() {
    let error = Schedule::parse("60 24 32 13 8").unwrap_err();
    assert_eq!(error.field(), Some(Field::Minute));
    let error = Schedule::parse("0 24 32 13 8").unwrap_err();
    assert_eq!(error.field(), Some(Field::Hour));
}

#[test]
fn field_names_and_positions() {
    let names: Vec<_> = Field::ALL
        .iter()
        .map(|f| (f.name(), f.position()))
        .collect();
    assert_eq!(
        names,
        [
            ("minute", 1),
            ("hour", 2),
            ("day-of-month", 3),
            ("month", 4),
            ("day-of-week", 5)
        ]
    );
}

/// A small deterministic generator (xorshift64*), to avoid a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(n).unwrap()).unwrap()
    }
}

/// Throws random and mutated strings at the parser; whatever parses must
/// evaluate, display and re-parse without panicking.
#[test]
fn no_input_panics() {
    let alphabet: Vec<char> =
        "0123456789 0123456789 **,,--// ?LW#@ abcdefjlmnorstuwyADFJMNOS\t\u{e9}\u{0661}.+"
            .chars()
            .collect();
    let seeds = [
        "0 9 1 * 1",
        "*/15 1 * * *",
        "0 0 29 2 *",
        "10-30/10 8 * jan-mar mon-fri",
        "@daily",
        "5,10-12 0 */2 * 7",
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut inputs: Vec<String> = Vec::new();
    for _ in 0..20_000 {
        let length = rng.below(24);
        inputs.push(
            (0..length)
                .map(|_| alphabet[rng.below(alphabet.len())])
                .collect(),
        );
    }
    for _ in 0..20_000 {
        let mut chars: Vec<char> = seeds[rng.below(seeds.len())].chars().collect();
        for _ in 0..=rng.below(3) {
            let at = rng.below(chars.len() + 1);
            match rng.below(3) {
                0 if at < chars.len() => {
                    chars.remove(at);
                }
                1 if at < chars.len() => chars[at] = alphabet[rng.below(alphabet.len())],
                _ => chars.insert(at, alphabet[rng.below(alphabet.len())]),
            }
        }
        inputs.push(chars.into_iter().collect());
    }
    let at: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-10-25T00:30:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let mut accepted = 0;
    for input in &inputs {
        match Schedule::parse(input) {
            Ok(schedule) => {
                accepted += 1;
                let next = schedule.next_after(at);
                assert!(next.is_none_or(|next| next > at), "{input:?}");
                let _ = schedule
                    .fires_between(at, at + TimeDelta::days(3))
                    .take(5)
                    .count();
                let again = Schedule::parse(&schedule.to_string())
                    .unwrap_or_else(|e| panic!("{input:?} displays as unparsable: {e}"));
                assert_eq!(again.to_string(), schedule.to_string());
                assert_eq!(again.next_after(at), next, "{input:?}");
            }
            Err(error) => {
                let message = error.to_string();
                assert!(!message.is_empty());
                if let Some(field) = error.field() {
                    assert!(message.starts_with(field.name()), "{input:?}: {message}");
                }
            }
        }
    }
    // The mutations keep some inputs valid, so both paths were exercised.
    assert!(accepted > 100, "only {accepted} accepted");
}
