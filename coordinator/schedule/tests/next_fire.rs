//! When schedules fire, in UTC, including across Europe/London's clock
//! changes (2025: 30 March and 26 October; 2026: 29 March and 25 October).

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use gpes_schedule::Schedule;

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("bad test time {text:?}: {e}"))
        .with_timezone(&Utc)
}

fn schedule(expr: &str) -> Schedule {
    Schedule::parse(expr).unwrap_or_else(|e| panic!("{expr:?} should parse: {e}"))
}

/// Successive `next_after` results, starting strictly after `after`.
fn next_fires(expr: &str, after: &str, count: usize) -> Vec<DateTime<Utc>> {
    let schedule = schedule(expr);
    std::iter::successors(schedule.next_after(utc(after)), |t| schedule.next_after(*t))
        .take(count)
        .collect()
}

struct Case {
    what: &'static str,
    expr: &'static str,
    after: &'static str,
    expected: &'static [&'static str],
}

const CASES: &[Case] = &[
    // --- the basics, in winter (GMT = UTC) and summer (BST = UTC+1) ---
    Case {
        what: "every minute",
        expr: "* * * * *",
        after: "2026-01-15T10:00:00Z",
        expected: &[
            "2026-01-15T10:01:00Z",
            "2026-01-15T10:02:00Z",
            "2026-01-15T10:03:00Z",
        ],
    },
    Case {
        what: "strictly after: seconds past a fire time",
        expr: "* * * * *",
        after: "2026-01-15T10:00:30Z",
        expected: &["2026-01-15T10:01:00Z", "2026-01-15T10:02:00Z"],
    },
    Case {
        what: "hourly",
        expr: "0 * * * *",
        after: "2026-01-15T10:00:00Z",
        expected: &["2026-01-15T11:00:00Z", "2026-01-15T12:00:00Z"],
    },
    Case {
        what: "@hourly",
        expr: "@hourly",
        after: "2026-07-15T10:20:00Z",
        expected: &["2026-07-15T11:00:00Z", "2026-07-15T12:00:00Z"],
    },
    Case {
        what: "weekdays at nine, over a weekend in winter",
        expr: "0 9 * * 1-5",
        after: "2026-01-16T09:00:00Z",
        expected: &["2026-01-19T09:00:00Z", "2026-01-20T09:00:00Z"],
    },
    Case {
        what: "weekdays at nine local in summer is 08:00 UTC",
        expr: "0 9 * * 1-5",
        after: "2026-07-03T12:00:00Z",
        expected: &["2026-07-06T08:00:00Z", "2026-07-07T08:00:00Z"],
    },
    Case {
        what: "@daily is local midnight",
        expr: "@daily",
        after: "2026-07-15T12:00:00Z",
        expected: &["2026-07-15T23:00:00Z", "2026-07-16T23:00:00Z"],
    },
    // --- steps and lists ---
    Case {
        what: "every quarter hour",
        expr: "*/15 * * * *",
        after: "2026-01-15T10:07:00Z",
        expected: &[
            "2026-01-15T10:15:00Z",
            "2026-01-15T10:30:00Z",
            "2026-01-15T10:45:00Z",
            "2026-01-15T11:00:00Z",
        ],
    },
    Case {
        what: "stepped range",
        expr: "10-30/10 8 * * *",
        after: "2026-01-15T08:15:00Z",
        expected: &[
            "2026-01-15T08:20:00Z",
            "2026-01-15T08:30:00Z",
            "2026-01-16T08:10:00Z",
        ],
    },
    Case {
        what: "every six hours",
        expr: "0 */6 * * *",
        after: "2026-01-15T07:00:00Z",
        expected: &[
            "2026-01-15T12:00:00Z",
            "2026-01-15T18:00:00Z",
            "2026-01-16T00:00:00Z",
        ],
    },
    Case {
        what: "list of hours",
        expr: "0 8,12,18 * * *",
        after: "2026-01-15T12:00:00Z",
        expected: &[
            "2026-01-15T18:00:00Z",
            "2026-01-16T08:00:00Z",
            "2026-01-16T12:00:00Z",
        ],
    },
    Case {
        what: "list mixing values and ranges",
        expr: "5,10-12 0 * * *",
        after: "2026-01-15T00:00:00Z",
        expected: &[
            "2026-01-15T00:05:00Z",
            "2026-01-15T00:10:00Z",
            "2026-01-15T00:11:00Z",
            "2026-01-15T00:12:00Z",
            "2026-01-16T00:05:00Z",
        ],
    },
    // --- names ---
    Case {
        what: "month names, any case (1 July local midnight is 30 June 23:00 UTC)",
        expr: "0 0 1 jan,JUL *",
        after: "2026-01-15T00:00:00Z",
        expected: &["2026-06-30T23:00:00Z", "2027-01-01T00:00:00Z"],
    },
    Case {
        what: "day names",
        expr: "30 6 * * SAT,sun",
        after: "2026-01-15T00:00:00Z",
        expected: &[
            "2026-01-17T06:30:00Z",
            "2026-01-18T06:30:00Z",
            "2026-01-24T06:30:00Z",
        ],
    },
    Case {
        what: "month name range with a day name",
        expr: "0 12 * feb-Mar wed",
        after: "2026-01-15T00:00:00Z",
        expected: &["2026-02-04T12:00:00Z", "2026-02-11T12:00:00Z"],
    },
    // --- day-of-month OR day-of-week ---
    Case {
        // Thu 1 Jan is the 1st but not a Monday; Mon 5 and Mon 12 are Mondays
        // but not the 1st; Fri 2 to Sun 4 and Tue 6 to Sun 11 are neither.
        what: "both day fields restricted: the 1st OR Mondays",
        expr: "0 9 1 * 1",
        after: "2025-12-29T12:00:00Z",
        expected: &[
            "2026-01-01T09:00:00Z",
            "2026-01-05T09:00:00Z",
            "2026-01-12T09:00:00Z",
        ],
    },
    Case {
        what: "both day fields restricted, Monday the 1st fires once",
        expr: "0 9 1 * 1",
        after: "2026-05-25T12:00:00Z",
        expected: &["2026-06-01T08:00:00Z", "2026-06-08T08:00:00Z"],
    },
    Case {
        what: "day-of-month starting with * is unrestricted (Vixie): Mondays on odd days",
        expr: "0 0 */2 * 1",
        after: "2026-01-01T00:00:00Z",
        expected: &[
            "2026-01-05T00:00:00Z",
            "2026-01-19T00:00:00Z",
            "2026-02-09T00:00:00Z",
        ],
    },
    Case {
        what: "the same days written 1-31/2 are restricted: odd days OR Mondays",
        expr: "0 0 1-31/2 * 1",
        after: "2026-01-01T00:00:00Z",
        expected: &[
            "2026-01-03T00:00:00Z",
            "2026-01-05T00:00:00Z",
            "2026-01-07T00:00:00Z",
            "2026-01-09T00:00:00Z",
            "2026-01-11T00:00:00Z",
            "2026-01-12T00:00:00Z",
            "2026-01-13T00:00:00Z",
        ],
    },
    Case {
        what: "day-of-week * leaves day-of-month alone",
        expr: "0 0 13 * *",
        after: "2026-01-01T00:00:00Z",
        expected: &["2026-01-13T00:00:00Z", "2026-02-13T00:00:00Z"],
    },
    // --- leap years ---
    Case {
        what: "29 February only in leap years",
        expr: "0 0 29 2 *",
        after: "2026-01-01T00:00:00Z",
        expected: &["2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"],
    },
    Case {
        what: "29 February across 2100, which is not a leap year (8-year gap)",
        expr: "0 0 29 2 *",
        after: "2096-03-01T00:00:00Z",
        expected: &["2104-02-29T00:00:00Z"],
    },
    // --- Sunday as 0 and 7 ---
    Case {
        what: "day 7 is Sunday",
        expr: "0 12 * * 7",
        after: "2026-01-15T00:00:00Z",
        expected: &["2026-01-18T12:00:00Z", "2026-01-25T12:00:00Z"],
    },
    Case {
        what: "day 0 is Sunday",
        expr: "0 12 * * 0",
        after: "2026-01-15T00:00:00Z",
        expected: &["2026-01-18T12:00:00Z", "2026-01-25T12:00:00Z"],
    },
    Case {
        what: "range ending at 7: Friday to Sunday",
        expr: "0 12 * * 5-7",
        after: "2026-01-15T00:00:00Z",
        expected: &[
            "2026-01-16T12:00:00Z",
            "2026-01-17T12:00:00Z",
            "2026-01-18T12:00:00Z",
            "2026-01-23T12:00:00Z",
        ],
    },
    Case {
        what: "range ending at sun: Friday to Sunday",
        expr: "0 12 * * fri-sun",
        after: "2026-01-15T00:00:00Z",
        expected: &[
            "2026-01-16T12:00:00Z",
            "2026-01-17T12:00:00Z",
            "2026-01-18T12:00:00Z",
            "2026-01-23T12:00:00Z",
        ],
    },
    // --- spring forward, Sunday 29 March 2026: 01:00-01:59 local is skipped ---
    Case {
        what: "2026 spring: skipped 01:30 fires once at the end of the gap",
        expr: "30 1 * * *",
        after: "2026-03-28T12:00:00Z",
        expected: &["2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"],
    },
    Case {
        what: "2026 spring: four skipped quarter hours fire once",
        expr: "*/15 1 * * *",
        after: "2026-03-29T00:00:00Z",
        expected: &[
            "2026-03-29T01:00:00Z",
            "2026-03-30T00:00:00Z",
            "2026-03-30T00:15:00Z",
        ],
    },
    Case {
        what: "2026 spring: just after the gap-end fire, the next is the next day",
        expr: "30 1 * * *",
        after: "2026-03-29T01:00:00Z",
        expected: &["2026-03-30T00:30:00Z"],
    },
    Case {
        what: "2026 spring: 02:00 exists (BST) and fires normally",
        expr: "0 2 * * *",
        after: "2026-03-28T12:00:00Z",
        expected: &["2026-03-29T01:00:00Z", "2026-03-30T01:00:00Z"],
    },
    Case {
        what: "2026 spring: skipped 01:00 and real 02:00 are the same instant, fire once",
        expr: "0 1,2 * * *",
        after: "2026-03-28T12:00:00Z",
        expected: &[
            "2026-03-29T01:00:00Z",
            "2026-03-30T00:00:00Z",
            "2026-03-30T01:00:00Z",
        ],
    },
    Case {
        what: "2026 spring: hourly fires every real hour",
        expr: "0 * * * *",
        after: "2026-03-28T23:30:00Z",
        expected: &[
            "2026-03-29T00:00:00Z",
            "2026-03-29T01:00:00Z",
            "2026-03-29T02:00:00Z",
        ],
    },
    Case {
        what: "2026 spring: half past every hour, no extra fire at the gap end",
        expr: "30 * * * *",
        after: "2026-03-28T23:45:00Z",
        expected: &[
            "2026-03-29T00:30:00Z",
            "2026-03-29T01:30:00Z",
            "2026-03-29T02:30:00Z",
        ],
    },
    Case {
        what: "2026 spring: every minute is continuous in UTC",
        expr: "* * * * *",
        after: "2026-03-29T00:58:00Z",
        expected: &[
            "2026-03-29T00:59:00Z",
            "2026-03-29T01:00:00Z",
            "2026-03-29T01:01:00Z",
        ],
    },
    // --- fall back, Sunday 25 October 2026: 01:00-01:59 local happens twice ---
    Case {
        what: "2026 autumn: repeated 01:30 fires once, at its first (BST) occurrence",
        expr: "30 1 * * *",
        after: "2026-10-24T12:00:00Z",
        expected: &["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"],
    },
    Case {
        what: "2026 autumn: fixed hour with steps fires in the first 01:xx only",
        expr: "*/30 1 * * *",
        after: "2026-10-24T12:00:00Z",
        expected: &[
            "2026-10-25T00:00:00Z",
            "2026-10-25T00:30:00Z",
            "2026-10-26T01:00:00Z",
        ],
    },
    Case {
        what: "2026 autumn: inside the second 01:xx a fixed-hour 01:00 waits for tomorrow",
        expr: "0 1 * * *",
        after: "2026-10-25T00:30:00Z",
        expected: &["2026-10-26T01:00:00Z"],
    },
    Case {
        what: "2026 autumn: 02:00 (GMT) fires once",
        expr: "0 2 * * *",
        after: "2026-10-24T12:00:00Z",
        expected: &["2026-10-25T02:00:00Z", "2026-10-26T02:00:00Z"],
    },
    Case {
        what: "2026 autumn: hourly fires every real hour",
        expr: "0 * * * *",
        after: "2026-10-24T22:30:00Z",
        expected: &[
            "2026-10-24T23:00:00Z",
            "2026-10-25T00:00:00Z",
            "2026-10-25T01:00:00Z",
            "2026-10-25T02:00:00Z",
        ],
    },
    Case {
        what: "2026 autumn: from late in the first 01:xx, the second 01:30 is next",
        expr: "30 * * * *",
        after: "2026-10-25T00:45:00Z",
        expected: &["2026-10-25T01:30:00Z", "2026-10-25T02:30:00Z"],
    },
    Case {
        what: "2026 autumn: every minute is continuous in UTC",
        expr: "* * * * *",
        after: "2026-10-25T00:58:00Z",
        expected: &[
            "2026-10-25T00:59:00Z",
            "2026-10-25T01:00:00Z",
            "2026-10-25T01:01:00Z",
        ],
    },
    // --- 2025: spring forward 30 March, fall back 26 October ---
    Case {
        what: "2025 spring: skipped 01:30 fires at the end of the gap",
        expr: "30 1 * * *",
        after: "2025-03-29T12:00:00Z",
        expected: &["2025-03-30T01:00:00Z", "2025-03-31T00:30:00Z"],
    },
    Case {
        what: "2025 spring: hourly fires every real hour",
        expr: "0 * * * *",
        after: "2025-03-29T23:30:00Z",
        expected: &[
            "2025-03-30T00:00:00Z",
            "2025-03-30T01:00:00Z",
            "2025-03-30T02:00:00Z",
        ],
    },
    Case {
        what: "2025 spring: every five minutes in the skipped hour fires once",
        expr: "*/5 1 * * sun",
        after: "2025-03-29T12:00:00Z",
        expected: &["2025-03-30T01:00:00Z", "2025-04-06T00:00:00Z"],
    },
    Case {
        what: "2025 autumn: repeated 01:30 fires once (BST)",
        expr: "30 1 * * *",
        after: "2025-10-25T12:00:00Z",
        expected: &["2025-10-26T00:30:00Z", "2025-10-27T01:30:00Z"],
    },
    Case {
        what: "2025 autumn: hourly fires every real hour",
        expr: "0 * * * *",
        after: "2025-10-25T22:30:00Z",
        expected: &[
            "2025-10-25T23:00:00Z",
            "2025-10-26T00:00:00Z",
            "2025-10-26T01:00:00Z",
            "2025-10-26T02:00:00Z",
        ],
    },
];

