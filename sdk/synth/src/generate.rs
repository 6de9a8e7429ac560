//! The generator: one patient at a time, each from its own PRNG stream, so
//! that a patient's records depend only on (seed, patient number). The
//! figures used are in the crate's README.

use crate::codes::*;
use crate::days::{age_on, from_days, to_days, years_before};
use crate::rng::Rng;
use crate::{Practice, PracticeConfig};
use gpes_model::{Date, Event, Medication, Patient, Registration, RegistrationType, Sex};
use std::collections::HashSet;

const YEAR: i64 = 365;

/// Age bands (first age, width in years) and their share of England's
/// population in tenths of a percent (ONS mid-2022 estimates, rounded).
const AGE_BANDS: [(i32, i32, u32); 19] = [
    (0, 5, 54),
    (5, 5, 60),
    (10, 5, 62),
    (15, 5, 59),
    (20, 5, 62),
    (25, 5, 66),
    (30, 5, 69),
    (35, 5, 68),
    (40, 5, 65),
    (45, 5, 62),
    (50, 5, 68),
    (55, 5, 68),
    (60, 5, 60),
    (65, 5, 51),
    (70, 5, 48),
    (75, 5, 41),
    (80, 5, 26),
    (85, 5, 16),
    (90, 15, 9),
];

/// The patient's story at this practice, in tenths of a percent of records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Regular registration covering the reference date.
    Registered,
    /// Deregistered before the reference date and not back.
    Left,
    /// Died in the five years before the reference date.
    Died,
    /// Temporary resident here, registered elsewhere.
    Temporary,
    /// Registrations at other practices only (an export oddity).
    ElsewhereOnly,
}

const KINDS: [(Kind, u32); 5] = [
    (Kind::Registered, 892),
    (Kind::Left, 60),
    (Kind::Died, 30),
    (Kind::Temporary, 15),
    (Kind::ElsewhereOnly, 3),
];

/// Other practices that patients come from and go to.
const OTHER_PRACTICES: [&str; 5] = ["B82002", "C83003", "D81004", "E82005", "F81006"];

/// Outward codes and inward letters for made-up postcodes.
const INWARD_LETTERS: &[u8] = b"ABDEFGHJLNPQRSTUWXYZ";

/// Generates the practice `config` describes.
///
/// # Panics
///
/// When [`PracticeConfig::check`] refuses the configuration.
pub fn generate(config: &PracticeConfig) -> Practice {
    if let Err(e) = config.check() {
        panic!("gpes-synth: bad configuration: {e}");
    }
    let others: Vec<&str> = OTHER_PRACTICES
        .iter()
        .copied()
        .filter(|p| *p != config.practice)
        .collect();
    let mut practice = Practice {
        practice: config.practice.clone(),
        reference_date: config.reference_date,
        patients: Vec::with_capacity(config.patients),
        registrations: Vec::with_capacity(config.patients * 5 / 4),
        events: Vec::with_capacity(config.patients * 6),
        medications: Vec::with_capacity(config.patients * 2),
    };
    let mut nhs = NhsNumbers::new(config.seed);
    for i in 0..config.patients {
        let rng = Rng::stream(config.seed, i as u64 + 1);
        let care = Rng::stream(config.seed ^ CARE_STREAMS, i as u64 + 1);
        let frailty = Rng::stream(config.seed ^ FRAILTY_STREAMS, i as u64 + 1);
        let more = Rng::stream(config.seed ^ MORE_STREAMS, i as u64 + 1);
        let id = format!("p{:06}", i + 1);
        let nhs_number = nhs.next();
        PatientGen {
            rng,
            care,
            frailty,
            more,
            id,
            reference: to_days(config.reference_date),
            practice: &config.practice,
            others: &others,
            out: &mut practice,
            background_years: config.background_years,
            dob: 0,
            observed_until: 0,
            frailty_draw: 1.0,
            joined: None,
        }
        .run(nhs_number);
    }
    practice
}

/// Keys the per-patient streams of hypertension care records apart from
/// the main ones.
const CARE_STREAMS: u64 = 0x6879_7030_3038_0001;

/// Keys the per-patient streams of frailty codes apart from the others.
const FRAILTY_STREAMS: u64 = 0x6672_6169_6c74_7902;

/// Keys the per-patient streams of the records added for the CHD, AF,
/// asthma review and diabetes care rules apart from the others.
const MORE_STREAMS: u64 = 0x6d6f_7265_7175_6f03;

/// Unique NHS numbers in the test range 999 000 000x to 999 999 999x, which
/// NHS England never issues to a person, drawn from their own stream.
struct NhsNumbers {
    rng: Rng,
    used: HashSet<u32>,
}

impl NhsNumbers {
    fn new(seed: u64) -> Self {
        NhsNumbers {
            rng: Rng::stream(seed, 0),
            used: HashSet::new(),
        }
    }

    fn next(&mut self) -> String {
        loop {
            let body = self.rng.range(0, 999_999) as u32;
            let digits = format!("999{body:06}");
            let sum: u32 = digits
                .bytes()
                .zip((2..=10).rev())
                .map(|(d, w)| u32::from(d - b'0') * w)
                .sum();
            let check = match 11 - sum % 11 {
                11 => 0,
                10 => continue,
                c => c,
            };
            if self.used.insert(body) {
                return format!("{digits}{check}");
            }
        }
    }
}

