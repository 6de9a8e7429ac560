//! Code lists from files (SPEC.md 3): a cluster names a CSV in the
//! OpenCodelists layout with its reference set's id and version; the codes
//! are folded into the canonical query, so the hash covers every one; a
//! missing or malformed file, or a code failing its check digit, is an
//! error naming the file, line and column.

use std::collections::BTreeMap;

const QUERY: &str = r#"id: hyp_reg
title: hypertension register
source: "conformance suite"
clusters:
  HYP_COD:
    system: snomed
    codelist: { file: codelists/hyp_cod.csv, refset: "99999991000000105", version: "20210127" }
variables:
  HYPLAT: { latest: { cluster: HYP_COD } }
populations:
  HYP: { from: all_patients, rules: [{ when: HYPLAT is not null, then: select, else: reject }] }
output:
  aggregate:
    populations: [HYP]
"#;

fn fixture() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/codelists/hyp_cod.csv");
    std::fs::read_to_string(path).expect("fixture")
}

/// Files from a map, as a caller reading beside the query would give them.
fn files(map: BTreeMap<&'static str, String>) -> impl Fn(&str) -> Result<String, String> {
    move |f: &str| map.get(f).cloned().ok_or_else(|| "no such file".to_owned())
}

fn parse(query: &str, csv: &str) -> Result<gpes_query::QuerySpec, gpes_query::Errors> {
    let lists = files(BTreeMap::from([("codelists/hyp_cod.csv", csv.to_owned())]));
    gpes_query::parse_with("q.yaml", query, &lists)
}

