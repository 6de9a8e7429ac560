//! Turning the text of an expression into sets of minutes, hours and days.

use crate::error::{Field, ScheduleError};

/// The parsed fields of an expression, as bit sets.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Fields {
    /// Bit `m` set: minute `m` (0-59) matches.
    pub minutes: u64,
    /// Bit `h` set: hour `h` (0-23) matches.
    pub hours: u32,
    /// Bit `d` set: day of the month `d` (1-31) matches.
    pub days_of_month: u32,
    /// Bit `m` set: month `m` (1-12) matches.
    pub months: u16,
    /// Bit `d` set: day of the week `d` (0-6, Sunday = 0) matches.
    pub days_of_week: u8,
    /// The day-of-month field does not start with `*` (Vixie cron's rule).
    pub dom_restricted: bool,
    /// The day-of-week field does not start with `*` (Vixie cron's rule).
    pub dow_restricted: bool,
    /// Lower case, names as numbers, single spaces, macros expanded.
    pub normalized: String,
}

const MACROS: &[(&str, &str)] = &[
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
    ("@monthly", "0 0 1 * *"),
    ("@weekly", "0 0 * * 0"),
    ("@daily", "0 0 * * *"),
    ("@midnight", "0 0 * * *"),
    ("@hourly", "0 * * * *"),
];

const MACRO_LIST: &str = "@yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly";

pub(crate) fn parse(expr: &str) -> Result<Fields, ScheduleError> {
    let trimmed = expr.trim();
    if trimmed.is_empty() {
        return Err(ScheduleError::Empty);
    }
    if trimmed.starts_with('@') {
        return parse_macro(trimmed);
    }
    let texts: Vec<&str> = trimmed.split_whitespace().collect();
    let [minute, hour, dom, month, dow] = texts[..] else {
        return Err(ScheduleError::FieldCount { found: texts.len() });
    };

    let (minutes, minute_norm) = parse_field(Field::Minute, minute)?;
    let (hours, hour_norm) = parse_field(Field::Hour, hour)?;
    let (days_of_month, dom_norm) = parse_field(Field::DayOfMonth, dom)?;
    let (months, month_norm) = parse_field(Field::Month, month)?;
    let (days_of_week, dow_norm) = parse_field(Field::DayOfWeek, dow)?;

    // Values were range-checked against each field's maximum, so these
    // narrowings keep every bit. Sunday written as 7 is folded into bit 0.
    let days_of_week = (days_of_week & 0x7f) | ((days_of_week >> 7) & 1);
    Ok(Fields {
        minutes,
        hours: narrow(hours),
        days_of_month: narrow(days_of_month),
        months: narrow(months),
        days_of_week: narrow(days_of_week),
        dom_restricted: !dom.starts_with('*'),
        dow_restricted: !dow.starts_with('*'),
        normalized: format!("{minute_norm} {hour_norm} {dom_norm} {month_norm} {dow_norm}"),
    })
}

fn narrow<T: TryFrom<u64> + Default>(bits: u64) -> T {
    T::try_from(bits).unwrap_or_default()
}

fn parse_macro(text: &str) -> Result<Fields, ScheduleError> {
    let refuse = |problem: String| ScheduleError::Macro {
        text: text.to_owned(),
        problem,
    };
    let mut words = text.split_whitespace();
    let word = words.next().unwrap_or_default().to_ascii_lowercase();
    let expansion = MACROS
        .iter()
        .find(|(name, _)| *name == word)
        .map(|(_, expansion)| *expansion);
    match expansion {
        Some(_) if words.next().is_some() => Err(refuse(format!(
            "a macro stands on its own; write just \"{word}\" or five fields"
        ))),
        Some(expansion) => parse(expansion),
        None if word == "@reboot" => Err(refuse(format!(
            "@reboot is not a time schedule; expected {MACRO_LIST}, or five fields"
        ))),
        None => Err(refuse(format!(
            "unknown macro; expected {MACRO_LIST}, or five fields \
             \"minute hour day-of-month month day-of-week\""
        ))),
    }
}