struct PatientGen<'a> {
    rng: Rng,
    /// A stream of its own for the hypertension care-process records
    /// (essential hypertension codes, repeat and lone readings, exceptions,
    /// invitations), so that adding them left every other draw, and so
    /// every other record, as it was.
    care: Rng,
    /// A stream of its own for frailty codes, for the same reason.
    frailty: Rng,
    /// A stream of its own for coronary heart disease, atrial
    /// fibrillation, asthma reviews, diabetes care records and where a flu
    /// vaccination was given, for the same reason.
    more: Rng,
    id: String,
    reference: i64,
    practice: &'a str,
    others: &'a [&'a str],
    out: &'a mut Practice,
    background_years: u32,
    /// Date of birth, as a day number.
    dob: i64,
    /// Last day the practice's record covers (reference date, leaving
    /// date or date of death).
    observed_until: i64,
    /// The frailty stream's first draw, taken before anything else is
    /// drawn for the patient: with the age it fixes the electronic frailty
    /// index finding (see [`Self::frailty_degree`]), which the
    /// registration history and the diabetes draw read.
    frailty_draw: f64,
    /// The day a patient who joined in the last year registered here.
    joined: Option<i64>,
}

/// The degree of frailty an electronic frailty index finding records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Frailty {
    Fit,
    Mild,
    Moderate,
    Severe,
}

fn sex_female(p: Option<&Patient>) -> bool {
    p.is_some_and(|p| p.sex == Sex::Female)
}

/// Consultations a year by age (and sex from 16 to 44), before each
/// patient's own factor (NHS Digital appointment data and the QResearch
/// consultation-rate studies give about 5 a year on average, more for
/// infants, women of working age and the old).
fn consultation_rate(age: i32, female: bool) -> f64 {
    match age {
        ..5 => 6.0,
        5..16 => 3.0,
        16..45 if female => 5.5,
        16..45 => 3.2,
        45..65 => 5.5,
        65..75 => 8.0,
        _ => 11.0,
    }
}

/// Shares and rates by age (see the README for sources).
fn diabetes_rate(age: i32) -> f64 {
    match age {
        ..17 => 0.002,
        17..40 => 0.015,
        40..60 => 0.06,
        60..80 => 0.14,
        _ => 0.15,
    }
}

fn hypertension_rate(age: i32) -> f64 {
    match age {
        ..18 => 0.0,
        18..30 => 0.002,
        30..40 => 0.02,
        40..50 => 0.07,
        50..60 => 0.17,
        60..70 => 0.32,
        70..80 => 0.47,
        _ => 0.57,
    }
}

fn asthma_rate(age: i32) -> f64 {
    match age {
        ..1 => 0.0,
        1..5 => 0.01,
        5..16 => 0.06,
        _ => 0.07,
    }
}

fn female_share(age: i32) -> f64 {
    match age {
        ..65 => 0.495,
        65..75 => 0.52,
        75..85 => 0.56,
        _ => 0.64,
    }
}

/// Resolved codes, as a share of the active prevalence drawn on top of it.
const DIABETES_RESOLVED_SHARE: f64 = 0.03;
const HYPERTENSION_RESOLVED_SHARE: f64 = 0.04;
const ASTHMA_RESOLVED_SHARE: f64 = 0.10;

/// Which state a condition is drawn in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Condition {
    None,
    Active,
    Resolved,
}