#[test]
fn next_fire_times() {
    for case in CASES {
        let expected: Vec<DateTime<Utc>> = case.expected.iter().map(|t| utc(t)).collect();
        let actual = next_fires(case.expr, case.after, expected.len());
        assert_eq!(
            actual, expected,
            "{}: {:?} after {}",
            case.what, case.expr, case.after
        );
    }
}

#[test]
fn equivalent_spellings_fire_alike() {
    let groups: &[&[&str]] = &[
        &["0 12 * * 0", "0 12 * * 7", "0 12 * * sun", "0 12 * * SUN"],
        &[
            "0 9 * * 1-5",
            "0 9 * * mon-fri",
            "0 9 * * 1,2,3,4,5",
            "0 9 * * Mon-Fri",
        ],
        &["0 0 1 1 *", "@yearly", "@annually", "0 0 1 jan *"],
        &["0 0 * * *", "@daily", "@midnight", "0 0 * * 0-7"],
        &["0 0 * * 0", "@weekly"],
        &["0 0 1 * *", "@monthly"],
        &["0 * * * *", "0 0-23 * * *", "0 */1 * * *"],
    ];
    for group in groups {
        let expected = next_fires(group[0], "2026-03-27T00:00:00Z", 40);
        for expr in &group[1..] {
            assert_eq!(
                next_fires(expr, "2026-03-27T00:00:00Z", 40),
                expected,
                "{expr:?} should fire like {:?}",
                group[0]
            );
        }
    }
}

