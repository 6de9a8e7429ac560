//! Each transcribed indicator over a tiny practice counted by hand: one or
//! two patients per rule, the expected counts written from the rules, not
//! from the engine.

use gpes_model::{Date, Event, Patient, Record, Registration, RegistrationType, Sex};
use gpes_query::{Answer, ResultOutput};
use std::collections::BTreeMap;

const PRACTICE: &str = "A81001";

fn d(s: &str) -> Date {
    Date::parse_iso(s).expect("test date")
}

fn example(file: &str) -> gpes_query::QuerySpec {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/queries")
        .join(file);
    let text = std::fs::read_to_string(&path).expect("example exists");
    gpes_query::parse(file, &text).unwrap_or_else(|e| panic!("{e}"))
}

fn counts(answer: &Answer) -> BTreeMap<String, u64> {
    let ResultOutput::Aggregate(a) = &answer.output else {
        panic!("aggregate expected");
    };
    a.populations
        .iter()
        .map(|p| (p.population.clone(), p.count.expect("not suppressed")))
        .collect()
}

/// A small practice's records, built patient by patient.
#[derive(Default)]
struct Practice(Vec<Record>);

impl Practice {
    /// A patient born on `dob`, registered from `registered`.
    fn patient(&mut self, id: &str, dob: &str, registered: &str) -> &mut Self {
        self.0.push(Record::Patient(Patient {
            id: id.into(),
            nhs_number: None,
            date_of_birth: Some(d(dob)),
            sex: Sex::Female,
            postcode: None,
            date_of_death: None,
            death_date_unknown: false,
        }));
        self.0.push(Record::Registration(Registration {
            patient_id: id.into(),
            practice: PRACTICE.into(),
            start: d(registered),
            end: None,
            kind: RegistrationType::Regular,
        }));
        self
    }
    fn event(&mut self, id: &str, date: &str, code: u64, value: Option<f64>) -> &mut Self {
        self.0.push(Record::Event(Event {
            patient_id: id.into(),
            date: d(date),
            code,
            value,
            unit: None,
        }));
        self
    }
    fn bp(&mut self, id: &str, date: &str, sys: f64, dia: f64) -> &mut Self {
        self.event(id, date, SYS, Some(sys))
            .event(id, date, DIA, Some(dia))
    }
}

const HYP: u64 = 38341003;
const ESSENTIAL: u64 = 59621000;
const HYPRES: u64 = 162659009;
const SYS: u64 = 271649006;
const DIA: u64 = 271650006;
const HTMAX: u64 = 407567007;
const PCA_UNSUITABLE: u64 = 716821000000100;
const PCA_DECLINED: u64 = 716771000000106;
const BP_DECLINED: u64 = 413123006;
const INVITE: u64 = 310427004;
const LETTER: u64 = 185719002;

