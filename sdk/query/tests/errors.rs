//! Broken queries are refused before anything runs, each error naming the
//! file, line and column (written by hand from the text below).

const BASE: &str = r#"id: t
title: t
source: "s"
parameters:
  PPED: { type: date, default: 2025-03-31 }
clusters:
  DM: { system: snomed, codes: ["73211009"] }
variables:
  DMLAT: { latest: { cluster: DM, on_or_before: PPED } }
  AGE: { age: { on: PPED } }
populations:
  P:
    from: all_patients
    rules:
      - when: DMLAT is not null and AGE >= 17
        then: select
        else: reject
output:
  aggregate:
    populations: [P]
"#;

/// BASE with line `n` (1-based) replaced by `text` (which may hold several
/// lines, or none).
fn with_line(n: usize, text: &str) -> String {
    let mut lines: Vec<&str> = BASE.lines().collect();
    lines[n - 1] = text;
    let mut s = lines.join("\n");
    s.push('\n');
    s
}

fn errors(text: &str) -> Vec<gpes_query::Diagnostic> {
    match gpes_query::parse("q.yaml", text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.0,
    }
}

/// An error is at (line, column) and says `says`.
fn refused(case: &str, text: &str, line: u64, column: u64, says: &str) {
    let errs = errors(text);
    assert!(
        errs.iter().any(|e| e.line == line
            && e.column == column
            && e.message.contains(says)
            && e.file == "q.yaml"),
        "{case}: expected {line}:{column} '{says}', got:\n{}",
        errs.iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn the_base_query_is_valid() {
    let q = gpes_query::parse("q.yaml", BASE).expect("valid");
    assert_eq!(q.id, "t");
}

#[test]
fn each_error_points_at_its_place() {
    let cases: Vec<(&str, String, u64, u64, &str)> = vec![
        (
            "unknown key",
            with_line(9, "  DMLAT: { latest: { cluster: DM, on_or_befor: PPED } }"),
            9,
            35,
            "unknown key 'on_or_befor'",
        ),
        (
            "unknown top-level key",
            with_line(18, "outputs:"),
            18,
            1,
            "unknown key 'outputs'",
        ),
        (
            "not a date",
            with_line(5, "  PPED: { type: date, default: 2025-02-30 }"),
            5,
            32,
            "expected a date",
        ),
        (
            "wrong type of value",
            with_line(5, "  PPED: { type: [date], default: 2025-03-31 }"),
            5,
            17,
            "expected a parameter type",
        ),
        (
            "unknown name in a condition",
            with_line(15, "      - when: DMLAT is not null and AGX >= 17"),
            15,
            37,
            "'AGX' is not defined",
        ),
        (
            "unknown cluster",
            with_line(
                9,
                "  DMLAT: { latest: { cluster: DX, on_or_before: PPED } }",
            ),
            9,
            31,
            "cluster 'DX', which is not defined",
        ),
        (
            "a name defined twice",
            with_line(10, "  DM: { age: { on: PPED } }"),
            10,
            3,
            "'DM' is already defined at line 7, column 3",
        ),
        (
            "a population cycle",
            BASE.replace(
                "populations:\n  P:\n    from: all_patients",
                "populations:\n  Q: { from: P }\n  P:\n    from: Q",
            ),
            12,
            3,
            "cycle: Q -> P -> Q",
        ),
        (
            "a rule that cannot be reached",
            with_line(
                17,
                "        else: reject\n      - when: AGE > 1\n        then: select\n        else: reject",
            ),
            18,
            9,
            "can never be reached",
        ),
        (
            "the last rule says next",
            with_line(17, "        else: next"),
            15,
            9,
            "must end in select or reject",
        ),
        (
            "Verhoeff check digit",
            with_line(7, r#"  DM: { system: snomed, codes: ["73211008"] }"#),
            7,
            33,
            "Verhoeff",
        ),
        (
            "too few digits",
            with_line(7, r#"  DM: { system: snomed, codes: ["12345"] }"#),
            7,
            33,
            "6 to 18 digits",
        ),
        (
            "comparing a date with a number",
            with_line(15, "      - when: DMLAT >= 17"),
            15,
            24,
            "cannot compare a date with a number",
        ),
        (
            "an unfinished expression",
            with_line(15, "      - when: DMLAT is not null and AGE >="),
            15,
            43,
            "found the end",
        ),
        (
            "a variable in an 'on' date",
            with_line(10, "  AGE: { age: { on: DMLAT } }"),
            10,
            21,
            "may use only parameters and dates",
        ),
        (
            "a required key missing",
            with_line(3, "# no source"),
            1,
            1,
            "no 'source'",
        ),
        (
            "a population from a number",
            with_line(13, "    from: AGE"),
            13,
            11,
            "neither a population nor a true/false variable",
        ),
        (
            "an undefined population in the output",
            with_line(20, "    populations: [P, Z]"),
            20,
            22,
            "'Z', which is not defined",
        ),
        (
            "a quoted condition",
            with_line(15, r#"      - when: "DMLAT is not null and AGE >= x7""#),
            15,
            45,
            "'x7' is not defined",
        ),
        (
            "a keyword as a name",
            with_line(10, "  and: { age: { on: PPED } }"),
            10,
            3,
            "keyword",
        ),
        (
            "two kinds in one variable",
            with_line(10, "  AGE: { age: { on: PPED }, sex: {} }"),
            10,
            8,
            "exactly one kind",
        ),
        (
            "variables bounding each other",
            with_line(
                9,
                "  DMLAT: { latest: { cluster: DM, on_or_before: B } }\n  B: { latest: { cluster: DM, after: DMLAT } }",
            ),
            9,
            3,
            "cycle through their windows: DMLAT, B",
        ),
        (
            "a variable bounded by itself",
            with_line(
                9,
                "  DMLAT: { latest: { cluster: DM, on_or_before: DMLAT } }",
            ),
            9,
            3,
            "bounded by itself",
        ),
        (
            "a population in a window",
            with_line(9, "  DMLAT: { latest: { cluster: DM, on_or_before: P } }"),
            9,
            49,
            "'P' is a population",
        ),
        (
            "too many passes",
            with_line(
                10,
                "  AGE: { age: { on: PPED } }\n  V1: { latest: { cluster: DM, after: DMLAT } }\n  V2: { latest: { cluster: DM, after: V1 } }\n  V3: { latest: { cluster: DM, after: V2 } }\n  V4: { latest: { cluster: DM, after: V3 } }",
            ),
            14,
            3,
            "would take 5 passes",
        ),
        (
            "a sex it can never be",
            BASE.replace(
                "  AGE: { age: { on: PPED } }",
                "  AGE: { age: { on: PPED } }\n  SEX: { sex: {} }",
            )
            .replace("AGE >= 17", "SEX = 'femal'"),
            16,
            43,
            "never 'femal'",
        ),
        (
            "YAML 1.1 booleans are not booleans",
            with_line(15, "      - when: yes"),
            15,
            15,
            "'yes' is not defined",
        ),
    ];
    for (case, text, line, column, says) in cases {
        refused(case, &text, line, column, says);
    }
}

#[test]
fn yaml_errors_have_positions() {
    let e = &errors(&with_line(
        7,
        r#"  DM: { system: snomed, codes: ["73211009"] "#,
    ))[0];
    assert!((7..=8).contains(&e.line), "{e}");
    assert!(e.message.contains("not valid YAML"), "{e}");
    let e = &errors(&with_line(10, "  DMLAT: { age: { on: PPED } }"))[0];
    assert_eq!(e.line, 10, "{e}");
    assert!(e.message.contains("duplicate"), "{e}");
}

#[test]
fn yaml_features_that_are_refused() {
    // Merge keys and unknown tags are refused rather than interpreted.
    let merged = BASE.replace(
        "  AGE: { age: { on: PPED } }",
        "  AGE: { age: { on: PPED } }\n  X: { <<: { age: { on: PPED } } }",
    );
    assert!(gpes_query::parse("q.yaml", &merged).is_err());
    let tagged = BASE.replace("title: t", "title: !secret t");
    assert!(gpes_query::parse("q.yaml", &tagged).is_err());
    // Anchors and aliases within limits are fine.
    let aliased = BASE
        .replace("on_or_before: PPED }", "on_or_before: &d PPED }")
        .replace("{ on: PPED }", "{ on: *d }");
    assert!(gpes_query::parse("q.yaml", &aliased).is_ok(), "{aliased}");
}

#[test]
fn limits() {
    let big = format!("{BASE}# {}\n", "x".repeat(gpes_query::MAX_SOURCE_BYTES));
    refused("too large", &big, 1, 1, "over the limit");
    let deep = format!("id: {}{}\n", "[".repeat(200), "]".repeat(200));
    assert!(gpes_query::parse("q.yaml", &deep).is_err());
    let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 0..12 {
        let prev = if i == 0 {
            "a".to_string()
        } else {
            format!("b{}", i - 1)
        };
        bomb.push_str(&format!(
            "b{i}: &b{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
        ));
    }
    let e = errors(&bomb);
    assert!(e[0].message.contains("YAML"), "{}", e[0]);
    let long = "A and ".repeat(2000);
    assert!(
        gpes_query::parse("q.yaml", &with_line(15, &format!("      - when: {long}B"))).is_err()
    );
    let nested = format!("{}A{}", "(".repeat(100), ")".repeat(100));
    refused(
        "nested too deeply",
        &with_line(15, &format!("      - when: {nested}")),
        15,
        15 + 40,
        "nested too deeply",
    );
}

#[test]
fn wrong_arguments_of_the_value_and_same_day_kinds_point_at_their_place() {
    let cases: Vec<(&str, &str, u64, &str)> = vec![
        (
            "one cluster is not a same day",
            "  DMLAT: { latest_same_day: { clusters: [DM] } }",
            41,
            "expected 2 to 8 clusters recorded on the same day, found 1",
        ),
        (
            "a same-day list naming a variable",
            "  DMLAT: { latest_same_day: { clusters: [DM, AGE] } }",
            46,
            "'AGE', which is not a cluster",
        ),
        (
            "a same-day list naming a cluster twice",
            "  DMLAT: { latest_same_day: { clusters: [DM, DM] } }",
            46,
            "cluster 'DM' is listed twice",
        ),
        (
            "same day takes clusters, not cluster",
            "  DMLAT: { latest_same_day: { cluster: DM } }",
            31,
            "unknown key 'cluster'",
        ),
        (
            "a value bound that is a date",
            "  DMLAT: { latest: { cluster: DM, value: { at_most: PPED } } }",
            53,
            "expected a number here, found a date",
        ),
        (
            "a value bound that is a variable",
            "  DMLAT: { latest: { cluster: DM, value: { at_most: AGE } } }",
            53,
            "may use only parameters and dates or numbers",
        ),
        (
            "a value that is neither present nor a range",
            "  DMLAT: { latest: { cluster: DM, value: sometimes } }",
            42,
            "expected the 'value' of the 'latest' of variable 'DMLAT' as 'present'",
        ),
        (
            "two lower bounds of a value",
            "  DMLAT: { latest: { cluster: DM, value: { at_least: 1, more_than: 2 } } }",
            57,
            "'more_than' sets the lower bound of the value a second time",
        ),
        (
            "an empty value range",
            "  DMLAT: { latest: { cluster: DM, value: {} } }",
            42,
            "expected at least one bound in 'value'",
        ),
        (
            "on and between together",
            "  DMLAT: { latest: { cluster: DM, on: PPED, between: [PPED, PPED] } }",
            35,
            "'on' sets both bounds",
        ),
        (
            "ties only for the value of the latest or earliest",
            "  DMLAT: { minimum_value: { cluster: DM, ties: highest } }",
            42,
            "unknown key 'ties'",
        ),
        (
            "a same-day window bounded by a number",
            "  DMLAT: { latest_same_day: { clusters: [DM, DM2], on_or_before: 3 } }",
            66,
            "expected a date here, found a number",
        ),
    ];
    for (case, line, column, says) in cases {
        let mut text = with_line(9, line);
        text = text.replace(
            "  DM: { system: snomed, codes: [\"73211009\"] }",
            "  DM: { system: snomed, codes: [\"73211009\"] }\n  DM2: { system: snomed, codes: [\"44054006\"] }",
        );
        // The extra cluster moves the variable down a line.
        refused(case, &text, 10, column, says);
    }
}
