//! Conditions and rules: three-valued logic with nulls, comparisons, date
//! arithmetic on variables, ordered rules, populations built on populations.

use super::*;

fn records() -> Vec<Record> {
    vec![
        // n1: no events at all
        p("n1"),
        // n2: diagnosed, never resolved, HbA1c 50
        p("n2"),
        ev("n2", "2020-01-01", DM, None),
        ev("n2", "2024-10-01", HBA1C, Some(50.0)),
        // n3: diagnosed, resolved later, HbA1c 60
        p("n3"),
        ev("n3", "2020-01-01", DM, None),
        ev("n3", "2021-01-01", RES, None),
        ev("n3", "2024-10-01", HBA1C, Some(60.0)),
        // n4: resolved, then diagnosed again; no HbA1c
        p("n4"),
        ev("n4", "2020-01-01", RES, None),
        ev("n4", "2021-01-01", DM, None),
        // n5: diagnosed and resolved on the same day
        p("n5"),
        ev("n5", "2020-01-01", DM, None),
        ev("n5", "2020-01-01", RES, None),
    ]
}

const HEAD: &str = r#"id: logic
title: logic
source: "conformance suite"
parameters:
  PPED: { type: date, default: 2025-03-31 }
clusters:
  DM:    { system: snomed, codes: ["73211009"] }
  RES:   { system: snomed, codes: ["315051004"] }
  HBA1C: { system: snomed, codes: ["999791000000106"] }
variables:
  DMLAT: { latest: { cluster: DM, on_or_before: PPED } }
  RESLAT: { latest: { cluster: RES, on_or_before: PPED } }
  VAL: { latest_value: { cluster: HBA1C, between: [PPED - 12 months + 1 day, PPED] } }
  AGE: { age: { on: PPED } }
"#;

/// Patients a population selects.
fn selected(populations: &str, output: &str) -> Vec<String> {
    let q = format!(
        "{HEAD}populations:\n{populations}\noutput:\n  record_level:\n    population: {output}\n    columns: [{{ name: id, value: patient_id, class: pseudonym }}, {{ name: v, value: AGE, class: non_identifying }}]\n"
    );
    rows(&run(&q, &[], &records())).into_keys().collect()
}

fn when(condition: &str) -> Vec<String> {
    selected(
        &format!(
            "  P:\n    from: all_patients\n    rules:\n      - when: {condition}\n        then: select\n        else: reject\n"
        ),
        "P",
    )
}

#[test]
fn conditions_with_nulls() {
    let cases: &[(&str, &[&str])] = &[
        ("DMLAT is null", &["n1"]),
        ("DMLAT is not null", &["n2", "n3", "n4", "n5"]),
        // a comparison with null is null, and null takes the else branch
        ("RESLAT < DMLAT", &["n4"]),
        // not null is null
        ("not (RESLAT < DMLAT)", &["n3", "n5"]),
        ("RESLAT is null or RESLAT < DMLAT", &["n1", "n2", "n4"]),
        ("VAL <= 58", &["n2"]),
        ("VAL > 58", &["n3"]),
        ("not (VAL <= 58)", &["n3"]),
        // null or true is true; null and false is false; null and true is null
        ("VAL <= 58 or true", &["n1", "n2", "n3", "n4", "n5"]),
        ("VAL <= 58 and false", &[]),
        ("VAL <= 58 and true", &["n2"]),
        ("VAL <= 58 or DMLAT is null", &["n1", "n2"]),
        ("DMLAT = RESLAT", &["n5"]),
        ("DMLAT != RESLAT", &["n3", "n4"]),
        ("DMLAT > 2020-06-30", &["n4"]),
        ("DMLAT + 1 year > RESLAT", &["n4", "n5"]),
        (
            "AGE >= 17 and not (DMLAT is null)",
            &["n2", "n3", "n4", "n5"],
        ),
        ("AGE = 64", &["n1", "n2", "n3", "n4", "n5"]),
    ];
    for (condition, want) in cases {
        assert_eq!(when(condition), *want, "when: {condition}");
    }
}

const DM_REG: &str = r#"  DM_REG:
    from: all_patients
    rules:
      - when: DMLAT is null
        then: reject
        else: next
      - when: RESLAT is null or RESLAT < DMLAT
        then: select
        else: reject
"#;

#[test]
fn ordered_rules_and_populations_of_populations() {
    assert_eq!(selected(DM_REG, "DM_REG"), ["n2", "n4"]);
    let more = format!(
        "{DM_REG}  NOT_REG_NO_VALUE:\n    from: all_patients\n    rules:\n      - {{ when: DM_REG, then: reject, else: next }}\n      - {{ when: VAL is null, then: select, else: reject }}\n  REG_NO_VALUE:\n    from: DM_REG\n    rules: [ {{ when: VAL is null, then: select, else: reject }} ]\n  SAME:\n    from: DM_REG\n"
    );
    assert_eq!(selected(&more, "NOT_REG_NO_VALUE"), ["n1", "n5"]);
    assert_eq!(selected(&more, "REG_NO_VALUE"), ["n4"]);
    assert_eq!(selected(&more, "SAME"), ["n2", "n4"]);
}

#[test]
fn first_final_action_wins() {
    let pops = "  P:\n    from: all_patients\n    rules:\n      - { when: DMLAT is null, then: select, else: next }\n      - { when: VAL > 55, then: select, else: next }\n      - { when: RESLAT is not null, then: reject, else: select }\n";
    // n1 selected by rule 1; n3 by rule 2; n2 by rule 3's else (no RES);
    // n4 and n5 rejected by rule 3.
    assert_eq!(selected(pops, "P"), ["n1", "n2", "n3"]);
}

#[test]
fn a_population_may_use_one_defined_after_it() {
    let pops = format!(
        "  LATE:\n    from: DM_REG\n    rules: [ {{ when: VAL <= 58, then: select, else: reject }} ]\n{DM_REG}"
    );
    assert_eq!(selected(&pops, "LATE"), ["n2"]);
}
