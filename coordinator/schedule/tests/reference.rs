//! Random expressions checked against a slow, independent model: walk real
//! time minute by minute in UTC, read the London wall clock, and apply the
//! documented rules directly.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, NaiveDateTime, TimeDelta, TimeZone, Timelike, Utc};
use gpes_schedule::{Schedule, TIME_ZONE};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `low..=high`.
    fn between(&mut self, low: u32, high: u32) -> u32 {
        low + u32::try_from(self.next() % u64::from(high - low + 1)).unwrap()
    }

    fn chance(&mut self, percent: u32) -> bool {
        self.between(1, 100) <= percent
    }
}

/// One generated field: its text and the values it stands for.
struct GenField {
    text: String,
    values: BTreeSet<u32>,
}

fn gen_field(rng: &mut Rng, low: u32, high: u32, star_percent: u32) -> GenField {
    if rng.chance(star_percent) {
        if rng.chance(70) {
            return GenField {
                text: "*".into(),
                values: (low..=high).collect(),
            };
        }
        let step = rng.between(1, 4);
        return GenField {
            text: format!("*/{step}"),
            values: (low..=high).step_by(step as usize).collect(),
        };
    }
    let mut texts = Vec::new();
    let mut values = BTreeSet::new();
    for _ in 0..rng.between(1, 3) {
        let a = rng.between(low, high);
        let b = rng.between(a, (a + 5).min(high));
        match rng.between(0, 2) {
            0 => {
                texts.push(a.to_string());
                values.insert(a);
            }
            1 => {
                texts.push(format!("{a}-{b}"));
                values.extend(a..=b);
            }
            _ => {
                let step = rng.between(1, 3);
                texts.push(format!("{a}-{b}/{step}"));
                values.extend((a..=b).step_by(step as usize));
            }
        }
    }
    GenField {
        text: texts.join(","),
        values,
    }
}

struct Model {
    minutes: BTreeSet<u32>,
    hours: BTreeSet<u32>,
    days_of_month: BTreeSet<u32>,
    months: BTreeSet<u32>,
    days_of_week: BTreeSet<u32>,
    dom_star: bool,
    dow_star: bool,
}

impl Model {
    fn matches(&self, local: NaiveDateTime) -> bool {
        let dom = self.days_of_month.contains(&local.day());
        let dow = self
            .days_of_week
            .contains(&local.weekday().num_days_from_sunday());
        let day = if self.dom_star || self.dow_star {
            dom && dow
        } else {
            dom || dow
        };
        day && self.minutes.contains(&local.minute())
            && self.hours.contains(&local.hour())
            && self.months.contains(&local.month())
    }

    fn every_hour(&self) -> bool {
        self.hours.len() == 24
    }

    /// The documented rules, applied to each real minute in `(from, to]`.
    fn fires(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        let reading = |at: DateTime<Utc>| at.with_timezone(&TIME_ZONE).naive_local();
        let mut fires = Vec::new();
        let mut at = from + TimeDelta::minutes(1);
        while at <= to {
            let local = reading(at);
            let previous = reading(at - TimeDelta::minutes(1));
            // The wall clock read `local` earlier too: the repeated hour.
            let second_occurrence = match TIME_ZONE.from_local_datetime(&local) {
                chrono::LocalResult::Ambiguous(first, _) => first != at,
                _ => false,
            };
            let mut fire = self.matches(local) && (!second_occurrence || self.every_hour());
            // The wall clock jumped forward: skipped times fire now, once,
            // for fixed-hour schedules.
            if !self.every_hour() {
                let mut skipped = previous + TimeDelta::minutes(1);
                while skipped < local {
                    fire |= self.matches(skipped);
                    skipped += TimeDelta::minutes(1);
                }
            }
            if fire {
                fires.push(at);
            }
            at += TimeDelta::minutes(1);
        }
        fires
    }
}

fn generate(rng: &mut Rng) -> (String, Model) {
    let minute = gen_field(rng, 0, 59, 30);
    // Hours near the clock changes most of the time.
    let hour = if rng.chance(60) {
        gen_field(rng, 0, 3, 0)
    } else {
        gen_field(rng, 0, 23, 50)
    };
    let dom = gen_field(rng, 1, 31, 70);
    let month = gen_field(rng, 1, 12, 80);
    let dow = gen_field(rng, 0, 7, 60);
    let expr = format!(
        "{} {} {} {} {}",
        minute.text, hour.text, dom.text, month.text, dow.text
    );
    let model = Model {
        minutes: minute.values,
        hours: hour.values,
        days_of_month: dom.values,
        months: month.values,
        days_of_week: dow.values.iter().map(|d| d % 7).collect(),
        dom_star: dom.text.starts_with('*'),
        dow_star: dow.text.starts_with('*'),
    };
    (expr, model)
}

fn check(expr: &str, model: &Model, from: DateTime<Utc>, to: DateTime<Utc>) -> usize {
    let schedule = Schedule::parse(expr).unwrap_or_else(|e| panic!("{expr:?}: {e}"));
    let actual: Vec<_> = schedule.fires_between(from, to).collect();
    let expected = model.fires(from, to);
    assert_eq!(actual, expected, "{expr:?} in ({from}, {to}]");
    actual.len()
}

#[test]
fn random_schedules_match_the_model_across_clock_changes() {
    let changes = [
        Utc.with_ymd_and_hms(2025, 3, 30, 1, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2025, 10, 26, 1, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2026, 3, 29, 1, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2026, 10, 25, 1, 0, 0).unwrap(),
    ];
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    let mut fired = 0;
    for round in 0..120 {
        let (expr, model) = generate(&mut rng);
        let change = changes[round % changes.len()];
        fired += check(
            &expr,
            &model,
            change - TimeDelta::hours(26),
            change + TimeDelta::hours(26),
        );
    }
    // Not a vacuous comparison of empty lists.
    assert!(fired > 1000, "only {fired} fires");
}

#[test]
fn random_schedules_match_the_model_over_a_winter_month() {
    let mut rng = Rng(0xfeed_beef_dead_f00d);
    let from = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let to = Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap();
    let mut fired = 0;
    for _ in 0..10 {
        let (expr, model) = generate(&mut rng);
        fired += check(&expr, &model, from, to);
    }
    assert!(fired > 100, "only {fired} fires");
}