fn refused(query: &str, csv: &str, file: &str, line: u64, column: u64, says: &str) {
    let errors = parse(query, csv).expect_err("refused").0;
    assert!(
        errors.iter().any(|e| e.file == file
            && e.line == line
            && e.column == column
            && e.message.contains(says)),
        "expected {file}:{line}:{column} '{says}', got:\n{}",
        errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn codes_come_from_the_file() {
    let spec = parse(QUERY, &fixture()).expect("valid");
    let c = spec.cluster("HYP_COD").expect("cluster");
    assert_eq!(c.codes.len(), 18);
    assert!(c.codes.contains(&59621000) && c.codes.contains(&38341003));
    let r = c.codelist.as_ref().expect("from a file");
    assert_eq!(
        (r.refset.as_str(), r.version.as_str()),
        ("99999991000000105", "20210127")
    );
    // The canonical form holds every code and the reference set.
    let json = spec.canonical_json().expect("canonical");
    assert!(json.contains(r#""codelist":{"refset":"99999991000000105","version":"20210127"}"#));
    assert!(json.contains(r#""843821000000102""#), "{json}");
}

#[test]
fn the_hash_covers_every_code() {
    let base = parse(QUERY, &fixture())
        .expect("valid")
        .content_hash()
        .expect("hash");
    // One code more changes the hash.
    let more = format!("{}195967001,Asthma\n", fixture());
    let more = parse(QUERY, &more)
        .expect("valid")
        .content_hash()
        .expect("hash");
    assert_ne!(base, more);
    // Order, blank lines, quoting and terms do not matter.
    let mut lines: Vec<String> = fixture().lines().skip(1).map(str::to_owned).collect();
    lines.reverse();
    let shuffled = format!(
        "code,term\n\n{}\n\"59621000\",another term\n",
        lines.join("\n")
    );
    let same = parse(QUERY, &shuffled)
        .expect("valid")
        .content_hash()
        .expect("hash");
    assert_eq!(base, same);
    // A new version of the reference set is a new query.
    let v2 = QUERY.replace("20210127", "20220101");
    assert_ne!(
        base,
        parse(&v2, &fixture())
            .expect("valid")
            .content_hash()
            .expect("hash")
    );
    // The folded form (the codes written out beside the reference) needs
    // no file and hashes the same.
    let codes: Vec<String> = parse(QUERY, &fixture())
        .expect("valid")
        .cluster("HYP_COD")
        .expect("cluster")
        .codes
        .iter()
        .map(|c| format!("\"{c}\""))
        .collect();
    let folded = QUERY.replace(
        "    system: snomed\n",
        &format!("    system: snomed\n    codes: [{}]\n", codes.join(", ")),
    );
    let folded = gpes_query::parse("q.yaml", &folded).expect("folded parses alone");
    assert_eq!(folded.content_hash().expect("hash"), base);
}

#[test]
fn bad_files_point_at_their_place() {
    let good = fixture();
    // The query file's own place when the file cannot be read.
    let missing = QUERY.replace("codelists/hyp_cod.csv", "codelists/missing.csv");
    refused(
        &missing,
        &good,
        "q.yaml",
        7,
        23,
        "cannot read code list 'codelists/missing.csv' of cluster 'HYP_COD': no such file",
    );
    // Parsed without code lists at all.
    let errors = gpes_query::parse("q.yaml", QUERY).expect_err("refused").0;
    assert!(
        errors[0]
            .to_string()
            .starts_with("q.yaml:7:23: cannot read code list")
            && errors[0].message.contains("parsed without its code lists"),
        "{}",
        errors[0]
    );
    // Paths that leave the query's folder.
    let outside = QUERY.replace("codelists/hyp_cod.csv", "../hyp_cod.csv");
    refused(
        &outside,
        &good,
        "q.yaml",
        7,
        23,
        "is not a relative path under the query's folder",
    );
    // The file's own places.
    let csv = "codelists/hyp_cod.csv";
    refused(QUERY, "", csv, 1, 1, "expected the header 'code,term'");
    refused(
        QUERY,
        "concept,description\n59621000,x\n",
        csv,
        1,
        1,
        "expected the header 'code,term'",
    );
    refused(
        QUERY,
        "code,term\n",
        csv,
        1,
        1,
        "the code list has no codes",
    );
    refused(
        QUERY,
        "code,term\n59621000,Essential\n38341004,typo\n",
        csv,
        3,
        1,
        "'38341004' fails the SNOMED CT (Verhoeff) check digit",
    );
    refused(
        QUERY,
        "code,term\r\n59621000,Essential\r\n\"0123\",x\r\n",
        csv,
        3,
        2,
        "expected 6 to 18 digits",
    );
    refused(
        QUERY,
        "code,term\n59621000\n",
        csv,
        2,
        1,
        "expected 'code,term', found '59621000'",
    );
    // The reference set's id is checked as the identifier it is.
    let bad_refset = QUERY.replace("99999991000000105", "99999991000000106");
    refused(
        &bad_refset,
        &good,
        "q.yaml",
        7,
        54,
        "the reference set id '99999991000000106' fails",
    );
}

#[test]
fn a_cluster_needs_codes_or_a_code_list() {
    let neither = QUERY.replace(
        "    codelist: { file: codelists/hyp_cod.csv, refset: \"99999991000000105\", version: \"20210127\" }\n",
        "",
    );
    refused(
        &neither,
        &fixture(),
        "q.yaml",
        6,
        5,
        "has neither 'codes' nor 'codelist'",
    );
}

#[test]
fn folding_writes_the_codes_into_the_text() {
    let lists = files(BTreeMap::from([("codelists/hyp_cod.csv", fixture())]));
    let original = gpes_query::parse_with("q.yaml", QUERY, &lists).expect("valid");
    let folded = gpes_query::fold("q.yaml", QUERY, &lists).expect("folds");
    assert!(folded.contains("    codes: [\"1201005\", "), "{folded}");
    let alone = gpes_query::parse("q.yaml", &folded).expect("the folded text needs no file");
    assert_eq!(alone.content_hash().ok(), original.content_hash().ok());
    // A flow mapping, and folding twice changes nothing more.
    let flow = QUERY
        .replace(
            "  HYP_COD:\n    system: snomed\n    codelist:",
            "  HYP_COD: { system: snomed, codelist:",
        )
        .replace("version: \"20210127\" }\n", "version: \"20210127\" } }\n");
    let folded = gpes_query::fold("q.yaml", &flow, &lists).expect("folds");
    assert!(
        folded.contains("{ system: snomed, codes: [\"1201005\""),
        "{folded}"
    );
    assert_eq!(
        gpes_query::fold("q.yaml", &folded, &lists).expect("folds"),
        folded
    );
    assert_eq!(
        gpes_query::parse("q.yaml", &folded)
            .expect("valid")
            .content_hash()
            .ok(),
        original.content_hash().ok()
    );
}

#[test]
fn a_missing_list_does_not_hide_the_rest_of_the_query() {
    // The code list cannot be read and a rule names an unknown variable:
    // both are reported, each at its place, so one run shows every problem.
    let broken = QUERY.replace("when: HYPLAT is not", "when: HYPLATX is not");
    let lists = files(BTreeMap::new());
    let errors = gpes_query::parse_with("q.yaml", &broken, &lists)
        .expect_err("refused")
        .0;
    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert!(
        errors.iter().any(|e| e.file == "q.yaml"
            && e.line == 7
            && e.message
                .contains("cannot read code list 'codelists/hyp_cod.csv'")),
        "{text:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.file == "q.yaml" && e.line == 11 && e.message.contains("HYPLATX")),
        "{text:?}"
    );
    // A code failing its check digit in the file, and the same unknown name.
    let bad = fixture().replace("59621000", "59621001");
    let lists = files(BTreeMap::from([("codelists/hyp_cod.csv", bad)]));
    let errors = gpes_query::parse_with("q.yaml", &broken, &lists)
        .expect_err("refused")
        .0;
    assert!(
        errors
            .iter()
            .any(|e| e.file == "codelists/hyp_cod.csv" && e.message.contains("59621001")),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e.message.contains("HYPLATX")),
        "{errors:?}"
    );
}