/// Hypertensive patients (diagnosed in 2015 unless said), each reaching one
/// rule of HYP008 or HYP009 (PPED 2025-03-31: the 12 months are from
/// 2024-04-01, the 9 months from 2024-07-01).
fn hypertension_practice() -> Vec<Record> {
    let mut p = Practice::default();
    let adult = "1960-01-01"; // 65
    let long = "2010-01-01";
    // h1: controlled (essential hypertension code): rule 2 selects.
    p.patient("h1", adult, long)
        .event("h1", "2015-01-01", ESSENTIAL, None)
        .bp("h1", "2024-10-01", 130.0, 80.0);
    // h2: above target; a later systolic alone does not make a same day.
    p.patient("h2", adult, long)
        .event("h2", "2015-01-01", HYP, None)
        .bp("h2", "2024-10-01", 150.0, 80.0)
        .event("h2", "2024-12-01", SYS, Some(120.0));
    // h3: two pairs on the latest day: the lowest of each, 138/85.
    p.patient("h3", adult, long)
        .event("h3", "2015-01-01", HYP, None)
        .bp("h3", "2024-10-01", 150.0, 95.0)
        .bp("h3", "2024-10-01", 138.0, 85.0);
    // h4: above target on maximal therapy: rule 3.
    p.patient("h4", adult, long)
        .event("h4", "2015-01-01", HYP, None)
        .bp("h4", "2024-10-01", 150.0, 95.0)
        .event("h4", "2024-11-01", HTMAX, None);
    // h5, h6, h7: no reading; unsuitable, BP declined, care declined.
    p.patient("h5", adult, long)
        .event("h5", "2015-01-01", HYP, None)
        .event("h5", "2024-08-01", PCA_UNSUITABLE, None);
    p.patient("h6", adult, long)
        .event("h6", "2015-01-01", HYP, None)
        .event("h6", "2024-08-01", BP_DECLINED, None);
    p.patient("h7", adult, long)
        .event("h7", "2015-01-01", HYP, None)
        .event("h7", "2024-08-01", PCA_DECLINED, None);
    // h8: above target, then two invitations exactly 7 days apart: rule 7.
    p.patient("h8", adult, long)
        .event("h8", "2015-01-01", HYP, None)
        .bp("h8", "2024-05-01", 150.0, 95.0)
        .event("h8", "2024-06-01", LETTER, None)
        .event("h8", "2024-06-08", INVITE, None);
    // h9: the same but 6 days apart: not two invitations.
    p.patient("h9", adult, long)
        .event("h9", "2015-01-01", HYP, None)
        .bp("h9", "2024-05-01", 150.0, 95.0)
        .event("h9", "2024-06-01", INVITE, None)
        .event("h9", "2024-06-07", INVITE, None);
    // h10: no reading in the 12 months, invited twice: rule 7.
    p.patient("h10", adult, long)
        .event("h10", "2015-01-01", HYP, None)
        .bp("h10", "2023-01-01", 130.0, 80.0)
        .event("h10", "2024-06-01", INVITE, None)
        .event("h10", "2024-07-01", INVITE, None);
    // h11: the first invitation of the year is before the reading, so the
    // reading was not followed by two: stays.
    p.patient("h11", adult, long)
        .event("h11", "2015-01-01", HYP, None)
        .bp("h11", "2024-05-01", 150.0, 95.0)
        .event("h11", "2024-04-10", INVITE, None)
        .event("h11", "2024-06-01", INVITE, None);
    // h12: diagnosed in the last 9 months, no reading: rule 8.
    p.patient("h12", adult, long)
        .event("h12", "2024-08-01", HYP, None);
    // h13: registered in the last 9 months, no reading: rule 9.
    p.patient("h13", adult, "2024-09-01")
        .event("h13", "2015-01-01", HYP, None);
    // h14: registered in the last 9 months but controlled: rule 2 first.
    p.patient("h14", adult, "2024-09-01")
        .event("h14", "2015-01-01", HYP, None)
        .bp("h14", "2024-10-01", 120.0, 70.0);
    // h15: resolved: not on the register.
    p.patient("h15", adult, long)
        .event("h15", "2015-01-01", HYP, None)
        .event("h15", "2020-01-01", HYPRES, None)
        .bp("h15", "2024-10-01", 120.0, 70.0);
    // h16: 80, 145/85: HYP009's target, not HYP008's age.
    p.patient("h16", "1945-01-01", long)
        .event("h16", "2015-01-01", HYP, None)
        .bp("h16", "2024-10-01", 145.0, 85.0);
    // h17: 85, 160/85: in HYP009's denominator only.
    p.patient("h17", "1940-01-01", long)
        .event("h17", "2015-01-01", ESSENTIAL, None)
        .bp("h17", "2024-10-01", 160.0, 85.0);
    // h18: 79 on PPED (80 the next day): HYP008.
    p.patient("h18", "1945-04-01", long)
        .event("h18", "2015-01-01", HYP, None)
        .bp("h18", "2024-10-01", 135.0, 85.0);
    // h19: the latest diastolic has no value: the day before with both
    // counts, above target.
    p.patient("h19", adult, long)
        .event("h19", "2015-01-01", HYP, None)
        .bp("h19", "2024-06-01", 150.0, 95.0)
        .event("h19", "2024-11-01", SYS, Some(120.0))
        .event("h19", "2024-11-01", DIA, None);
    // h20: a reading only after PPED: no reading; reaches the end.
    p.patient("h20", adult, long)
        .event("h20", "2015-01-01", HYP, None)
        .bp("h20", "2025-04-02", 120.0, 70.0);
    p.0
}

fn run(file: &str) -> BTreeMap<String, u64> {
    let spec = example(file);
    let bound = spec.bind(PRACTICE, &BTreeMap::new()).expect("binds");
    let records = hypertension_practice();
    let forward = bound.evaluate(&records);
    assert_eq!(forward, bound.evaluate(records.iter().rev()));
    counts(&forward)
}

#[test]
fn hyp008_by_hand() {
    let c = run("hyp008.yaml");
    // Everyone but h15 is on the register.
    assert_eq!(c["HYP_REG"], 19);
    // In: h1, h3, h14, h18 (rule 2), h2, h9, h11, h19, h20 (the end).
    // Out: h16, h17 (age), h4..h7 (rules 3-6), h8, h10 (rule 7), h12
    // (rule 8), h13 (rule 9).
    assert_eq!(c["HYP008_DEN"], 9);
    assert_eq!(c["HYP008_NUM"], 4);
}