#[test]
fn never_firing_schedules_return_none_quickly() {
    for expr in [
        "0 0 31 2 *",
        "0 0 30 2 *",
        "0 0 31 4,6,9,11 *",
        "0 0 30,31 feb *",
    ] {
        let schedule = schedule(expr);
        let started = Instant::now();
        assert_eq!(
            schedule.next_after(utc("2026-01-01T00:00:00Z")),
            None,
            "{expr}"
        );
        let took = started.elapsed();
        assert!(took < Duration::from_secs(1), "{expr} took {took:?}");
        assert_eq!(
            schedule
                .fires_between(utc("2026-01-01T00:00:00Z"), utc("2036-01-01T00:00:00Z"))
                .count(),
            0,
            "{expr}"
        );
    }
}

#[test]
fn extreme_instants_do_not_panic() {
    let instants = [
        DateTime::<Utc>::MIN_UTC,
        DateTime::<Utc>::MAX_UTC,
        utc("1847-12-01T00:00:00Z"),
        utc("1941-05-04T00:00:00Z"),
        utc("0000-01-01T00:00:00Z"),
    ];
    for expr in [
        "* * * * *",
        "30 1 * * *",
        "0 0 29 2 *",
        "0 0 31 2 *",
        "0 9 1 * 1",
    ] {
        let schedule = schedule(expr);
        for at in instants {
            if let Some(next) = schedule.next_after(at) {
                assert!(next > at, "{expr} after {at}: {next}");
            }
            let _ = schedule
                .fires_between(at, DateTime::<Utc>::MAX_UTC)
                .take(3)
                .count();
        }
    }
    assert_eq!(
        schedule("* * * * *").next_after(DateTime::<Utc>::MAX_UTC),
        None
    );
}

