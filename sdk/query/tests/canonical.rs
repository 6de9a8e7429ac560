//! Canonical JSON, content hash and data needs of validated queries.

use gpes_model::{Date, Table};
use std::collections::BTreeMap;

const DM020: &str = include_str!("queries/dm020.yaml");

#[test]
fn layout_key_order_quoting_and_code_order_do_not_change_the_hash() {
    let a = gpes_query::parse("a.yaml", DM020).expect("valid");
    let reordered = DM020
        .replace(
            r#"DM_COD:    { system: snomed, codes: ["73211009", "44054006", "46635009"] }"#,
            "DM_COD:\n    codes: [46635009, \"73211009\", '44054006', \"73211009\"]\n    system: snomed",
        )
        .replace(
            "AGE:          { age: { on: PPED } }",
            "AGE:\n    age:\n      on: \"PPED\"",
        );
    assert_ne!(reordered, DM020);
    let b = gpes_query::parse("b.yaml", &reordered).expect("valid");
    assert_eq!(a.canonical_json(), b.canonical_json());
    assert_eq!(
        a.content_hash().expect("hash"),
        b.content_hash().expect("hash")
    );
    let changed =
        gpes_query::parse("c.yaml", &DM020.replace("AGE >= 17", "AGE >= 18")).expect("valid");
    assert_ne!(
        a.content_hash().expect("hash"),
        changed.content_hash().expect("hash")
    );
}

#[test]
fn codes_are_strings_in_canonical_json() {
    let q = DM020.replace("999791000000106", "1064811000000103");
    let spec = gpes_query::parse("q.yaml", &q).expect("valid");
    let json = spec.canonical_json().expect("canonical");
    assert!(json.contains(r#""codes":["1064811000000103"]"#), "{json}");
    assert!(json.contains(r#""language":"gpes-query-language/1""#));
    assert!(
        spec.content_hash()
            .expect("hash")
            .to_string()
            .starts_with("sha256:")
    );
}

#[test]
fn needs_are_the_widest_windows_per_table() {
    let spec = gpes_query::parse("dm020.yaml", DM020).expect("valid");
    let bound = spec.bind("A81001", &BTreeMap::new()).expect("binds");
    let needs = bound.needs();
    assert_eq!(needs.tables, vec![Table::Patients, Table::Registrations]);
    assert_eq!(needs.code_sets.len(), 1);
    let events = &needs.code_sets[0];
    assert_eq!(events.table, Table::Events);
    assert_eq!(
        events.codes,
        vec![44054006, 46635009, 73211009, 315051004, 999791000000106]
    );
    // DMLAT_DAT has no lower bound, so the request has none.
    assert_eq!(events.earliest, None);
    assert_eq!(events.latest, Some(Date::ymd(2025, 3, 31).expect("date")));
    assert!(!events.policy);
    let request = needs.request("A81001");
    assert_eq!(request.practice, "A81001");

    let rl =
        gpes_query::parse("rl.yaml", include_str!("queries/record_level.yaml")).expect("valid");
    let mut params = BTreeMap::new();
    params.insert("PPED".to_string(), "2024-03-31".to_string());
    let needs = rl.bind("A81001", &params).expect("binds").needs();
    let by_table: BTreeMap<Table, _> = needs.code_sets.iter().map(|c| (c.table, c)).collect();
    let ev = by_table[&Table::Events];
    // DMLAT: unbounded below, up to PPED; VAL: after PPED - 1 year
    // (2023-03-31, exclusive, so from 2023-04-01), unbounded above.
    assert_eq!(ev.earliest, None);
    assert_eq!(ev.latest, None);
    let med = by_table[&Table::Medications];
    assert_eq!(med.codes, vec![322236009]);
    assert_eq!(med.earliest, Some(Date::ymd(2020, 1, 1).expect("date")));
    assert_eq!(med.latest, None);
}

#[test]
fn binding_parameters() {
    let spec = gpes_query::parse("dm020.yaml", DM020).expect("valid");
    let mut p = BTreeMap::new();
    p.insert("PPED".to_string(), "2025-02-30".to_string());
    assert!(matches!(
        spec.bind("A81001", &p),
        Err(gpes_query::BindError::BadParameter { .. })
    ));
    p.clear();
    p.insert("OTHER".to_string(), "1".to_string());
    assert!(matches!(
        spec.bind("A81001", &p),
        Err(gpes_query::BindError::UnknownParameter(_))
    ));
    let no_default = DM020.replace("default: 2025-03-31, ", "");
    let spec = gpes_query::parse("q.yaml", &no_default).expect("valid");
    assert!(matches!(
        spec.bind("A81001", &BTreeMap::new()),
        Err(gpes_query::BindError::MissingParameter(_))
    ));
    let far = DM020.replace("PPED - 12 months", "PPED - 99999 years");
    let spec = gpes_query::parse("q.yaml", &far).expect("valid");
    assert!(matches!(
        spec.bind("A81001", &BTreeMap::new()),
        Err(gpes_query::BindError::DateOutOfRange(_))
    ));
    let message = spec
        .bind("A81001", &BTreeMap::new())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(message.contains("outside the years 1 to 9999"), "{message}");
}

#[test]
fn long_chains_are_flat_and_canonical() {
    let chain = vec!["AGE >= 17"; 250].join(" and ");
    let q = DM020.replace("when: AGE >= 17", &format!("when: {chain}"));
    let spec = gpes_query::parse("q.yaml", &q).expect("valid");
    assert!(spec.canonical_json().is_ok());
    let nested = format!("{}AGE >= 17{}", "(".repeat(39), ")".repeat(39));
    let q = DM020.replace("when: AGE >= 17", &format!("when: {nested}"));
    let spec = gpes_query::parse("q.yaml", &q).expect("valid at depth 40");
    assert!(spec.canonical_json().is_ok());
}
