//! `QuerySpec::explain`: the rules of a query in plain English.

use gpes_query::{NULL_NOTE, Output, QuerySpec};
use std::path::PathBuf;

/// An example query, with the code-list files it names read beside it.
fn parse_example(path: &std::path::Path) -> QuerySpec {
    let dir = path.parent().expect("in a folder").to_path_buf();
    let lists = move |f: &str| std::fs::read_to_string(dir.join(f)).map_err(|e| e.to_string());
    let text = std::fs::read_to_string(path).unwrap();
    gpes_query::parse_with(&path.display().to_string(), &text, &lists).unwrap()
}

fn examples() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/queries");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    files
}

#[test]
fn every_example_is_explained() {
    for path in examples() {
        let spec = parse_example(&path);
        let words = spec.explain();
        assert!(!words.trim().is_empty(), "{}", path.display());
        assert!(words.contains(&spec.title), "{}", path.display());
        assert!(words.contains(NULL_NOTE), "{}", path.display());
        for p in &spec.populations {
            assert!(
                words.contains(&format!("  {} starts from", p.name)),
                "{}: population {}",
                path.display(),
                p.name
            );
            for i in 1..=p.rules.len() {
                assert!(
                    words.contains(&format!("    {i}. If ")),
                    "{}: {} rule {i}",
                    path.display(),
                    p.name
                );
            }
        }
        for v in &spec.variables {
            assert!(words.contains(&format!("  {}: ", v.name)));
        }
        if let Output::RecordLevel { columns, .. } = &spec.output {
            for c in columns {
                assert!(words.contains(&format!("    {}: ", c.name)));
            }
        }
        // Deterministic.
        assert_eq!(words, spec.explain());
    }
}

#[test]
fn dm020_reads_as_business_rules() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/queries/dm020.yaml");
    let spec = parse_example(&path);
    let words = spec.explain();
    for line in [
        "DM020 — Diabetes: IFCC-HbA1c 58 mmol/mol or less in the preceding 12 months",
        "  PPED (payment period end date): 31 March 2025 unless the collection says otherwise.",
        "  DM_COD (diabetes mellitus): 79 SNOMED CT codes, the code list of reference set 999004691000230108 (version copied 2025-10).",
        "  IFCCHBAM_COD (IFCC HbA1c monitoring range): 3 SNOMED CT codes, the code list of reference set 999003251000230103 (version copied 2025-10).",
        "  REG: whether the patient is registered (regular registration) on PPED.",
        "  DMLAT_DAT: the date of the latest DM_COD code on or before PPED.",
        "  AGE: the patient's age in whole years on PPED.",
        "  DM_REG starts from patients for whom REG is true.",
        "    1. If DMLAT_DAT is recorded and (DMRES_DAT is not recorded or DMRES_DAT is before DMLAT_DAT): go on to the next rule; otherwise leave them out.",
        "    2. If AGE is under 17: leave them out; otherwise include them.",
        "  DM020_DEN starts from the patients in DM_REG.",
        "    1. If (MOD_DAT is recorded and (MILD_DAT is not recorded or MILD_DAT is on or before MOD_DAT)) or (SEV_DAT is recorded and (MILD_DAT is not recorded or MILD_DAT is on or before SEV_DAT)): leave them out; otherwise go on to the next rule.",
        "    8. If (IFCC_VAL is over 58 and DMINVITE1_DAT is after IFCC_DAT and DMINVITE2_DAT is recorded) or (DMINVITE1_DAT is recorded and DMINVITE2_DAT is recorded and IFCC_DAT is not recorded): leave them out; otherwise go on to the next rule.",
        "    10. If REG_DAT is after 9 months before PPED: leave them out; otherwise include them.",
        "  A count of patients in DM_REG, DM020_DEN and DM020_NUM.",
    ] {
        assert!(words.contains(line), "missing {line:?} in\n{words}");
    }
    assert!(words.contains("between 12 months before PPED (plus 1 day) and PPED"));
}

const SMALL: &str = r#"
id: small
title: Small
source: a test
parameters:
  START: { type: date, default: 2024-04-01 }
  LIMIT: { type: number }
clusters:
  A_COD: { system: snomed, codes: ["73211009"] }
variables:
  REG: { registered: { on: START } }
  AGE: { age: { on: START } }
  SEX: { sex: {} }
  A_DAT: { latest: { cluster: A_COD, after: START - 2 years, before: START } }
  A_N: { count: { cluster: A_COD } }
  A_ANY: { exists: { cluster: A_COD, on_or_after: 2020-01-31 } }
