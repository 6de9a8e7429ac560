//! Counts over a generated practice, computed from its records (not from
//! the generator's choices), so they check the generator as a query would.

use crate::Practice;
use crate::codes::*;
use crate::days::{age_on, from_days, to_days};
use gpes_model::{Date, RegistrationType, Sex};
use std::collections::HashMap;
use std::fmt;

/// Counts over a practice. "Registered" follows the engine's rule
/// (`sdk/query/SPEC.md`): a regular registration at the practice
/// covering the reference date, and not dead on or before it. Conditions
/// count registered patients whose latest diagnosis code is not followed by
/// a resolved code (as QOF registers do); diabetes counts those aged 17 and
/// over. "Last 12 months" is the 365 days up to the reference date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    pub patients: usize,
    pub registrations: usize,
    pub events: usize,
    pub medications: usize,
    /// Registered on the reference date.
    pub registered: usize,
    pub registered_under_16: usize,
    pub registered_17_plus: usize,
    pub registered_65_plus: usize,
    /// Registered women aged 65 and over.
    pub registered_65_plus_female: usize,
    /// Registered patients whose current registration began in the last 12 months.
    pub joined_last_year: usize,
    /// Registered patients who had left the practice and came back.
    pub returned: usize,
    /// Alive, not registered, with an ended regular registration here.
    pub left: usize,
    /// Of those who left, with a later registration at another practice.
    pub transferred: usize,
    /// Died on or before the reference date.
    pub died: usize,
    /// With a temporary-resident registration here.
    pub temporary_residents: usize,
    /// With registrations at other practices only.
    pub elsewhere_only: usize,
    /// Registered, 17 and over, with diabetes.
    pub diabetes: usize,
    /// Of those, with type 1.
    pub diabetes_type_1: usize,
    /// Registered with a diabetes diagnosis followed by "diabetes resolved".
    pub diabetes_resolved: usize,
    pub hypertension: usize,
    pub hypertension_resolved: usize,
    pub asthma: usize,
    pub asthma_resolved: usize,
    /// Diabetics (as counted above) with an HbA1c in the last 12 months.
    pub diabetes_hba1c_12m: usize,
    /// Of those, whose latest is 58 mmol/mol or less.
    pub diabetes_hba1c_58_or_less: usize,
    /// Hypertensives with systolic and diastolic readings in the last 12 months.
    pub hypertension_bp_12m: usize,
    /// Of those, whose latest readings are at or below 140/90.
    pub hypertension_bp_controlled: usize,
    /// Registered, 65 and over, vaccinated against flu since 1 September
    /// of the season the reference date falls in.
    pub flu_65_plus: usize,
    /// Registered with a Type 1 opt-out code.
    pub opted_out: usize,
}

/// A share as a percentage (0 when the whole is empty).
pub fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

