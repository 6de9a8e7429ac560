//! Payment calculation in the shape of the Quality and Outcomes
//! Framework. For each indicator of a collection's rule and each practice
//! with an approved result:
//!
//! - achievement = numerator / denominator (0 when the denominator is 0);
//! - the fraction of the points earned = (achievement% - lower) /
//!   (upper - lower), held between 0 and 1;
//! - the Contractor Population Index (CPI) = list size / national average
//!   list size;
//! - the Adjusted Practice Disease Factor (APDF), for prevalence-adjusted
//!   indicators = (register / list size) / national prevalence, else 1;
//! - pence = points x fraction x price per point x CPI x APDF.
//!
//! Every step is an exact fraction of integers (no binary floating point);
//! the money is rounded once, half up to the whole penny, at the end.
//! Points are shown to two places for people; the money is worked from
//! the exact value. (The published framework also adjusts prevalence for
//! small registers and uses the list size of 1 January; a rule names the
//! populations it pays on, and those refinements are left to the query.)

use super::Refusal;
use gpes_protocol::{IndicatorPayment, PaymentLine, PaymentRule, Purpose};
use gpes_query::{Answer, Output, QuerySpec, ResultOutput};

/// How the money is rounded, as the API states it.
pub const ROUNDING: &str = "exact fractions throughout; each line rounded once, half up, to the whole penny; the total is the sum of the lines";

/// A rule must fit its collection: a payment collection, populations the
/// query gives, thresholds with lower below upper and at most 100, a
/// national prevalence with each register (and only then), non-zero
/// divisors.
pub fn check_rule(rule: &PaymentRule, spec: &QuerySpec, purpose: Purpose) -> Result<(), Refusal> {
    let bad = |what: String| Err(Refusal::Invalid(format!("the payment rule: {what}")));
    if purpose != Purpose::Payment {
        return bad("only a payment collection carries one".into());
    }
    let Output::Aggregate { populations, .. } = &spec.output else {
        return bad("it pays on counts: the query must give an aggregate answer".into());
    };
    let known = |name: &str| populations.iter().any(|p| p == name);
    if rule.pence_per_point == 0 || rule.national_list_size == 0 {
        return bad("pence_per_point and national_list_size must be more than 0".into());
    }
    if !known(&rule.list_size_population) {
        return bad(format!(
            "the list size population '{}' is not one the query gives ({})",
            rule.list_size_population,
            populations.join(", ")
        ));
    }
    if rule.indicators.is_empty() {
        return bad("it names no indicator".into());
    }
    for i in &rule.indicators {
        for name in [
            Some(&i.numerator),
            Some(&i.denominator),
            i.register.as_ref(),
        ]
        .into_iter()
        .flatten()
        {
            if !known(name) {
                return bad(format!(
                    "{}: '{name}' is not a population the query gives ({})",
                    i.indicator,
                    populations.join(", ")
                ));
            }
        }
        if i.lower_threshold >= i.upper_threshold || i.upper_threshold > 100 {
            return bad(format!(
                "{}: the thresholds must be 0 <= lower < upper <= 100, not {} and {}",
                i.indicator, i.lower_threshold, i.upper_threshold
            ));
        }
        match (&i.register, i.national_prevalence_ppm) {
            (Some(_), Some(ppm)) if ppm > 0 && ppm <= 1_000_000 => {}
            (None, None) => {}
            _ => {
                return bad(format!(
                    "{}: a prevalence-adjusted indicator names both its register and the national prevalence (1 to 1000000 parts per million); others neither",
                    i.indicator
                ));
            }
        }
        if i.points == 0 {
            return bad(format!("{}: it is worth no points", i.indicator));
        }
    }
    Ok(())
}

/// An exact non-negative fraction.
#[derive(Debug, Clone, Copy)]
struct Frac {
    n: u128,
    d: u128,
}

impl Frac {
    fn new(n: u128, d: u128) -> Frac {
        Frac { n, d }
    }
    fn times(self, o: Frac) -> Result<Frac, String> {
        let g1 = gcd(self.n, o.d).max(1);
        let g2 = gcd(o.n, self.d).max(1);
        let n = (self.n / g1).checked_mul(o.n / g2);
        let d = (self.d / g2).checked_mul(o.d / g1);
        match (n, d) {
            (Some(n), Some(d)) => Ok(Frac { n, d }),
            _ => Err("the numbers are too large to pay exactly".into()),
        }
    }
    /// Rounded half up to a whole number.
    fn round(self) -> u128 {
        (2 * self.n + self.d) / (2 * self.d)
    }
    /// To `places` decimal places, rounded half up, as text.
    fn show(self, places: u32) -> String {
        let scale = 10u128.pow(places);
        let scaled = Frac::new(self.n * scale, self.d).round();
        format!(
            "{}.{:0width$}",
            scaled / scale,
            scaled % scale,
            width = places as usize
        )
    }
}

fn gcd(a: u128, b: u128) -> u128 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// The counts one line is worked from.
#[derive(Debug, Clone, Copy)]
pub struct Counts {
    pub numerator: u64,
    pub denominator: u64,
    pub list_size: u64,
    pub register: Option<u64>,
}

