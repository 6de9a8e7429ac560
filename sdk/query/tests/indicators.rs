//! Each transcribed indicator over a tiny practice counted by hand: one or
//! two patients per rule, the expected counts written from the rules, not
//! from the engine.

use gpes_model::{Date, Event, Medication, Patient, Record, Registration, RegistrationType, Sex};
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
    let dir = path.parent().expect("folder").to_path_buf();
    let lists = move |f: &str| std::fs::read_to_string(dir.join(f)).map_err(|e| e.to_string());
    gpes_query::parse_with(file, &text, &lists).unwrap_or_else(|e| panic!("{e}"))
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
    fn medication(&mut self, id: &str, date: &str, code: u64) -> &mut Self {
        self.0.push(Record::Medication(Medication {
            patient_id: id.into(),
            date: d(date),
            code,
            quantity: Some(1.0),
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
    // d6: registered in the last 3 months, no HbA1c: rule 10 (9 months).
    p.patient("d6", old, "2025-01-15")
        .event("d6", "2015-01-01", DM2, None)
        .event("d6", "2024-01-01", MODERATE, None);
    // d7: diagnosed in the last 9 months, no HbA1c: rule 9.
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
    // (rule 10), d7 (rule 9).
    assert_eq!(c["DM021_DEN"], 4);
    assert_eq!(c["DM021_NUM"], 2);
}

/// Evaluates an example over `records`, in both orders, and counts.
fn evaluate(file: &str, records: &[Record]) -> BTreeMap<String, u64> {
    let bound = example(file)
        .bind(PRACTICE, &BTreeMap::new())
        .expect("binds");
    let answer = bound.evaluate(records);
    assert_eq!(answer, bound.evaluate(records.iter().rev()), "{file}");
    counts(&answer)
}

const SERFRUC: u64 = 1006751000000102;
const DMMAX: u64 = 407569005;
const DMPCAPU: u64 = 717421000000100;
const BLDTESTDEC: u64 = 116471000119100;
const DMPCADEC: u64 = 716031000000106;
const DMINVITE: u64 = 310425007;
const DMLETTER: u64 = 185756006;

/// Diabetic patients (diagnosed in 2015, registered since 2010, aged 65,
/// unless said), each reaching one rule of DM020 (PPED 2025-03-31: the 12
/// months from 2024-04-01, the 9 months from 2024-07-01).
fn dm020_practice() -> Vec<Record> {
    let mut p = Practice::default();
    let adult = "1960-01-01";
    let long = "2010-01-01";
    let dm = |p: &mut Practice, id: &str| {
        p.patient(id, adult, long)
            .event(id, "2015-01-01", DM2, None);
    };
    // e1: severe frailty: rule 1 (DM021's instead).
    dm(&mut p, "e1");
    p.event("e1", "2024-06-01", SEVERE, None)
        .event("e1", "2024-10-01", HBA1C, Some(50.0));
    // e2: 58 exactly: rule 2 selects, whatever follows (declined care too).
    dm(&mut p, "e2");
    p.event("e2", "2024-10-01", HBA1C, Some(58.0))
        .event("e2", "2024-11-01", DMPCADEC, None);
    // e3: no HbA1c in the year, fructosamine in it: rule 3.
    dm(&mut p, "e3");
    p.event("e3", "2023-10-01", HBA1C, Some(50.0))
        .event("e3", "2024-10-01", SERFRUC, Some(300.0));
    // e4: 70, maximal treatment: rule 4.
    dm(&mut p, "e4");
    p.event("e4", "2024-10-01", HBA1C, Some(70.0))
        .event("e4", "2024-12-01", DMMAX, None);
    // e5, e6, e7: no HbA1c; unsuitable, blood test declined, care
    // declined: rules 5, 6, 7.
    dm(&mut p, "e5");
    p.event("e5", "2024-08-01", DMPCAPU, None);
    dm(&mut p, "e6");
    p.event("e6", "2024-08-01", BLDTESTDEC, None);
    dm(&mut p, "e7");
    p.event("e7", "2024-08-01", DMPCADEC, None);
    // e8: 70, then two invitations 7 days apart: rule 8.
    dm(&mut p, "e8");
    p.event("e8", "2024-05-01", HBA1C, Some(70.0))
        .event("e8", "2024-06-01", DMLETTER, None)
        .event("e8", "2024-06-08", DMINVITE, None);
    // e9: no HbA1c in the year, invited twice: rule 8.
    dm(&mut p, "e9");
    p.event("e9", "2024-06-01", DMINVITE, None)
        .event("e9", "2024-09-01", DMINVITE, None);
    // e10: 70, invitations 6 days apart: not two; reaches the end.
    dm(&mut p, "e10");
    p.event("e10", "2024-05-01", HBA1C, Some(70.0))
        .event("e10", "2024-06-01", DMINVITE, None)
        .event("e10", "2024-06-07", DMINVITE, None);
    // e11: diagnosed in the last 9 months: rule 9.
    p.patient("e11", adult, long)
        .event("e11", "2024-08-01", DM2, None);
    // e12: registered in the last 9 months: rule 10.
    dm(&mut p, "e12");
    p.patient("e12b", adult, "2024-09-01")
        .event("e12b", "2015-01-01", DM2, None);
    // e13: mild frailty after a moderate one: not frail; 55: rule 2.
    dm(&mut p, "e13");
    p.event("e13", "2023-01-01", MODERATE, None)
        .event("e13", "2024-02-01", MILD, None)
        .event("e13", "2024-10-01", HBA1C, Some(55.0));
    p.0
}

#[test]
fn dm020_by_hand() {
    let c = evaluate("dm020.yaml", &dm020_practice());
    // Every one of e1..e13 and e12b is on the register.
    assert_eq!(c["DM_REG"], 14);
    // In: e2, e13 (rule 2); e10, e12 (the end: e12 registered long ago).
    // Out: e1 (1), e3 (3), e4 (4), e5 (5), e6 (6), e7 (7), e8, e9 (8),
    // e11 (9), e12b (10).
    assert_eq!(c["DM020_DEN"], 4);
    assert_eq!(c["DM020_NUM"], 2);
    // DM021 on the same patients: only e1 is frail, 50 <= 75.
    let c = evaluate("dm021.yaml", &dm020_practice());
    assert_eq!(c["DM021_DEN"], 1);
    assert_eq!(c["DM021_NUM"], 1);
}

const ASTHMA: u64 = 195967001;
const ASTRES: u64 = 162660004;
const SALBUTAMOL: u64 = 39113611000001102;
const REVIEW: u64 = 270442000;
const PLAN: u64 = 527171000000103;
const CONTROL: u64 = 443117005;
const EXACERBATIONS: u64 = 366874008;
const ASTPCAPU: u64 = 717291000000103;
const ASTMONDEC: u64 = 763221007;
const ASTPCADEC: u64 = 716491000000100;
const ASTINVITE: u64 = 185731000;

/// Asthmatic patients (diagnosed in 2015, treated in 2024, aged 30,
/// registered since 2010, unless said), each reaching one rule of AST007
/// (the 12 months from 2024-04-01, the 3 months from 2025-01-01).
fn asthma_practice() -> Vec<Record> {
    let mut p = Practice::default();
    let adult = "1995-01-01";
    let long = "2010-01-01";
    let ast = |p: &mut Practice, id: &str| {
        p.patient(id, adult, long)
            .event(id, "2015-01-01", ASTHMA, None)
            .medication(id, "2024-09-01", SALBUTAMOL);
    };
    // a1: review with the plan that day, control and exacerbations in
    // the month before: rule 1 selects.
    ast(&mut p, "a1");
    p.event("a1", "2024-10-15", REVIEW, None)
        .event("a1", "2024-10-15", PLAN, None)
        .event("a1", "2024-09-20", CONTROL, Some(20.0))
        .event("a1", "2024-10-15", EXACERBATIONS, Some(1.0));
    // a2: the plan the day after the review: not rule 1; reaches the end.
    ast(&mut p, "a2");
    p.event("a2", "2024-10-15", REVIEW, None)
        .event("a2", "2024-10-16", PLAN, None)
        .event("a2", "2024-10-15", CONTROL, None)
        .event("a2", "2024-10-15", EXACERBATIONS, None);
    // a3: control assessed more than a month before the review: the end.
    ast(&mut p, "a3");
    p.event("a3", "2024-10-15", REVIEW, None)
        .event("a3", "2024-10-15", PLAN, None)
        .event("a3", "2024-09-14", CONTROL, None)
        .event("a3", "2024-10-15", EXACERBATIONS, None);
    // a4, a5, a6: unsuitable, monitoring declined, care declined.
    ast(&mut p, "a4");
    p.event("a4", "2024-08-01", ASTPCAPU, None);
    ast(&mut p, "a5");
    p.event("a5", "2024-08-01", ASTMONDEC, None);
    ast(&mut p, "a6");
    p.event("a6", "2024-08-01", ASTPCADEC, None);
    // a7: invited twice, 7 days apart: rule 5.
    ast(&mut p, "a7");
    p.event("a7", "2024-06-01", ASTINVITE, None)
        .event("a7", "2024-06-08", ASTINVITE, None);
    // a8: diagnosed in the last 3 months: rule 6.
    p.patient("a8", adult, long)
        .event("a8", "2025-02-01", ASTHMA, None)
        .medication("a8", "2025-02-01", SALBUTAMOL);
    // a9: registered in the last 3 months: rule 7.
    p.patient("a9", adult, "2025-02-01")
        .event("a9", "2015-01-01", ASTHMA, None)
        .medication("a9", "2024-09-01", SALBUTAMOL);
    // a10: not treated in the year: not on the register.
    p.patient("a10", adult, long)
        .event("a10", "2015-01-01", ASTHMA, None)
        .medication("a10", "2023-09-01", SALBUTAMOL);
    // a11: resolved: not on the register.
    ast(&mut p, "a11");
    p.event("a11", "2020-01-01", ASTRES, None);
    // a12: aged 5: not on the register.
    p.patient("a12", "2020-01-01", "2020-01-01")
        .event("a12", "2022-01-01", ASTHMA, None)
        .medication("a12", "2024-09-01", SALBUTAMOL);
    // a13: a complete review, then a later bare one: only the latest
    // counts (INFERRED in the file): the end.
    ast(&mut p, "a13");
    p.event("a13", "2024-06-01", REVIEW, None)
        .event("a13", "2024-06-01", PLAN, None)
        .event("a13", "2024-06-01", CONTROL, None)
        .event("a13", "2024-06-01", EXACERBATIONS, None)
        .event("a13", "2024-12-01", REVIEW, None);
    p.0
}

#[test]
fn ast007_by_hand() {
    let c = evaluate("ast007.yaml", &asthma_practice());
    // a1..a9 and a13 are on the register; a10, a11, a12 are not.
    assert_eq!(c["AST_REG"], 10);
    // In: a1 (rule 1), a2, a3, a13 (the end). Out: a4 (2), a5 (3), a6
    // (4), a7 (5), a8 (6), a9 (7).
    assert_eq!(c["AST007_DEN"], 4);
    assert_eq!(c["AST007_NUM"], 1);
    // The register is the same as ast_reg.yaml's.
    assert_eq!(evaluate("ast_reg.yaml", &asthma_practice())["AST_REG"], 10);
}

const ANGINA: u64 = 194828000;
const MI: u64 = 22298006;
const AF: u64 = 49436004;
const AF_PAROXYSMAL: u64 = 282825002;
const AFRES: u64 = 196371000000102;

#[test]
fn chd001_and_af001_by_hand() {
    let mut p = Practice::default();
    let long = "2010-01-01";
    // c1: angina; c2: a myocardial infarction; c3: one after PPED.
    p.patient("c1", "1950-01-01", long)
        .event("c1", "2018-01-01", ANGINA, None);
    p.patient("c2", "1950-01-01", long)
        .event("c2", "2024-01-01", MI, None);
    p.patient("c3", "1950-01-01", long)
        .event("c3", "2025-04-01", MI, None);
    // f1: AF; f2: AF then resolved; f3: resolved, then AF again; f4:
    // resolved the same day as the latest AF code (off the register).
    p.patient("f1", "1950-01-01", long)
        .event("f1", "2018-01-01", AF, None);
    p.patient("f2", "1950-01-01", long)
        .event("f2", "2018-01-01", AF, None)
        .event("f2", "2020-01-01", AFRES, None);
    p.patient("f3", "1950-01-01", long)
        .event("f3", "2018-01-01", AF, None)
        .event("f3", "2020-01-01", AFRES, None)
        .event("f3", "2022-01-01", AF_PAROXYSMAL, None);
    p.patient("f4", "1950-01-01", long)
        .event("f4", "2018-01-01", AF, None)
        .event("f4", "2018-01-01", AFRES, None);
    let records = p.0;
    assert_eq!(evaluate("chd001.yaml", &records)["CHD_REG"], 2);
    assert_eq!(evaluate("af001.yaml", &records)["AF_REG"], 2);
}

const SMOKER: u64 = 77176002;
const EX_SMOKER: u64 = 8517006;
const NEVER_SMOKED: u64 = 266919005;

#[test]
fn smok002_by_hand() {
    let mut p = Practice::default();
    let adult = "1960-01-01";
    let long = "2010-01-01";
    // s1: diabetic, ex-smoker recorded in the year: rule 1.
    p.patient("s1", adult, long)
        .event("s1", "2015-01-01", DM2, None)
        .event("s1", "2024-06-01", EX_SMOKER, None);
    // s2: hypertensive, never smoked recorded two years ago: the end.
    p.patient("s2", adult, long)
        .event("s2", "2015-01-01", HYP, None)
        .event("s2", "2023-03-01", NEVER_SMOKED, None);
    // s3: CHD, smoker in the year: rule 1.
    p.patient("s3", adult, long)
        .event("s3", "2015-01-01", ANGINA, None)
        .event("s3", "2024-12-01", SMOKER, None);
    // s4: hypertension diagnosed in the last 3 months, no status: rule 2.
    p.patient("s4", adult, long)
        .event("s4", "2025-02-01", HYP, None);
    // s5: hypertension new, but diabetes old: not rule 2; the end.
    p.patient("s5", adult, long)
        .event("s5", "2025-02-01", HYP, None)
        .event("s5", "2015-01-01", DM2, None);
    // s6: registered in the last 3 months, no status: rule 3.
    p.patient("s6", adult, "2025-02-01")
        .event("s6", "2015-01-01", HYP, None);
    // s7: smoker, no condition: not on SMOK_REG.
    p.patient("s7", adult, long)
        .event("s7", "2024-06-01", SMOKER, None);
    // s8: treated asthma, status recorded after PPED only: the end.
    p.patient("s8", "1995-01-01", long)
        .event("s8", "2015-01-01", ASTHMA, None)
        .medication("s8", "2024-09-01", SALBUTAMOL)
        .event("s8", "2025-04-02", SMOKER, None);
    let c = evaluate("smok002.yaml", &p.0);
    assert_eq!(c["SMOK_REG"], 7);
    // In: s1, s3 (rule 1); s2, s5, s8 (the end). Out: s4 (2), s6 (3).
    assert_eq!(c["SMOK002_DEN"], 5);
    assert_eq!(c["SMOK002_NUM"], 2);
}

const FLU: u64 = 985151000000100;
const FLU_PHARMACY: u64 = 955691000000108;

#[test]
fn flu_by_hand() {
    let mut p = Practice::default();
    let long = "2010-01-01";
    // v1: 65 on 31 March 2025 (born 1960-03-31), vaccinated in October.
    p.patient("v1", "1960-03-31", long)
        .event("v1", "2024-10-01", FLU, None);
    // v2: 64 on 31 March (born 1960-04-01), diabetic, vaccinated at a
    // pharmacy: at risk.
    p.patient("v2", "1960-04-01", long)
        .event("v2", "2015-01-01", DM2, None)
        .event("v2", "2024-11-01", FLU_PHARMACY, None);
    // v3: 80, vaccinated last season only.
    p.patient("v3", "1945-01-01", long)
        .event("v3", "2023-10-01", FLU, None);
    // v4: 40 with CHD, not vaccinated.
    p.patient("v4", "1985-01-01", long)
        .event("v4", "2020-01-01", ANGINA, None);
    // v5: 30 with treated asthma, vaccinated on 1 September.
    p.patient("v5", "1995-01-01", long)
        .event("v5", "2015-01-01", ASTHMA, None)
        .medication("v5", "2024-09-01", SALBUTAMOL)
        .event("v5", "2024-09-01", FLU, None);
    // v6: 30, untreated asthma, vaccinated: not at risk here.
    p.patient("v6", "1995-01-01", long)
        .event("v6", "2015-01-01", ASTHMA, None)
        .event("v6", "2024-10-01", FLU, None);
    let c = evaluate("flu.yaml", &p.0);
    assert_eq!(c["AGED_65_PLUS"], 2);
    assert_eq!(c["VACCINATED_65_PLUS"], 1);
    assert_eq!(c["AT_RISK_UNDER_65"], 3);
    assert_eq!(c["VACCINATED_AT_RISK"], 2);
}
