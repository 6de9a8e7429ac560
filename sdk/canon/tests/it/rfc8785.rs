//! The examples of RFC 8785 itself, and the rules they illustrate.

use std::collections::BTreeMap;

use gpes_canon::{canonicalize_json, content_hash, to_canonical_string};

fn canon(text: &str) -> String {
    String::from_utf8(canonicalize_json(text.as_bytes()).expect("canonicalizes"))
        .expect("canonical JSON is UTF-8")
}

/// RFC 8785 section 3.2.2: the sample input and its canonical form.
#[test]
fn rfc_sample_input() {
    let input = r#"{
  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}"#;
    // Derived from the rules: members sorted; numbers as ECMAScript writes
    // them; in the string, € stays literal, U+000F becomes \u000f
    // (lowercase), U+000A becomes \n, \u0042 is B, \u0022 is an escaped
    // quote, \u005c and \\ are backslashes (each escaped), \" is a quote,
    // and \/ is a plain slash.
    let expected = "{\"literals\":[null,true,false],\
                    \"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],\
                    \"string\":\"\u{20ac}$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}";
    assert_eq!(
        expected,
        r#"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#
    );
    assert_eq!(canon(input), expected);
}

/// RFC 8785 section 3.2.3: sorting by UTF-16 code units.
#[test]
fn rfc_sorting_example() {
    let input = r#"{
  "\u20ac": "Euro Sign",
  "\r": "Carriage Return",
  "\ufb33": "Hebrew Letter Dalet With Dagesh",
  "1": "One",
  "\ud83d\ude00": "Emoji: Grinning Face",
  "\u0080": "Control",
  "\u00f6": "Latin Small Letter O With Diaeresis"
}"#;
    let expected = concat!(
        "{",
        "\"\\r\":\"Carriage Return\",",
        "\"1\":\"One\",",
        "\"\u{80}\":\"Control\",",
        "\"\u{f6}\":\"Latin Small Letter O With Diaeresis\",",
        "\"\u{20ac}\":\"Euro Sign\",",
        "\"\u{1f600}\":\"Emoji: Grinning Face\",",
        "\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"",
        "}"
    );
    assert_eq!(canon(input), expected);
}

/// U+E000 sorts before U+1F600 by UTF-8 bytes (EE.. < F0..) but after it by
/// UTF-16 code units (0xE000 > 0xD83D).
#[test]
fn sorts_by_utf16_not_utf8() {
    let expected = "{\"\u{1f600}\":2,\"\u{e000}\":1}";
    assert_eq!(canon("{\"\u{e000}\":1,\"\u{1f600}\":2}"), expected);
    assert_eq!(canon(r#"{"\ue000":1,"\ud83d\ude00":2}"#), expected);

    // A BTreeMap iterates in UTF-8 order; the output must not.
    let map = BTreeMap::from([("\u{e000}", 1), ("\u{1f600}", 2)]);
    assert_eq!(
        map.keys().copied().collect::<Vec<_>>(),
        ["\u{e000}", "\u{1f600}"]
    );
    assert_eq!(to_canonical_string(&map).unwrap(), expected);

    // Prefixes sort first.
    assert_eq!(
        canon(r#"{"ab":1,"a":2,"":3,"b":4}"#),
        r#"{"":3,"a":2,"ab":1,"b":4}"#
    );
}

#[test]
fn strings_escaped_as_json_stringify() {
    let cases: &[(&str, &str)] = &[
        ("\u{0}", r#""\u0000""#),
        ("\u{7}", r#""\u0007""#),
        ("\u{8}", r#""\b""#),
        ("\t", r#""\t""#),
        ("\n", r#""\n""#),
        ("\u{b}", r#""\u000b""#),
        ("\u{c}", r#""\f""#),
        ("\r", r#""\r""#),
        ("\u{1b}", r#""\u001b""#),
        ("\u{1f}", r#""\u001f""#),
        (" ", r#"" ""#),
        ("\"", r#""\"""#),
        ("\\", r#""\\""#),
        ("/", r#""/""#),
        ("\u{7f}", "\"\u{7f}\""),
        ("\u{80}", "\"\u{80}\""),
        ("\u{2028}\u{2029}", "\"\u{2028}\u{2029}\""),
        ("\u{feff}", "\"\u{feff}\""),
        ("é€😀", "\"é€😀\""),
        ("a\"b\\c\nd", r#""a\"b\\c\nd""#),
    ];
    for (raw, expected) in cases {
        assert_eq!(&to_canonical_string(raw).unwrap(), expected, "{raw:?}");
        // The same string, escaped every possible way in JSON text.
        let escaped: String = raw.encode_utf16().map(|u| format!("\\u{u:04X}")).collect();
        assert_eq!(&canon(&format!("\"{escaped}\"")), expected, "{raw:?}");
        // And the canonical form reads back as itself.
        assert_eq!(&canon(expected), expected);
    }
}

#[test]
fn whitespace_removed_and_literals_kept() {
    assert_eq!(
        canon(" \t\r\n[ true ,\n false , null , { } , [ ] , \"\" ] \n"),
        r#"[true,false,null,{},[],""]"#
    );
    assert_eq!(canon("null"), "null");
    assert_eq!(canon(" 1 "), "1");
    assert_eq!(canon(r#""x""#), r#""x""#);
}

#[test]
fn canonicalizing_is_idempotent() {
    let inputs = [
        r#"{"b":[1,2.50,{"z":null,"a":"\u00e9"}],"a":{"y":1E3,"x":-0.0}}"#,
        r#"[1e20, 1e21, 123456789012345680, 5e-324, -1.7976931348623157e308]"#,
        r#"{"\ud83d\ude00":"\u2028","\ue000":"\u001f","":{}}"#,
    ];
    for input in inputs {
        let once = canonicalize_json(input.as_bytes()).unwrap();
        let twice = canonicalize_json(&once).unwrap();
        assert_eq!(once, twice, "{input}");
        // Parsing the canonical text and serializing the value agrees,
        // except for doubles of 2^53 or more written as integer digits,
        // which serde_json reads back as a u64 that the serializer refuses.
        let value: serde_json::Value = serde_json::from_slice(&once).unwrap();
        match to_canonical_string(&value) {
            Ok(text) => assert_eq!(text.as_bytes(), &once[..]),
            Err(gpes_canon::CanonError::UnsafeInteger { path, .. }) => {
                assert_eq!((input.starts_with("[1e20"), path.as_str()), (true, "$[2]"));
            }
            Err(other) => panic!("{other}"),
        }
    }
}

#[test]
fn key_order_and_spelling_do_not_change_the_hash() {
    let a: serde_json::Value = serde_json::from_str(
        r#"{"name":"asthma","codes":["195967001"],"min_age":12,"weight":0.5}"#,
    )
    .unwrap();
    let b: serde_json::Value = serde_json::from_str(
        r#"{ "weight" : 5e-1, "min_age" : 12.0, "codes" : [ "195967001" ], "name" : "asthma" }"#,
    )
    .unwrap();
    assert_eq!(content_hash(&a).unwrap(), content_hash(&b).unwrap());

    let text_a = canonicalize_json(br#"{"x":{"q":1,"p":[2,3]},"w":true}"#).unwrap();
    let text_b = canonicalize_json(br#"{"w":true,"x":{"p":[2,3],"q":1}}"#).unwrap();
    assert_eq!(text_a, text_b);
}