populations:
  BASE:
    from: all_patients
  P:
    from: REG
    rules:
      - { when: "AGE < 18", then: next, else: next }
      - { when: "AGE <= 18", then: next, else: next }
      - { when: "AGE > 18", then: next, else: next }
      - { when: "AGE >= LIMIT", then: next, else: next }
      - { when: "A_DAT < START - 1 month", then: next, else: next }
      - { when: "A_DAT <= 2024-02-29", then: next, else: next }
      - { when: "A_DAT > START + 1 day", then: next, else: next }
      - { when: "A_DAT >= START - 1 year + 2 days - 1 day", then: next, else: next }
      - { when: "SEX = 'female'", then: next, else: next }
      - { when: "SEX != 'male'", then: next, else: next }
      - { when: "A_N = 0", then: next, else: next }
      - { when: "A_DAT is null", then: next, else: next }
      - { when: "A_DAT is not null", then: next, else: next }
      - { when: "not (AGE < 18 or A_ANY) and not A_ANY", then: next, else: next }
      - { when: "(AGE < 18 and A_ANY) or BASE", then: next, else: next }
      - { when: "not BASE", then: select, else: reject }
output:
  record_level:
    population: P
    columns:
      - { name: nhs, value: nhs_number, class: identifier }
      - { name: pid, value: patient_id, class: pseudonym }
      - { name: age, value: AGE, class: non_identifying }
"#;

#[test]
fn sentences_for_each_kind_of_condition() {
    let spec = gpes_query::parse("small.yaml", SMALL).unwrap_or_else(|e| panic!("{e}"));
    let words = spec.explain();
    let expected = [
        "Parameters",
        "  START: 1 April 2024 unless the collection says otherwise.",
        "  LIMIT: a number the collection must give.",
        "  A_DAT: the date of the latest A_COD code after 2 years before START and before START.",
        "  A_N: the number of A_COD codes at any date.",
        "  A_ANY: whether there is any A_COD code on or after 31 January 2020.",
        "  SEX: the patient's sex (male, female, other or unknown).",
        "  BASE starts from all patients, and includes all of them.",
        "  P starts from patients for whom REG is true.",
        "    1. If AGE is under 18: go on to the next rule; otherwise go on to the next rule.",
        "    2. If AGE is at most 18: ",
        "    3. If AGE is over 18: ",
        "    4. If AGE is at least LIMIT: ",
        "    5. If A_DAT is before 1 month before START: ",
        "    6. If A_DAT is on or before 29 February 2024: ",
        "    7. If A_DAT is after 1 day after START: ",
        "    8. If A_DAT is on or after 1 year before START (plus 2 days) (minus 1 day): ",
        "    9. If SEX is \"female\": ",
        "    10. If SEX is not \"male\": ",
        "    11. If A_N is 0: ",
        "    12. If A_DAT is not recorded: ",
        "    13. If A_DAT is recorded: ",
        "    14. If not (AGE is under 18 or A_ANY is true) and A_ANY is false: ",
        "    15. If (AGE is under 18 and A_ANY is true) or the patient is in BASE: ",
        "    16. If the patient is not in BASE: include them; otherwise leave them out.",
        NULL_NOTE,
        "  One row for each patient in P, with these columns:",
        "    nhs: the patient's NHS number (identifier).",
        "    pid: the patient's identifier in the clinical system (pseudonym).",
        "    age: AGE (non-identifying).",
    ];
    for line in expected {
        assert!(words.contains(line), "missing {line:?} in\n{words}");
    }
}

#[test]
fn aggregate_breakdown_in_words() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/queries/flu65.yaml");
    let spec = parse_example(&path);
    let words = spec.explain();
    assert!(
        words.contains(
            "  A count of patients in COHORT and VACCINATED, by sex and age band on SEASON_END (0-64, 65-74, 75-84, 85+, unknown)."
        ),
        "{words}"
    );
    assert!(words.contains("    1. If VACC is true: include them; otherwise leave them out."));
}

#[test]
fn ast007_reads_as_business_rules() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/queries/ast007.yaml");
    let words = parse_example(&path).explain();
    for line in [
        "  PLAN_ON_REV: whether there is any WRITPASTP_COD code on REV_DAT.",
        "  CONTROL_BY_REV: whether there is any ASTCONTASS_COD code between 1 month before REV_DAT and REV_DAT.",
        "    1. If REV_DAT is recorded and PLAN_ON_REV is true and CONTROL_BY_REV is true and EXAC_BY_REV is true: include them; otherwise go on to the next rule.",
        "    5. If ASTINVITE1_DAT is recorded and ASTINVITE2_DAT is recorded: leave them out; otherwise go on to the next rule.",
        "    7. If REG_DAT is after 3 months before PPED: leave them out; otherwise include them.",
    ] {
        assert!(words.contains(line), "missing {line:?} in\n{words}");
    }
}