/// Parses one field into a bit set (bit `v` for value `v`, as written: a
/// day-of-week 7 is bit 7) and its normalized text.
fn parse_field(field: Field, text: &str) -> Result<(u64, String), ScheduleError> {
    let refuse = |problem: String| ScheduleError::Field {
        field,
        text: text.to_owned(),
        problem,
    };
    if let Some(problem) = unsupported_character(field, text) {
        return Err(refuse(problem));
    }
    let mut bits = 0u64;
    let mut normalized = Vec::new();
    for item in text.split(',') {
        let (item_bits, item_text) = parse_item(field, item).map_err(refuse)?;
        bits |= item_bits;
        normalized.push(item_text);
    }
    Ok((bits, normalized.join(",")))
}

fn unsupported_character(field: Field, text: &str) -> Option<String> {
    let c = text
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '*' | ',' | '-' | '/')))?;
    Some(match c {
        '?' => "\"?\" (Quartz's \"no specific value\") is not supported; use * instead".to_owned(),
        '#' => format!(
            "\"#\" (nth weekday of the month) is not supported; {}",
            field.expected()
        ),
        _ => format!(
            "unexpected character {c:?}; expected numbers{}, *, ranges a-b, steps */n or a-b/n \
             and lists a,b,c",
            if field.names().is_empty() {
                ""
            } else {
                " or names"
            }
        ),
    })
}

/// Where a value stands: alone, or as the start or end of a range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Alone,
    RangeStart,
    RangeEnd,
}

fn parse_item(field: Field, item: &str) -> Result<(u64, String), String> {
    if item.is_empty() {
        return Err(format!(
            "empty list item (a doubled, leading or trailing comma); {}",
            field.expected()
        ));
    }
    let (range, step) = match item.split_once('/') {
        Some((range, step)) => (range, Some(parse_step(field, step)?)),
        None => (item, None),
    };
    let (low, high, range_text) = if range == "*" {
        (field.min(), field.max(), "*".to_owned())
    } else if let Some((start, end)) = range.split_once('-') {
        if end.contains('-') {
            return Err(format!(
                "{range:?} is not a range: a range has one start and one end, like 1-5"
            ));
        }
        let low = parse_value(field, start, Place::RangeStart)?;
        let high = parse_value(field, end, Place::RangeEnd)?;
        if low > high {
            return Err(format!(
                "range {range:?} runs backwards: write the smaller value first \
                 (ranges do not wrap around; use a list such as 22-23,0-2)"
            ));
        }
        (low, high, format!("{low}-{high}"))
    } else {
        let value = parse_value(field, range, Place::Alone)?;
        if let Some(step) = step {
            return Err(format!(
                "a step needs a range: write \"{value}-{}/{step}\" or \"*/{step}\"",
                field.max()
            ));
        }
        (value, value, value.to_string())
    };
    let step = step.unwrap_or(1);
    let mut bits = 0u64;
    let mut value = low;
    while value <= high {
        bits |= 1 << value;
        value += step;
    }
    let text = if step == 1 && !item.contains('/') {
        range_text
    } else {
        format!("{range_text}/{step}")
    };
    Ok((bits, text))
}

fn parse_step(field: Field, text: &str) -> Result<u32, String> {
    let max = field.max();
    if text.is_empty() {
        return Err(format!(
            "missing step after \"/\"; steps run from 1 to {max}"
        ));
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "step {text:?} is not a number; steps run from 1 to {max}"
        ));
    }
    match text.parse::<u32>() {
        Ok(0) => Err(format!(
            "a step of 0 never advances; steps run from 1 to {max}"
        )),
        Ok(step) if step <= max => Ok(step),
        _ => Err(format!(
            "step {text} is too large; steps run from 1 to {max}"
        )),
    }
}