impl Stats {
    /// Diabetes prevalence among registered patients aged 17 and over, %.
    pub fn diabetes_percent(&self) -> f64 {
        percent(self.diabetes, self.registered_17_plus)
    }
    /// Hypertension prevalence among registered patients, %.
    pub fn hypertension_percent(&self) -> f64 {
        percent(self.hypertension, self.registered)
    }
    /// Asthma prevalence among registered patients, %.
    pub fn asthma_percent(&self) -> f64 {
        percent(self.asthma, self.registered)
    }
    /// Share of registered patients aged 65 and over, %.
    pub fn over_65_percent(&self) -> f64 {
        percent(self.registered_65_plus, self.registered)
    }
    /// Share of registered patients under 16, %.
    pub fn under_16_percent(&self) -> f64 {
        percent(self.registered_under_16, self.registered)
    }
    /// Share of registered patients with a Type 1 opt-out, %.
    pub fn opted_out_percent(&self) -> f64 {
        percent(self.opted_out, self.registered)
    }
    /// Share of diabetics with a recent HbA1c whose latest is ≤ 58, %.
    pub fn hba1c_58_or_less_percent(&self) -> f64 {
        percent(self.diabetes_hba1c_58_or_less, self.diabetes_hba1c_12m)
    }
    /// Share of hypertensives with recent readings controlled at ≤ 140/90, %.
    pub fn bp_controlled_percent(&self) -> f64 {
        percent(self.hypertension_bp_controlled, self.hypertension_bp_12m)
    }
    /// Share of registered patients 65 and over vaccinated this season, %.
    pub fn flu_65_plus_percent(&self) -> f64 {
        percent(self.flu_65_plus, self.registered_65_plus)
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self;
        writeln!(
            f,
            "records: {} patients, {} registrations, {} events, {} medications",
            s.patients, s.registrations, s.events, s.medications
        )?;
        writeln!(
            f,
            "registered on the reference date: {} (under 16 {:.1}%, 65+ {:.1}%, women among 65+ {:.1}%)",
            s.registered,
            s.under_16_percent(),
            s.over_65_percent(),
            percent(s.registered_65_plus_female, s.registered_65_plus)
        )?;
        writeln!(
            f,
            "history: {} joined in the last year, {} returned, {} left ({} transferred), {} died, {} temporary residents, {} elsewhere only",
            s.joined_last_year,
            s.returned,
            s.left,
            s.transferred,
            s.died,
            s.temporary_residents,
            s.elsewhere_only
        )?;
        writeln!(
            f,
            "diabetes: {} ({:.2}% of 17+; {} type 1; {} resolved); HbA1c in 12 months {}, of which <= 58: {:.1}%",
            s.diabetes,
            s.diabetes_percent(),
            s.diabetes_type_1,
            s.diabetes_resolved,
            s.diabetes_hba1c_12m,
            s.hba1c_58_or_less_percent()
        )?;
        writeln!(
            f,
            "hypertension: {} ({:.2}%; {} resolved); BP in 12 months {}, of which <= 140/90: {:.1}%",
            s.hypertension,
            s.hypertension_percent(),
            s.hypertension_resolved,
            s.hypertension_bp_12m,
            s.bp_controlled_percent()
        )?;
        writeln!(
            f,
            "asthma: {} ({:.2}%; {} resolved)",
            s.asthma,
            s.asthma_percent(),
            s.asthma_resolved
        )?;
        write!(
            f,
            "flu vaccination this season, 65+: {:.1}%; Type 1 opt-out: {} ({:.2}%)",
            s.flu_65_plus_percent(),
            s.opted_out,
            s.opted_out_percent()
        )
    }
}

/// What one patient's records say, gathered in one pass.
#[derive(Debug, Default, Clone, Copy)]
struct Acc {
    covering_start: Option<Date>,
    ended_here: bool,
    any_here: bool,
    temporary_here: bool,
    latest_end_here: Option<Date>,
    later_elsewhere: Option<Date>,
    here_count: usize,
    diabetes: Option<(Date, u64)>,
    diabetes_resolved: Option<Date>,
    hypertension: Option<Date>,
    hypertension_resolved: Option<Date>,
    asthma: Option<Date>,
    asthma_resolved: Option<Date>,
    hba1c: Option<(Date, f64)>,
    systolic: Option<(Date, f64)>,
    diastolic: Option<(Date, f64)>,
    flu_this_season: bool,
    opted_out: bool,
}

fn later<T: Copy>(slot: &mut Option<(Date, T)>, date: Date, v: T) {
    if slot.is_none_or(|(d, _)| date >= d) {
        *slot = Some((date, v));
    }
}

fn latest(slot: &mut Option<Date>, date: Date) {
    if slot.is_none_or(|d| date >= d) {
        *slot = Some(date);
    }
}

fn active(diagnosed: Option<Date>, resolved: Option<Date>) -> Option<bool> {
    diagnosed.map(|d| resolved.is_none_or(|r| r < d))
}