#[test]
fn hyp009_by_hand() {
    let c = run("hyp009.yaml");
    assert_eq!(c["HYP_REG"], 19);
    // h16 (rule 2) and h17 (the end); h18 is 79.
    assert_eq!(c["HYP009_DEN"], 2);
    assert_eq!(c["HYP009_NUM"], 1);
}

#[test]
fn hyp008_explains_the_same_day_rule() {
    let text = example("hyp008.yaml").explain();
    for words in [
        "the latest date on or before PPED on which SYSBP_COD and DIABP_COD codes with a value were all recorded",
        "the lowest value of the SYSBP_COD codes on BP_DAT",
        "7 days after HYPINVITE1_DAT",
    ] {
        assert!(text.contains(words), "missing {words:?} in:\n{text}");
    }
}

const DM2: u64 = 44054006;
const HBA1C: u64 = 999791000000106;
const MILD: u64 = 925791000000100;
const MODERATE: u64 = 925831000000107;
const SEVERE: u64 = 925861000000102;

/// Diabetic patients (diagnosed in 2015 unless said), each reaching one
/// rule of DM021.
fn frailty_practice() -> Vec<Record> {
    let mut p = Practice::default();
    let old = "1944-06-01"; // 80
    let long = "2010-01-01";
    // d1: moderate frailty, HbA1c 70: rule 2 selects.
    p.patient("d1", old, long)
        .event("d1", "2015-01-01", DM2, None)
        .event("d1", "2024-01-01", MODERATE, None)
        .event("d1", "2024-10-01", HBA1C, Some(70.0));
    // d2: severe frailty, HbA1c 80: above target, reaches the end.
    p.patient("d2", old, long)
        .event("d2", "2015-01-01", DM2, None)
        .event("d2", "2023-01-01", SEVERE, None)
        .event("d2", "2024-10-01", HBA1C, Some(80.0));
    // d3: mild frailty only: rule 1.
    p.patient("d3", old, long)
        .event("d3", "2015-01-01", DM2, None)
        .event("d3", "2024-01-01", MILD, None)
        .event("d3", "2024-10-01", HBA1C, Some(60.0));
    // d4: moderate, later mild: no longer moderately frail: rule 1.
    p.patient("d4", old, long)
        .event("d4", "2015-01-01", DM2, None)
        .event("d4", "2022-01-01", MODERATE, None)
        .event("d4", "2024-05-01", MILD, None)
        .event("d4", "2024-10-01", HBA1C, Some(60.0));
    // d5: mild and moderate on the same day: moderate; HbA1c 74.
    p.patient("d5", old, long)
        .event("d5", "2015-01-01", DM2, None)
        .event("d5", "2024-05-01", MILD, None)
        .event("d5", "2024-05-01", MODERATE, None)
        .event("d5", "2024-10-01", HBA1C, Some(74.0));
    // d6: registered in the last 3 months, no HbA1c: rule 3.
    p.patient("d6", old, "2025-01-15")
        .event("d6", "2015-01-01", DM2, None)
        .event("d6", "2024-01-01", MODERATE, None);
    // d7: diagnosed in the last 9 months, no HbA1c: rule 4.
    p.patient("d7", old, long)
        .event("d7", "2024-08-01", DM2, None)
        .event("d7", "2024-01-01", SEVERE, None);
    // d8: frail, not diabetic: not on the register.
    p.patient("d8", old, long)
        .event("d8", "2024-01-01", MODERATE, None);
    // d9: frail, last HbA1c more than 12 months ago: reaches the end.
    p.patient("d9", old, long)
        .event("d9", "2015-01-01", DM2, None)
        .event("d9", "2024-01-01", MODERATE, None)
        .event("d9", "2024-02-01", HBA1C, Some(60.0));
    p.0
}

#[test]
fn dm021_by_hand() {
    let spec = example("dm021.yaml");
    let bound = spec.bind(PRACTICE, &BTreeMap::new()).expect("binds");
    let records = frailty_practice();
    let answer = bound.evaluate(&records);
    assert_eq!(answer, bound.evaluate(records.iter().rev()));
    let c = counts(&answer);
    assert_eq!(c["DM_REG"], 8);
    // In: d1, d5 (rule 2), d2, d9 (the end). Out: d3, d4 (rule 1), d6
    // (rule 3), d7 (rule 4).
    assert_eq!(c["DM021_DEN"], 4);
    assert_eq!(c["DM021_NUM"], 2);
}