/// One practice's payment for one indicator.
pub fn line(
    rule: &PaymentRule,
    indicator: &IndicatorPayment,
    practice: &str,
    c: Counts,
) -> Result<PaymentLine, String> {
    let (lower, upper) = (
        u128::from(indicator.lower_threshold),
        u128::from(indicator.upper_threshold),
    );
    // fraction = (100·num/den - lower) / (upper - lower), within [0, 1].
    let fraction = if c.denominator == 0 {
        Frac::new(0, 1)
    } else {
        let (num, den) = (u128::from(c.numerator), u128::from(c.denominator));
        let achieved = 100 * num;
        let floor = lower * den;
        if achieved <= floor {
            Frac::new(0, 1)
        } else if achieved >= upper * den {
            Frac::new(1, 1)
        } else {
            Frac::new(achieved - floor, (upper - lower) * den)
        }
    };
    let points = Frac::new(u128::from(indicator.points), 1).times(fraction)?;
    if c.list_size == 0 {
        return Err(format!("practice {practice} has a list size of 0"));
    }
    let cpi = Frac::new(u128::from(c.list_size), u128::from(rule.national_list_size));
    let apdf = match (c.register, indicator.national_prevalence_ppm) {
        (Some(register), Some(ppm)) => Frac::new(
            u128::from(register) * 1_000_000,
            u128::from(c.list_size) * u128::from(ppm),
        ),
        _ => Frac::new(1, 1),
    };
    let pence = points
        .times(Frac::new(u128::from(rule.pence_per_point), 1))?
        .times(cpi)?
        .times(apdf)?;
    let pence_whole =
        u64::try_from(pence.round()).map_err(|_| "the payment is too large".to_owned())?;
    let achievement = if c.denominator == 0 {
        "no denominator".to_owned()
    } else {
        format!(
            "{}%",
            Frac::new(100 * u128::from(c.numerator), u128::from(c.denominator)).show(2)
        )
    };
    let working = format!(
        "achievement {}/{} = {achievement} (thresholds {lower}% to {upper}%): {} of {} points; \
         CPI {}/{} = {}; APDF {}; {} points x {}p x {} x {} = {}p, rounded half up to {}p",
        c.numerator,
        c.denominator,
        points.show(2),
        indicator.points,
        c.list_size,
        rule.national_list_size,
        cpi.show(4),
        match (c.register, indicator.national_prevalence_ppm) {
            (Some(r), Some(ppm)) => format!(
                "({r}/{} = {}%) / {}% = {}",
                c.list_size,
                Frac::new(100 * u128::from(r), u128::from(c.list_size)).show(2),
                Frac::new(u128::from(ppm), 10_000).show(2),
                apdf.show(4)
            ),
            _ => "1 (not prevalence-adjusted)".to_owned(),
        },
        points.show(4),
        rule.pence_per_point,
        cpi.show(4),
        apdf.show(4),
        pence.show(4),
        pence_whole,
    );
    Ok(PaymentLine {
        practice: practice.to_owned(),
        indicator: indicator.indicator.clone(),
        numerator: c.numerator,
        denominator: c.denominator,
        list_size: c.list_size,
        register: c.register,
        points_achieved: points.show(2),
        pence: pence_whole,
        working,
    })
}

/// Every indicator's line for a practice's approved answer.
pub fn lines_for(
    rule: &PaymentRule,
    practice: &str,
    answer: &Answer,
) -> Result<Vec<PaymentLine>, String> {
    let ResultOutput::Aggregate(result) = &answer.output else {
        return Err("the answer gives no counts".into());
    };
    let count = |name: &str| -> Result<u64, String> {
        let p = result
            .populations
            .iter()
            .find(|p| p.population == name)
            .ok_or_else(|| format!("the answer has no population '{name}'"))?;
        p.count.ok_or_else(|| {
            format!("'{name}' was suppressed: payment counts must be exact (the site's policy keeps them so)")
        })
    };
    let list_size = count(&rule.list_size_population)?;
    rule.indicators
        .iter()
        .map(|i| {
            let counts = Counts {
                numerator: count(&i.numerator)?,
                denominator: count(&i.denominator)?,
                list_size,
                register: i.register.as_deref().map(count).transpose()?,
            };
            line(rule, i, practice, counts)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lines of `tests/data/payments-worked.csv`, worked by hand,
    /// to the penny.
    #[test]
    fn lines_equal_the_table_worked_by_hand() {
        let table = include_str!("../../../../tests/data/payments-worked.csv");
        let mut checked = 0;
        for row in table.lines().filter(|l| !l.starts_with('#')).skip(1) {
            let f: Vec<&str> = row.split(',').collect();
            assert_eq!(f.len(), 12, "{row}");
            let n = |i: usize| f[i].parse::<u64>().expect("a number");
            let opt = |i: usize| (!f[i].is_empty()).then(|| n(i));
            let indicator = IndicatorPayment {
                indicator: f[1].into(),
                numerator: "NUM".into(),
                denominator: "DEN".into(),
                points: u32::try_from(n(2)).expect("points"),
                lower_threshold: u32::try_from(n(3)).expect("lower"),
                upper_threshold: u32::try_from(n(4)).expect("upper"),
                register: opt(8).map(|_| "REG".into()),
                national_prevalence_ppm: opt(9),
            };
            let rule = PaymentRule {
                pence_per_point: 22549,
                national_list_size: 9600,
                list_size_population: "LIST".into(),
                indicators: vec![indicator.clone()],
            };
            let got = line(
                &rule,
                &indicator,
                f[0],
                Counts {
                    numerator: n(5),
                    denominator: n(6),
                    list_size: n(7),
                    register: opt(8),
                },
            )
            .expect("a line");
            assert_eq!(got.points_achieved, f[10], "{row}: {}", got.working);
            assert_eq!(got.pence, n(11), "{row}: {}", got.working);
            checked += 1;
        }
        assert_eq!(checked, 7);
    }

    #[test]
    fn halves_round_up_and_fractions_show_exactly() {
        assert_eq!(Frac::new(5, 2).round(), 3);
        assert_eq!(Frac::new(3, 2).round(), 2);
        assert_eq!(Frac::new(1, 3).show(2), "0.33");
        assert_eq!(Frac::new(2, 3).show(2), "0.67");
        assert_eq!(Frac::new(17, 1).show(2), "17.00");
    }
}