impl PatientGen<'_> {
    fn day(d: i64) -> Date {
        from_days(d)
    }

    fn between(&mut self, lo: i64, hi: i64) -> i64 {
        self.rng.range(lo, hi.max(lo))
    }

    fn years_after_birth(&self, years: i32) -> i64 {
        // The day `years` after birth: years_before on a date `years` ahead.
        let dob = from_days(self.dob);
        to_days(years_before(dob, -years))
    }

    fn condition(&mut self, rate: f64, resolved_share: f64) -> Condition {
        let u = self.rng.unit();
        if u < rate {
            Condition::Active
        } else if u < rate * (1.0 + resolved_share) {
            Condition::Resolved
        } else {
            Condition::None
        }
    }

    fn event(&mut self, day: i64, code: u64, value: Option<f64>, unit: Option<&str>) {
        debug_assert!(day >= self.dob && day <= self.observed_until);
        self.out.events.push(Event {
            patient_id: self.id.clone(),
            date: Self::day(day),
            code,
            value,
            unit: unit.map(str::to_owned),
        });
    }

    fn medication(&mut self, day: i64, code: u64, quantity: f64) {
        self.out.medications.push(Medication {
            patient_id: self.id.clone(),
            date: Self::day(day),
            code,
            quantity: Some(quantity),
        });
    }

    fn registration(
        &mut self,
        practice: &str,
        start: i64,
        end: Option<i64>,
        kind: RegistrationType,
    ) {
        self.out.registrations.push(Registration {
            patient_id: self.id.clone(),
            practice: practice.to_owned(),
            start: Self::day(start),
            end: end.map(Self::day),
            kind,
        });
    }

    fn other_practice(&mut self) -> String {
        let i = self.rng.range(0, self.others.len() as i64 - 1) as usize;
        self.others[i].to_owned()
    }

    fn age(&mut self, kind: Kind) -> i32 {
        // Deaths: 85% from ages 60 and over, the rest from any age.
        let older = kind == Kind::Died && !self.rng.chance(0.15);
        let weights: Vec<u32> = AGE_BANDS
            .iter()
            .map(|&(lo, _, w)| if older && lo < 60 { 0 } else { w })
            .collect();
        let (lo, width, _) = AGE_BANDS[self.rng.weighted(&weights)];
        if lo >= 90 {
            let a = self.rng.range(0, i64::from(width) - 1);
            let b = self.rng.range(0, i64::from(width) - 1);
            lo + a.min(b) as i32
        } else {
            lo + self.rng.range(0, i64::from(width) - 1) as i32
        }
    }

    fn run(mut self, nhs_number: String) {
        self.frailty_draw = self.frailty.unit();
        let kinds: Vec<u32> = KINDS.iter().map(|k| k.1).collect();
        let kind = KINDS[self.rng.weighted(&kinds)].0;
        let age = self.age(kind);
        let reference = from_days(self.reference);
        self.dob = to_days(years_before(reference, age)) - self.rng.range(0, 364);
        let sex = if self.rng.chance(0.0005) {
            Sex::Unknown
        } else if self.rng.chance(female_share(age)) {
            Sex::Female
        } else {
            Sex::Male
        };
        let death = (kind == Kind::Died).then(|| {
            let lo = self.dob.max(self.reference - 5 * YEAR);
            self.between(lo, self.reference)
        });
        let nhs_number = (!self.rng.chance(0.002)).then_some(nhs_number);
        let postcode = (!self.rng.chance(0.005)).then(|| {
            let district = self.rng.range(1, 29);
            let sector = self.rng.range(0, 9);
            let a = INWARD_LETTERS[self.rng.range(0, 19) as usize] as char;
            let b = INWARD_LETTERS[self.rng.range(0, 19) as usize] as char;
            format!("LS{district} {sector}{a}{b}")
        });
        self.out.patients.push(Patient {
            id: self.id.clone(),
            nhs_number,
            date_of_birth: Some(from_days(self.dob)),
            sex,
            postcode,
            date_of_death: death.map(from_days),
            death_date_unknown: false,
        });
        self.observed_until = self.registrations(kind, death);
        if kind != Kind::Temporary {
            self.clinical();
        }
    }

    /// Writes the registrations of a patient and returns the last day the
    /// practice's record covers.
    fn registrations(&mut self, kind: Kind, death: Option<i64>) -> i64 {
        let reference = self.reference;
        let earliest = self.dob.max(reference - 30 * YEAR);
        let practice = self.practice.to_owned();
        match kind {
            Kind::Registered => {
                let newborn = reference - self.dob < YEAR;
                if newborn {
                    let start = self.between(self.dob, (self.dob + 42).min(reference));
                    self.registration(&practice, start, None, RegistrationType::Regular);
                } else if self.rng.chance(
                    if self.frailty_degree(age_on(from_days(self.dob), from_days(reference)))
                        >= Frailty::Moderate
                    {
                        // Moves into care homes and nearer family.
                        0.25
                    } else {
                        0.08
                    },
                ) {
                    // Joined in the last year.
                    let lo = self.dob.max(reference - YEAR + 1);
                    let start = self.between(lo, reference);
                    self.joined = Some(start);
                    if self.rng.chance(0.5) {
                        // Came from another practice, which deregistered them.
                        let other = self.other_practice();
                        let from = self.between(earliest, start);
                        self.registration(&other, from, Some(start), RegistrationType::Regular);
                    }
                    self.registration(&practice, start, None, RegistrationType::Regular);
                } else if self.rng.chance(0.04) && reference - earliest > 3 * YEAR {
                    // Left and came back, sometimes via another practice.
                    let mut p = [
                        self.between(earliest, reference - YEAR),
                        self.between(earliest, reference - YEAR),
                        self.between(earliest, reference - YEAR),
                    ];
                    p.sort_unstable();
                    let (start, left) = (p[0], p[1].max(p[0] + 1));
                    let back = p[2].max(left + 1);
                    self.registration(&practice, start, Some(left), RegistrationType::Regular);
                    if self.rng.chance(0.5) {
                        let other = self.other_practice();
                        self.registration(&other, left, Some(back), RegistrationType::Regular);
                    }
                    self.registration(&practice, back, None, RegistrationType::Regular);
                } else {
                    // Most are registered for years, more recently than not.
                    let hi = reference - YEAR;
                    let lo = earliest.min(hi);
                    let u = self.rng.unit();
                    let back = ((hi - lo) as f64 * u * u) as i64;
                    self.registration(&practice, hi - back, None, RegistrationType::Regular);
                }
                reference
            }
            Kind::Left => {
                let lo = earliest.min(reference - 2);
                let start = self.between(lo, reference - 2).max(self.dob);
                let recent = (reference - start - 1).min(5 * YEAR);
                let end = reference - self.between(0, recent);
                let end = end.max(start + 1).min(reference);
                self.registration(&practice, start, Some(end), RegistrationType::Regular);
                if self.rng.chance(0.4) {
                    let other = self.other_practice();
                    self.registration(&other, end, None, RegistrationType::Regular);
                }
                (end - 1).max(self.dob)
            }
            Kind::Died => {
                let death = death.unwrap_or(reference);
                let lo = self.dob.max(death - 30 * YEAR);
                let start = self.between(lo, death);
                let lag = self.rng.range(0, 28);
                let end = (death + lag).min(reference).max(death);
                self.registration(&practice, start, Some(end), RegistrationType::Regular);
                death
            }
            Kind::Temporary => {
                let other = self.other_practice();
                let home = self.between(earliest, reference - 1);
                self.registration(&other, home, None, RegistrationType::Regular);
                let start = self.between(home.max(reference - 3 * YEAR), reference);
                let end = start + self.rng.range(1, 90);
                let end = (end <= reference).then_some(end);
                self.registration(&practice, start, end, RegistrationType::Temporary);
                reference
            }
            Kind::ElsewhereOnly => {
                let other = self.other_practice();
                let start = self.between(earliest, reference);
                self.registration(&other, start, None, RegistrationType::Regular);
                reference
            }
        }
    }

    /// Diagnoses, readings, prescriptions, vaccinations and opt-outs.
    fn clinical(&mut self) {
        let first_event = self.out.events.len();
        let first_med = self.out.medications.len();
        let end = self.observed_until;
        let age = age_on(from_days(self.dob), from_days(end));

        // Diabetes: 2.5 times as common among the moderately or severely frail
        // (diabetes is one of the frailty index's deficits).
        let frail = self.frailty_degree(age) >= Frailty::Moderate;
        let rate = diabetes_rate(age) * if frail { 2.5 } else { 1.0 };
        let diabetes = self.condition(rate, DIABETES_RESOLVED_SHARE);
        let mut review_day = None;
        let mut diabetic = None;
        if diabetes != Condition::None {
            let type_1 = age < 17 || self.rng.chance(0.08);
            let (lo, hi) = if type_1 {
                let onset = self.years_after_birth(1);
                let late = self.years_after_birth(35);
                (onset, late.min(end))
            } else {
                let from_age = self.years_after_birth(age.min(30));
                (from_age.max(end - 25 * YEAR), end)
            };
            let (code, generic) = if type_1 {
                (DIABETES_TYPE_1, 0.05)
            } else {
                (DIABETES_TYPE_2, 0.10)
            };
            let code = if self.rng.chance(generic) {
                DIABETES
            } else {
                code
            };
            if diabetes == Condition::Resolved && hi - lo > 2 * YEAR {
                let diagnosed = self.between(lo, hi - 2 * YEAR);
                self.event(diagnosed, code, None, None);
                let resolved = self.between(diagnosed + YEAR, end);
                self.event(resolved, DIABETES_RESOLVED, None, None);
            } else if diabetes == Condition::Active && lo <= hi {
                let diagnosed = self.between(lo, hi);
                diabetic = Some(diagnosed);
                self.event(diagnosed, code, None, None);
                review_day = self.hba1c(diagnosed, type_1, frail);
                if !type_1 && self.rng.chance(0.70) {
                    self.repeats(METFORMIN_500MG_TABLETS, 56, &[56.0, 112.0], diagnosed);
                }
            }
        }

        // Hypertension.
        let hypertension = self.condition(hypertension_rate(age), HYPERTENSION_RESOLVED_SHARE);
        let mut bp_done = false;
        if hypertension != Condition::None {
            let lo = self.years_after_birth(age.min(25)).max(end - 20 * YEAR);
            // Half the diagnoses are coded as essential hypertension.
            let code = if self.care.chance(0.5) {
                ESSENTIAL_HYPERTENSION
            } else {
                HYPERTENSION
            };
            if hypertension == Condition::Resolved && end - lo > 2 * YEAR {
                let diagnosed = self.between(lo, end - 2 * YEAR);
                self.event(diagnosed, code, None, None);
                let resolved = self.between(diagnosed + YEAR, end);
                self.event(resolved, HYPERTENSION_RESOLVED, None, None);
            } else if hypertension == Condition::Active {
                let diagnosed = self.between(lo, end);
                self.event(diagnosed, code, None, None);
                let mut latest_bp = None;
                if self.rng.chance(0.90) {
                    // Latest reading in the last year, on the diabetes
                    // review day when there is one.
                    let latest = match review_day {
                        Some(d) if d >= diagnosed && d > end - YEAR => d,
                        _ => self.between(diagnosed.max(end - YEAR + 1), end),
                    };
                    // Fewer at target in the first year after the
                    // diagnosis, while treatment is started and adjusted.
                    let new = diagnosed > end - YEAR;
                    let controlled = self.rng.chance(if new { 0.45 } else { 0.72 });
                    self.bp(latest, controlled);
                    latest_bp = Some((latest, controlled));
                    let mut d = latest;
                    for _ in 0..3 {
                        d -= self.rng.range(300, 430);
                        if d < diagnosed {
                            break;
                        }
                        let controlled = self.rng.chance(0.65);
                        self.bp(d, controlled);
                    }
                }
                self.hypertension_care(diagnosed, latest_bp);
                bp_done = true;
            }
        }
        if !bp_done {
            if let Some(d) = review_day.filter(|_| self.rng.chance(0.8)) {
                let controlled = self.rng.chance(0.8);
                self.bp(d, controlled);
            } else if age >= 40 && self.rng.chance(0.35) {
                let lo = self.dob.max(end - 5 * YEAR);
                let d = self.between(lo, end);
                let controlled = self.rng.chance(0.85);
                self.bp(d, controlled);
            }
        }

        self.frailty_codes(age);
        self.heart_conditions(age);
        if let Some(diagnosed) = diabetic {
            self.diabetes_care(first_event, diagnosed, frail);
        }
        let diabetic = diabetic.is_some();

        // Asthma.
        let asthma = self.condition(asthma_rate(age), ASTHMA_RESOLVED_SHARE);
        let mut asthmatic = false;
        if asthma != Condition::None {
            let lo = self.dob + 180;
            let hi = if age >= 3 && self.rng.chance(0.5) {
                self.years_after_birth(age.min(16))
            } else {
                end
            };
            let hi = hi.min(end).max(lo.min(end));
            let lo = lo.min(hi);
            if asthma == Condition::Resolved && end - lo > 3 * YEAR {
                let diagnosed = self.between(lo, hi.min(end - 3 * YEAR));
                self.event(diagnosed, ASTHMA, None, None);
                let resolved = self.between(diagnosed + 2 * YEAR, end);
                self.event(resolved, ASTHMA_RESOLVED, None, None);
            } else if asthma == Condition::Active {
                asthmatic = true;
                let diagnosed = self.between(lo, hi);
                self.event(diagnosed, ASTHMA, None, None);
                if self.rng.chance(0.75) {
                    self.repeats(SALBUTAMOL_INHALER, 75, &[200.0, 400.0], diagnosed);
                }
            }
        }
        if asthmatic {
            self.asthma_care();
        } else if asthma == Condition::None {
            self.new_asthma(age);
        }

        // Seasonal flu vaccination, this season and last.
        let reference = from_days(self.reference);
        let season_year = if reference.month >= 9 {
            reference.year
        } else {
            reference.year - 1
        };
        for (back, uptake_65, uptake_risk) in [(0, 0.75, 0.45), (1, 0.72, 0.43)] {
            let start_year = season_year - back;
            let start = to_days(Date::ymd(start_year, 9, 1).expect("1 September"));
            let season_end = to_days(Date::ymd(start_year + 1, 3, 31).expect("31 March"));
            let last = season_end.min(end);
            if start < self.dob || start > last {
                continue;
            }
            let age_at_end = age_on(from_days(self.dob), from_days(season_end));
            let uptake = if age_at_end >= 65 {
                uptake_65
            } else if diabetic || asthmatic {
                uptake_risk
            } else {
                0.0
            };
            if self.rng.chance(uptake) {
                // Most in September to November: the square of a uniform.
                let u = self.rng.unit();
                let d = start + ((last - start) as f64 * u * u) as i64;
                let code = if self.more.chance(0.2) {
                    FLU_BY_PHARMACIST
                } else {
                    FLU_VACCINATION
                };
                self.event(d, code, None, None);
            }
        }

        // Type 1 opt-out (possible since October 2013).
        if self.rng.chance(0.03) {
            let lo = self
                .dob
                .max(to_days(Date::ymd(2013, 10, 1).expect("valid")))
                .min(end);
            let d = self.between(lo, end);
            self.event(d, TYPE_1_OPT_OUT, None, None);
        }

        self.background(
            age,
            sex_female(self.out.patients.last()),
            diabetic || asthmatic,
        );

        self.out.events[first_event..].sort_by_key(|e| (e.date, e.code));
        self.out.medications[first_med..].sort_by_key(|m| (m.date, m.code));
    }

    /// Routine activity over the last `background_years`: consultations
    /// (face to face or by telephone), some with vital signs, weights and
    /// heights with a BMI, smoking status every few years for adults, and
    /// medication reviews for those on repeats.
    fn background(&mut self, age: i32, female: bool, on_repeats: bool) {
        if self.background_years == 0 {
            return;
        }
        let end = self.observed_until;
        let start = self.dob.max(end - i64::from(self.background_years) * YEAR);
        if start >= end {
            return;
        }
        let span_years = (end - start) as f64 / YEAR as f64;
        // A patient's own propensity to consult: mean 1, from 0.2 to 1.8.
        let factor = 0.2 + 1.6 * self.rng.unit();
        let expected = consultation_rate(age, female) * factor * span_years;
        let visits = (expected + self.rng.normal() * expected.sqrt().max(1.0))
            .round()
            .max(0.0) as i64;
        let adult_from = self.years_after_birth(18);
        let height = if female { 163.0 } else { 176.0 } + self.rng.normal() * 7.0;
        let height = (height * 10.0).round() / 10.0;
        let mut weight = if female { 72.0 } else { 85.0 } + self.rng.normal() * 14.0;
        for _ in 0..visits {
            let d = self.between(start, end);
            let code = if self.rng.chance(0.3) {
                TELEPHONE_ENCOUNTER
            } else {
                ENCOUNTER
            };
            self.event(d, code, None, None);
            if code == TELEPHONE_ENCOUNTER {
                continue;
            }
            if self.rng.chance(0.3) {
                let v = (75.0 + self.rng.normal() * 11.0).round();
                self.reading(d, PULSE_RATE, v, UNIT_PER_MIN);
            }
            if self.rng.chance(0.12) {
                let v = ((36.8 + self.rng.normal() * 0.4) * 10.0).round() / 10.0;
                self.reading(d, BODY_TEMPERATURE, v, UNIT_CELSIUS);
            }
            if self.rng.chance(0.12) {
                let v = (97.0 + self.rng.normal() * 1.5).round().min(100.0);
                self.reading(d, OXYGEN_SATURATION, v, UNIT_PERCENT);
            }
            if d >= adult_from && self.rng.chance(0.2) {
                weight = (weight + self.rng.normal() * 2.0).clamp(40.0, 200.0);
                let w = (weight * 10.0).round() / 10.0;
                self.reading(d, BODY_WEIGHT, w, UNIT_KG);
                if self.rng.chance(0.3) {
                    self.reading(d, BODY_HEIGHT, height, UNIT_CM);
                }
                let metres = height / 100.0;
                let bmi = (w / (metres * metres) * 10.0).round() / 10.0;
                self.reading(d, BMI, bmi, UNIT_KG_PER_M2);
            }
            if on_repeats && self.rng.chance(0.08) {
                self.event(d, MEDICATION_REVIEW, None, None);
            }
        }
        if adult_from <= end {
            let status = match self.rng.weighted(&[55, 31, 14]) {
                0 => NEVER_SMOKED,
                1 => EX_SMOKER,
                _ => SMOKER,
            };
            let mut d = end - self.rng.range(0, 3 * YEAR);
            while d >= start.max(adult_from) {
                self.event(d, status, None, None);
                d -= self.rng.range(YEAR, 4 * YEAR);
            }
        }
    }

    /// HbA1c readings of an active diabetic; returns the latest one's day.
    /// Of those who joined in the last year (the move interrupted their
    /// care) and of the moderately or severely frail (often housebound),
    /// fewer have one in the year: 65%, 30% 12 to 15 months back.
    fn hba1c(&mut self, diagnosed: i64, type_1: bool, frail: bool) -> Option<i64> {
        let end = self.observed_until;
        let u = self.rng.unit();
        let fewer = frail || self.joined.is_some();
        let latest = match fewer {
            false if u < 0.90 => self.between(diagnosed.max(end - YEAR + 1), end),
            false if u < 0.95 => self.between(diagnosed.max(end - 15 * YEAR / 12), end),
            true if u < 0.65 => self.between(diagnosed.max(end - YEAR + 1), end),
            true if u < 0.95 => {
                let lo = diagnosed.max(end - 15 * YEAR / 12);
                self.between(lo, (end - YEAR).max(lo))
            }
            _ => return None,
        };
        // Skewed: narrower below the centre than above it; 15 higher in
        // the first nine months after the diagnosis, before treatment has
        // brought it down.
        let centre = if type_1 { 58.0 } else { 52.0 };
        let centre = if latest - diagnosed < 3 * YEAR / 4 {
            centre + 15.0
        } else {
            centre
        };
        let z = self.rng.normal();
        let value = centre + z * if z < 0.0 { 10.0 } else { 16.0 };
        self.reading(
            latest,
            HBA1C_IFCC,
            value.round().clamp(30.0, 150.0),
            UNIT_MMOL_PER_MOL,
        );
        let mut d = latest;
        let mut previous = value;
        for _ in 0..4 {
            d -= self.rng.range(150, 400);
            if d < diagnosed {
                break;
            }
            previous += self.rng.normal() * 6.0;
            self.reading(
                d,
                HBA1C_IFCC,
                previous.round().clamp(30.0, 150.0),
                UNIT_MMOL_PER_MOL,
            );
        }
        Some(latest)
    }

    fn reading(&mut self, day: i64, code: u64, value: f64, unit: &str) {
        self.event(day, code, Some(value), Some(unit));
    }

    /// A systolic and a diastolic reading on one day; controlled means at or
    /// below 140/90.
    fn bp(&mut self, day: i64, controlled: bool) {
        let (sys, dia) = if controlled {
            let s = (130.0 + self.rng.normal() * 7.0).round().clamp(95.0, 140.0);
            let d = (78.0 + self.rng.normal() * 6.0).round().clamp(55.0, 90.0);
            (s, d)
        } else if self.rng.chance(0.8) {
            let s = (152.0 + self.rng.normal().abs() * 12.0).round().max(141.0);
            let d = (86.0 + self.rng.normal() * 7.0).round().clamp(60.0, 115.0);
            (s, d)
        } else {
            let s = (135.0 + self.rng.normal() * 6.0)
                .round()
                .clamp(110.0, 150.0);
            let d = (94.0 + self.rng.normal().abs() * 4.0).round().max(91.0);
            (s, d)
        };
        self.reading(day, SYSTOLIC_BP, sys, UNIT_MM_HG);
        self.reading(day, DIASTOLIC_BP, dia, UNIT_MM_HG);
    }

    /// The electronic frailty index finding of a patient `age` years old:
    /// none under 65; of those 65 and over, mild 35%, moderate 12%, severe
    /// 3.5%.
    fn frailty_degree(&self, age: i32) -> Frailty {
        let u = self.frailty_draw;
        if age < 65 {
            Frailty::Fit
        } else if u < 0.035 {
            Frailty::Severe
        } else if u < 0.155 {
            Frailty::Moderate
        } else if u < 0.505 {
            Frailty::Mild
        } else {
            Frailty::Fit
        }
    }

    /// Electronic frailty index findings for those 65 and over: mild 35%,
    /// moderate 12%, severe 3.5%, in the last two years; a tenth of the
    /// mild have an earlier moderate (improved), a fifth of the moderate
    /// and severe an earlier mild (worsened).
    fn frailty_codes(&mut self, age: i32) {
        let end = self.observed_until;
        let code = match self.frailty_degree(age) {
            Frailty::Fit => return,
            Frailty::Mild => MILD_FRAILTY,
            Frailty::Moderate => MODERATE_FRAILTY,
            Frailty::Severe => SEVERE_FRAILTY,
        };
        let lo = (end - 2 * YEAR).max(self.dob);
        let day = self.frailty.range(lo, end);
        self.event(day, code, None, None);
        let earlier = if code == MILD_FRAILTY {
            self.frailty.chance(0.10).then_some(MODERATE_FRAILTY)
        } else {
            self.frailty.chance(0.20).then_some(MILD_FRAILTY)
        };
        if let Some(before) = earlier
            && day - YEAR >= self.dob
        {
            let d = self.frailty.range(day - 2 * YEAR, day - YEAR).max(self.dob);
            self.event(d, before, None, None);
        }
    }

    /// The records QOF's hypertension rules read beyond the readings, from
    /// the care stream: a second pair of readings on the latest day (the
    /// same-day rule takes the lowest of each), a systolic reading alone on
    /// a later day (which the same-day rule passes over), maximal therapy
    /// for some above target, exceptions (unsuitable, informed dissent, BP
    /// declined; mostly for those not at target), and pairs of invitations at least 7 days apart.
    fn hypertension_care(&mut self, diagnosed: i64, latest_bp: Option<(i64, bool)>) {
        let end = self.observed_until;
        let year_start = (end - YEAR + 1).max(diagnosed);
        // Diagnosed in the last nine months: QOF leaves them out anyway,
        // so nothing is recorded to except them (no maximal therapy,
        // exceptions or invitations).
        let new = diagnosed > end - 3 * YEAR / 4;
        if let Some((day, controlled)) = latest_bp {
            if self.care.chance(0.10) {
                // A repeat on the same day, lower (the first reading of a
                // visit is often the highest).
                let sys = if controlled { 124.0 } else { 138.0 } + self.care.range(0, 6) as f64;
                let dia = 70.0 + self.care.range(0, 12) as f64;
                self.reading(day, SYSTOLIC_BP, sys, UNIT_MM_HG);
                self.reading(day, DIASTOLIC_BP, dia, UNIT_MM_HG);
            }
            if day < end && self.care.chance(0.06) {
                let later = self.care.range(day + 1, end);
                let sys = 120.0 + self.care.range(0, 40) as f64;
                self.reading(later, SYSTOLIC_BP, sys, UNIT_MM_HG);
            }
            if !controlled && !new && self.care.chance(0.12) {
                let d = self.care.range(year_start, end);
                self.event(d, MAXIMAL_BP_THERAPY, None, None);
            }
        }
        if new {
            return;
        }
        // Exceptions are recorded mostly for those not at target.
        let at_target = latest_bp.is_some_and(|(d, c)| c && d > end - YEAR);
        let share = if at_target { 0.005 } else { 0.05 };
        for code in [
            HYPERTENSION_PCA_UNSUITABLE,
            HYPERTENSION_PCA_DECLINED,
            BP_DECLINED,
        ] {
            if self.care.chance(share) {
                let d = self.care.range(year_start, end);
                self.event(d, code, None, None);
            }
        }
        // Invitations: for most of those with no reading in the year, for
        // some above target after their reading, and now and then for
        // anyone (a single one, or two within a week, which do not count
        // as two).
        let recent = latest_bp.filter(|(d, _)| *d > end - YEAR);
        let from = match recent {
            None if self.care.chance(0.6) => Some(year_start),
            Some((d, false)) if self.care.chance(0.3) => Some(d + 1),
            _ if self.care.chance(0.05) => Some(year_start),
            _ => None,
        };
        if let Some(from) = from.filter(|f| *f <= end) {
            let first = self.care.range(from, end);
            let code = if self.care.chance(0.5) {
                HYPERTENSION_INVITATION
            } else {
                HYPERTENSION_FIRST_LETTER
            };
            self.event(first, code, None, None);
            let gap = if self.care.chance(0.15) {
                self.care.range(1, 6)
            } else {
                self.care.range(7, 60)
            };
            if first + gap <= end {
                self.event(first + gap, HYPERTENSION_INVITATION, None, None);
            }
        }
    }

    /// Coronary heart disease (about 3% of all ages, most over 65) and
    /// atrial fibrillation (about 2%, most over 75), from the `more`
    /// stream; a twentieth of atrial fibrillation is later coded resolved,
    /// a third of those coded again after.
    fn heart_conditions(&mut self, age: i32) {
        let end = self.observed_until;
        let chd = match age {
            ..35 => 0.0005,
            35..45 => 0.005,
            45..55 => 0.02,
            55..65 => 0.05,
            65..75 => 0.10,
            _ => 0.16,
        };
        if self.more.chance(chd) {
            let lo = self.years_after_birth(age.min(30)).max(end - 25 * YEAR);
            let day = self.more.range(lo.min(end), end);
            let code = [ANGINA, MYOCARDIAL_INFARCTION, ISCHAEMIC_HEART_DISEASE]
                [self.more.range(0, 2) as usize];
            self.event(day, code, None, None);
        }
        let af = match age {
            ..50 => 0.001,
            50..65 => 0.01,
            65..75 => 0.05,
            75..85 => 0.10,
            _ => 0.15,
        };
        if self.more.chance(af) {
            let lo = self.years_after_birth(age.min(40)).max(end - 15 * YEAR);
            let day = self.more.range(lo.min(end), end);
            let code = if self.more.chance(0.3) {
                PAROXYSMAL_AF
            } else {
                ATRIAL_FIBRILLATION
            };
            self.event(day, code, None, None);
            if day < end && self.more.chance(0.05) {
                let resolved = self.more.range(day + 1, end);
                self.event(resolved, AF_RESOLVED, None, None);
                if resolved < end && self.more.chance(0.33) {
                    let again = self.more.range(resolved + 1, end);
                    self.event(again, PAROXYSMAL_AF, None, None);
                }
            }
        }
    }

    /// The records AST007 reads for an asthmatic, from the `more` stream:
    /// a review in the last year for 55%, with the written plan that day
    /// for most (the day after for a few), the control test and the number
    /// of exacerbations in the weeks up to it for most; exceptions (2%
    /// each); two invitations for half of those not reviewed (a few within
    /// a week, which do not count as two).
    fn asthma_care(&mut self) {
        let end = self.observed_until;
        let year_start = (end - YEAR + 1).max(self.dob);
        if year_start > end {
            return;
        }
        let reviewed = self.more.chance(0.55);
        if reviewed {
            let day = self.more.range(year_start, end);
            let code = if self.more.chance(0.5) {
                ASTHMA_REVIEW
            } else {
                ASTHMA_MONITORING
            };
            self.event(day, code, None, None);
            let u = self.more.unit();
            if u < 0.85 {
                self.event(day, ASTHMA_PLAN, None, None);
            } else if u < 0.90 && day < end {
                self.event(day + 1, ASTHMA_PLAN, None, None);
            }
            if self.more.chance(0.85) {
                let d = (day - self.more.range(0, 40)).max(self.dob);
                let score = 10.0 + self.more.range(0, 15) as f64;
                self.reading(d, ASTHMA_CONTROL_TEST, score, "{score}");
            }
            if self.more.chance(0.90) {
                let d = (day - self.more.range(0, 10)).max(self.dob);
                let n = self.more.range(0, 3) as f64;
                self.reading(d, ASTHMA_EXACERBATIONS, n, "{count}");
            }
        }
        for code in [
            ASTHMA_PCA_UNSUITABLE,
            ASTHMA_MONITORING_DECLINED,
            ASTHMA_PCA_DECLINED,
        ] {
            if self.more.chance(0.02) {
                let d = self.more.range(year_start, end);
                self.event(d, code, None, None);
            }
        }
        if !reviewed && self.more.chance(0.5) {
            let first = self.more.range(year_start, end);
            self.event(first, ASTHMA_INVITATION, None, None);
            let gap = if self.more.chance(0.15) {
                self.more.range(1, 6)
            } else {
                self.more.range(7, 60)
            };
            if first + gap <= end {
                self.event(first + gap, ASTHMA_INVITATION, None, None);
            }
        }
    }

    /// A new asthma diagnosis in the last three months, with a reliever
    /// prescribed, for 0.3% of those aged 6 or over without asthma (so
    /// that AST007's new-diagnosis rule meets someone).
    fn new_asthma(&mut self, age: i32) {
        let end = self.observed_until;
        if age < 6 || !self.more.chance(0.003) {
            return;
        }
        let day = self.more.range((end - 85).max(self.dob), end);
        self.event(day, ASTHMA, None, None);
        self.medication(day, SALBUTAMOL_INHALER, 200.0);
    }

    /// The records DM020 reads beyond the HbA1c of an active diabetic,
    /// from the `more` stream: a serum fructosamine (mostly for those with
    /// no HbA1c in the year), maximal therapy for some above target,
    /// exceptions (mostly for those not at target), and invitations (for
    /// most of those with no HbA1c in the year, some above target after
    /// their reading, and now and then anyone). The moderately or severely
    /// frail are judged against DM021's target (75 mmol/mol); of those not
    /// at it, 20% each have maximal therapy, care unsuitable, a blood test
    /// declined or care declined (one of them), so that DM021's rules meet
    /// someone; but none of those diagnosed or registered in the last nine
    /// months, whom QOF leaves out anyway.
    fn diabetes_care(&mut self, first_event: usize, diagnosed: i64, frail: bool) {
        let end = self.observed_until;
        let year_start = (end - YEAR + 1).max(self.dob);
        if year_start > end {
            return;
        }
        let latest = self.out.events[first_event..]
            .iter()
            .filter(|e| e.code == HBA1C_IFCC)
            .map(|e| (to_days(e.date), e.value.unwrap_or(f64::NAN)))
            .filter(|(d, _)| *d >= year_start)
            .max_by_key(|(d, _)| *d);
        // The frail's target is DM021's.
        let target = if frail { 75.0 } else { 58.0 };
        let at_target = latest.is_some_and(|(_, v)| v <= target);
        if self.more.chance(if latest.is_none() { 0.3 } else { 0.01 }) {
            let d = self.more.range(year_start, end);
            let v = 250.0 + self.more.range(0, 150) as f64;
            self.reading(d, SERUM_FRUCTOSAMINE, v, "umol/L");
        }
        let new = |day: Option<i64>| day.is_some_and(|d| d > end - 3 * YEAR / 4);
        let exempt = new(Some(diagnosed)) || new(self.joined);
        if frail && !at_target && exempt {
            // Nothing to except.
        } else if frail && !at_target {
            // One of these for 20% each, none for the other 20%.
            let u = self.more.unit();
            let which = [
                MAXIMAL_DIABETES_THERAPY,
                DIABETES_PCA_UNSUITABLE,
                BLOOD_TEST_DECLINED,
                DIABETES_PCA_DECLINED,
            ]
            .get((u / 0.20) as usize)
            .copied();
            if let Some(code) = which {
                let d = self.more.range(year_start, end);
                self.event(d, code, None, None);
            }
        } else {
            if latest.is_some() && !at_target && self.more.chance(0.10) {
                let d = self.more.range(year_start, end);
                self.event(d, MAXIMAL_DIABETES_THERAPY, None, None);
            }
            let share = if at_target { 0.004 } else { 0.025 };
            for code in [
                DIABETES_PCA_UNSUITABLE,
                BLOOD_TEST_DECLINED,
                DIABETES_PCA_DECLINED,
            ] {
                if self.more.chance(share) {
                    let d = self.more.range(year_start, end);
                    self.event(d, code, None, None);
                }
            }
        }
        let from = match latest {
            None if self.more.chance(0.6) => Some(year_start),
            Some((d, _)) if !at_target && self.more.chance(0.3) => Some(d + 1),
            _ if self.more.chance(0.03) => Some(year_start),
            _ => None,
        };
        if let Some(from) = from.filter(|f| *f <= end) {
            let first = self.more.range(from, end);
            let code = if self.more.chance(0.5) {
                DIABETES_INVITATION
            } else {
                DIABETES_FIRST_LETTER
            };
            self.event(first, code, None, None);
            let gap = if self.more.chance(0.15) {
                self.more.range(1, 6)
            } else {
                self.more.range(7, 60)
            };
            if first + gap <= end {
                self.event(first + gap, DIABETES_INVITATION, None, None);
            }
        }
    }

    /// Repeat prescriptions over the last year, about every `interval` days,
    /// none before `since`.
    fn repeats(&mut self, code: u64, interval: i64, quantities: &[f64], since: i64) {
        let end = self.observed_until;
        let mut d = end - self.rng.range(0, interval - 1);
        while d > end - YEAR && d >= since {
            let q = quantities[self.rng.range(0, quantities.len() as i64 - 1) as usize];
            self.medication(d, code, q);
            d -= interval + self.rng.range(-7, 14);
        }
    }
}