#[test]
fn fires_between_is_half_open_and_ordered() {
    let schedule = schedule("0 * * * *");
    let fires: Vec<_> = schedule
        .fires_between(utc("2026-01-15T10:00:00Z"), utc("2026-01-15T13:00:00Z"))
        .collect();
    assert_eq!(
        fires,
        vec![
            utc("2026-01-15T11:00:00Z"),
            utc("2026-01-15T12:00:00Z"),
            utc("2026-01-15T13:00:00Z"),
        ]
    );
    let at = utc("2026-01-15T10:00:00Z");
    assert_eq!(schedule.fires_between(at, at).count(), 0);
    assert_eq!(
        schedule
            .fires_between(utc("2026-01-15T13:00:00Z"), utc("2026-01-15T10:00:00Z"))
            .count(),
        0
    );
}

#[test]
fn fires_between_across_clock_changes() {
    struct Span {
        expr: &'static str,
        from: &'static str,
        to: &'static str,
        count: usize,
    }
    let spans = [
        // Local Sunday 29 March 2026 has 23 hours.
        Span {
            expr: "0 * * * *",
            from: "2026-03-28T23:59:00Z",
            to: "2026-03-29T22:59:00Z",
            count: 23,
        },
        // Local Sunday 25 October 2026 has 25 hours.
        Span {
            expr: "0 * * * *",
            from: "2026-10-24T22:59:00Z",
            to: "2026-10-25T23:59:00Z",
            count: 25,
        },
        Span {
            expr: "* * * * *",
            from: "2026-03-29T00:00:00Z",
            to: "2026-03-29T02:00:00Z",
            count: 120,
        },
        Span {
            expr: "* * * * *",
            from: "2026-10-25T00:00:00Z",
            to: "2026-10-25T02:00:00Z",
            count: 120,
        },
        // Once a day, every day of 2026, clock changes included.
        Span {
            expr: "30 1 * * *",
            from: "2025-12-31T23:59:00Z",
            to: "2026-12-31T23:59:00Z",
            count: 365,
        },
        // Four a day, but one on the spring day.
        Span {
            expr: "*/15 1 * * *",
            from: "2025-12-31T23:59:00Z",
            to: "2026-12-31T23:59:00Z",
            count: 365 * 4 - 3,
        },
    ];
    for span in spans {
        let schedule = schedule(span.expr);
        let fires: Vec<_> = schedule
            .fires_between(utc(span.from), utc(span.to))
            .collect();
        assert_eq!(
            fires.len(),
            span.count,
            "{} in ({}, {}]",
            span.expr,
            span.from,
            span.to
        );
        for pair in fires.windows(2) {
            assert!(
                pair[0] < pair[1],
                "{}: {} then {}",
                span.expr,
                pair[0],
                pair[1]
            );
        }
        if span.expr == "* * * * *" {
            for pair in fires.windows(2) {
                assert_eq!(
                    pair[1] - pair[0],
                    chrono::TimeDelta::minutes(1),
                    "{}",
                    pair[0]
                );
            }
        }
        // The same fires, one next_after at a time.
        let stepped: Vec<_> = std::iter::successors(schedule.next_after(utc(span.from)), |t| {
            schedule.next_after(*t)
        })
        .take_while(|t| *t <= utc(span.to))
        .collect();
        assert_eq!(fires, stepped, "{}", span.expr);
    }
}

#[test]
fn source_and_display() {
    let cases = [
        ("0 9 * JAN Mon-Fri", "0 9 * 1 1-5"),
        ("@daily", "0 0 * * *"),
        ("@Weekly", "0 0 * * 0"),
        ("  */5\t1-3/1 * *   7 ", "*/5 1-3/1 * * 7"),
        ("0 0 * * fri-sun", "0 0 * * 5-7"),
        ("0,30 */2 1-31/2 jul-aug,dec *", "0,30 */2 1-31/2 7-8,12 *"),
        ("00 09 01 01 00", "0 9 1 1 0"),
    ];
    for (source, normalized) in cases {
        let parsed = schedule(source);
        assert_eq!(parsed.source(), source);
        assert_eq!(parsed.to_string(), normalized, "{source:?}");
        let reparsed = schedule(&parsed.to_string());
        assert_eq!(reparsed.to_string(), normalized);
        assert_eq!(
            next_fires(normalized, "2026-01-01T00:00:00Z", 30),
            next_fires(source, "2026-01-01T00:00:00Z", 30),
            "{source:?}"
        );
    }
    let from_str: Schedule = "0 9 * * 1-5".parse().unwrap();
    assert_eq!(from_str.source(), "0 9 * * 1-5");
}