pub(crate) fn compute(p: &Practice) -> Stats {
    let reference = p.reference_date;
    let ref_days = to_days(reference);
    let year_ago = from_days(ref_days - 364);
    let season_year = if reference.month >= 9 {
        reference.year
    } else {
        reference.year - 1
    };
    let season_start = Date::ymd(season_year, 9, 1).expect("1 September");
    let index: HashMap<&str, usize> = p
        .patients
        .iter()
        .enumerate()
        .map(|(i, pt)| (pt.id.as_str(), i))
        .collect();
    let mut acc = vec![Acc::default(); p.patients.len()];
    for r in &p.registrations {
        let Some(&i) = index.get(r.patient_id.as_str()) else {
            continue;
        };
        let a = &mut acc[i];
        if r.practice == p.practice {
            a.any_here = true;
            match r.kind {
                RegistrationType::Temporary => a.temporary_here = true,
                RegistrationType::Regular => {
                    a.here_count += 1;
                    if r.start <= reference && r.end.is_none_or(|e| e > reference) {
                        a.covering_start = Some(r.start);
                    }
                    if let Some(e) = r.end.filter(|e| *e <= reference) {
                        a.ended_here = true;
                        latest(&mut a.latest_end_here, e);
                    }
                }
            }
        } else {
            latest(&mut a.later_elsewhere, r.start);
        }
    }
    for e in &p.events {
        let Some(&i) = index.get(e.patient_id.as_str()) else {
            continue;
        };
        let a = &mut acc[i];
        let d = e.date;
        match e.code {
            DIABETES | DIABETES_TYPE_1 | DIABETES_TYPE_2 => later(&mut a.diabetes, d, e.code),
            DIABETES_RESOLVED => latest(&mut a.diabetes_resolved, d),
            HYPERTENSION | ESSENTIAL_HYPERTENSION => latest(&mut a.hypertension, d),
            HYPERTENSION_RESOLVED => latest(&mut a.hypertension_resolved, d),
            ASTHMA => latest(&mut a.asthma, d),
            ASTHMA_RESOLVED => latest(&mut a.asthma_resolved, d),
            HBA1C_IFCC => later(&mut a.hba1c, d, e.value.unwrap_or(f64::NAN)),
            SYSTOLIC_BP => later(&mut a.systolic, d, e.value.unwrap_or(f64::NAN)),
            DIASTOLIC_BP => later(&mut a.diastolic, d, e.value.unwrap_or(f64::NAN)),
            FLU_VACCINATION | FLU_BY_PHARMACIST => {
                a.flu_this_season |= d >= season_start && d <= reference
            }
            TYPE_1_OPT_OUT => a.opted_out = true,
            _ => {}
        }
    }
    let mut s = Stats {
        patients: p.patients.len(),
        registrations: p.registrations.len(),
        events: p.events.len(),
        medications: p.medications.len(),
        ..Stats::default()
    };
    let recent = |d: Date| d >= year_ago && d <= reference;
    for (pt, a) in p.patients.iter().zip(&acc) {
        let dead = pt.death_date_unknown || pt.date_of_death.is_some_and(|d| d <= reference);
        if dead {
            s.died += 1;
        }
        if a.temporary_here {
            s.temporary_residents += 1;
        }
        if !a.any_here {
            s.elsewhere_only += 1;
        }
        let registered = a.covering_start.is_some() && !dead;
        if !registered {
            if a.ended_here && !dead && a.covering_start.is_none() {
                s.left += 1;
                if a.later_elsewhere
                    .zip(a.latest_end_here)
                    .is_some_and(|(elsewhere, end)| elsewhere >= end)
                {
                    s.transferred += 1;
                }
            }
            continue;
        }
        s.registered += 1;
        if a.covering_start.is_some_and(recent) {
            s.joined_last_year += 1;
        }
        if a.here_count > 1 {
            s.returned += 1;
        }
        let age = pt.date_of_birth.map_or(0, |dob| age_on(dob, reference));
        if age < 16 {
            s.registered_under_16 += 1;
        }
        if age >= 17 {
            s.registered_17_plus += 1;
        }
        if age >= 65 {
            s.registered_65_plus += 1;
            if pt.sex == Sex::Female {
                s.registered_65_plus_female += 1;
            }
            if a.flu_this_season {
                s.flu_65_plus += 1;
            }
        }
        if a.opted_out {
            s.opted_out += 1;
        }
        match active(a.diabetes.map(|x| x.0), a.diabetes_resolved) {
            Some(true) if age >= 17 => {
                s.diabetes += 1;
                if a.diabetes.is_some_and(|x| x.1 == DIABETES_TYPE_1) {
                    s.diabetes_type_1 += 1;
                }
                if let Some((_, v)) = a.hba1c.filter(|h| recent(h.0)) {
                    s.diabetes_hba1c_12m += 1;
                    if v <= 58.0 {
                        s.diabetes_hba1c_58_or_less += 1;
                    }
                }
            }
            Some(false) => s.diabetes_resolved += 1,
            _ => {}
        }
        match active(a.hypertension, a.hypertension_resolved) {
            Some(true) => {
                s.hypertension += 1;
                if let (Some((ds, sys)), Some((dd, dia))) = (a.systolic, a.diastolic)
                    && recent(ds)
                    && recent(dd)
                {
                    s.hypertension_bp_12m += 1;
                    if sys <= 140.0 && dia <= 90.0 {
                        s.hypertension_bp_controlled += 1;
                    }
                }
            }
            Some(false) => s.hypertension_resolved += 1,
            None => {}
        }
        match active(a.asthma, a.asthma_resolved) {
            Some(true) => s.asthma += 1,
            Some(false) => s.asthma_resolved += 1,
            None => {}
        }
    }
    s
}