fn parse_value(field: Field, text: &str, place: Place) -> Result<u32, String> {
    let expected = field.expected();
    if text.is_empty() {
        return Err(match place {
            Place::Alone => format!("missing value; {expected}"),
            Place::RangeStart | Place::RangeEnd => {
                format!("a range needs a value on both sides of \"-\"; {expected}")
            }
        });
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return match text.parse::<u32>() {
            Ok(value) if (field.min()..=field.max()).contains(&value) => Ok(value),
            _ => Err(format!("{text} is out of range; {expected}")),
        };
    }
    if text.contains('*') {
        return Err(format!(
            "\"*\" stands on its own or before a step (*/n), not inside a range or \
             next to a number; {expected}"
        ));
    }
    let lower = text.to_ascii_lowercase();
    if let Some(index) = field.names().iter().position(|name| *name == lower) {
        let index = u32::try_from(index).unwrap_or_default();
        // "fri-sun" means Friday to Sunday: Sunday closing a range is 7.
        if field == Field::DayOfWeek && index == 0 && place == Place::RangeEnd {
            return Ok(7);
        }
        return Ok(field.min() + index);
    }
    if is_last_or_weekday_syntax(&lower) {
        return Err(format!(
            "\"L\" and \"W\" (last day, nearest weekday) are not supported; {expected}"
        ));
    }
    Err(match field {
        Field::Month => format!("unknown month {text:?}; {expected}"),
        Field::DayOfWeek => format!("unknown day {text:?}; {expected}"),
        Field::Minute | Field::Hour | Field::DayOfMonth => format!(
            "{text:?} is not a number (names are only allowed in the month and \
             day-of-week fields); {expected}"
        ),
    })
}

/// `L`, `LW`, `15W`, `5L` and the like, from Quartz and cronie extensions.
fn is_last_or_weekday_syntax(lower: &str) -> bool {
    if lower == "l" || lower == "lw" || lower == "w" {
        return true;
    }
    match lower.strip_suffix('l').or_else(|| lower.strip_suffix('w')) {
        Some(digits) => !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_become_bit_sets() {
        let fields = parse("*/15 9-17 1,15 jan-mar mon-fri").unwrap();
        assert_eq!(fields.minutes, 1 | 1 << 15 | 1 << 30 | 1 << 45);
        assert_eq!(fields.hours, 0b11_1111_1110_0000_0000);
        assert_eq!(fields.days_of_month, 1 << 1 | 1 << 15);
        assert_eq!(fields.months, 0b1110);
        assert_eq!(fields.days_of_week, 0b11_1110);
        assert!(fields.dom_restricted);
        assert!(fields.dow_restricted);
        assert_eq!(fields.normalized, "*/15 9-17 1,15 1-3 1-5");
    }

    #[test]
    fn sunday_is_0_and_7() {
        for expr in ["0 0 * * 0", "0 0 * * 7", "0 0 * * sun", "0 0 * * SUN"] {
            assert_eq!(parse(expr).unwrap().days_of_week, 1, "{expr}");
        }
        assert_eq!(parse("0 0 * * 5-7").unwrap().days_of_week, 0b110_0001);
        assert_eq!(parse("0 0 * * fri-sun").unwrap().days_of_week, 0b110_0001);
        assert_eq!(parse("0 0 * * 0-7").unwrap().days_of_week, 0x7f);
    }

    #[test]
    fn star_rule_follows_the_literal_field() {
        let fields = parse("0 0 */2 * 1").unwrap();
        assert!(!fields.dom_restricted);
        assert!(fields.dow_restricted);
        let fields = parse("0 0 1-31 * *").unwrap();
        assert!(fields.dom_restricted);
        assert!(!fields.dow_restricted);
    }

    #[test]
    fn l_and_w_are_recognised() {
        for token in ["l", "lw", "w", "15w", "5l"] {
            assert!(is_last_or_weekday_syntax(token), "{token}");
        }
        for token in ["jul", "wed", "x", "l5"] {
            assert!(!is_last_or_weekday_syntax(token), "{token}");
        }
    }
}
