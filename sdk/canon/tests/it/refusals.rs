//! What is refused, and what the messages say.

use gpes_canon::{CanonError, MAX_DEPTH, MAX_INPUT_BYTES, canonicalize_json};

fn canon_err(text: &[u8]) -> CanonError {
    canonicalize_json(text).expect_err("should be refused")
}

#[test]
fn duplicate_keys_refused() {
    let err = canon_err(br#"{"a":1,"b":{"x":1,"y":2,"x":2}}"#);
    assert_eq!(
        err,
        CanonError::DuplicateKey {
            path: "$.b".into(),
            key: "x".into()
        }
    );
    let message = err.to_string();
    assert!(message.contains("$.b"), "{message}");
    assert!(message.contains(r#""x""#), "{message}");
    assert!(message.contains("unique"), "{message}");

    // Adjacent duplicates, which are "in order", are caught too.
    assert!(matches!(
        canon_err(br#"{"a":1,"a":1}"#),
        CanonError::DuplicateKey { .. }
    ));
    // The same name spelled two ways is still the same name.
    assert_eq!(
        canon_err(br#"[0,{"\u00e9":1,"\u00E9":2}]"#),
        CanonError::DuplicateKey {
            path: "$[1]".into(),
            key: "\u{e9}".into()
        }
    );
    assert_eq!(
        canon_err("{\"\\ud83d\\ude00\":1,\"\u{1f600}\":2}".as_bytes()),
        CanonError::DuplicateKey {
            path: "$".into(),
            key: "\u{1f600}".into()
        }
    );
}

#[test]
fn nesting_limit() {
    let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    let ok = nested(MAX_DEPTH);
    assert_eq!(canonicalize_json(ok.as_bytes()).unwrap(), ok.as_bytes());

    let err = canon_err(nested(MAX_DEPTH + 1).as_bytes());
    let expected_path = format!("${}", "[0]".repeat(MAX_DEPTH));
    assert_eq!(
        err,
        CanonError::TooDeep {
            path: expected_path,
            limit: MAX_DEPTH
        }
    );
    assert!(err.to_string().contains("128"), "{err}");

    // Objects count too.
    let objects = format!(
        "{}1{}",
        r#"{"a":"#.repeat(MAX_DEPTH + 1),
        "}".repeat(MAX_DEPTH + 1)
    );
    assert!(matches!(
        canon_err(objects.as_bytes()),
        CanonError::TooDeep { .. }
    ));

    // Far deeper input is refused without overflowing the stack.
    let deep = "[".repeat(1_000_000);
    assert!(matches!(
        canon_err(deep.as_bytes()),
        CanonError::TooDeep { .. }
    ));
    let deep = r#"{"a":"#.repeat(1_000_000);
    assert!(matches!(
        canon_err(deep.as_bytes()),
        CanonError::TooDeep { .. }
    ));
}

#[test]
fn size_limit() {
    let mut big = vec![b' '; MAX_INPUT_BYTES + 1];
    big[0] = b'0';
    let err = canon_err(&big);
    assert_eq!(
        err,
        CanonError::TooLarge {
            len: MAX_INPUT_BYTES + 1,
            limit: MAX_INPUT_BYTES
        }
    );
    assert!(err.to_string().contains("67108865 bytes"), "{err}");
    big.pop();
    assert_eq!(canonicalize_json(&big).unwrap(), b"0");
}

fn syntax(text: &[u8]) -> (String, usize, usize, usize, String) {
    match canon_err(text) {
        CanonError::Syntax {
            path,
            line,
            column,
            offset,
            message,
        } => (path, line, column, offset, message),
        other => panic!("expected a syntax error for {text:?}, got {other:?}"),
    }
}

#[test]
fn malformed_json_says_where() {
    let (path, line, column, offset, message) = syntax(b"{\"a\": [1, 2,, 3]}");
    assert_eq!((path.as_str(), line, column, offset), ("$.a[2]", 1, 13, 12));
    assert!(message.contains("','"), "{message}");

    let err = canon_err(b"{\n  \"a\": 1,\n  \"b\": tru\n}");
    assert_eq!(
        err.to_string(),
        "malformed JSON at line 3, column 8 (byte offset 19), in the value at $.b: \
         unexpected character 't', expected a JSON value (did you mean `true`?)"
    );

    // Columns count characters, not bytes.
    let (_, line, column, _, _) = syntax("[\"é€😀\", x]".as_bytes());
    assert_eq!((line, column), (1, 9));

    let cases: &[(&[u8], &str)] = &[
        (b"", "unexpected end of input"),
        (b"   ", "unexpected end of input"),
        (b"[1,]", "expected a JSON value"),
        (b"{\"a\":1,}", "expected a member name"),
        (b"{\"a\" 1}", "expected ':'"),
        (b"{a:1}", "expected a member name"),
        (b"[1 2]", "expected ',' or ']'"),
        (b"{\"a\":1 \"b\":2}", "expected ',' or '}'"),
        (b"01", "leading zeros"),
        (b"1.", "after the decimal point"),
        (b".5", "expected a JSON value"),
        (b"1e", "in the exponent"),
        (b"+1", "expected a JSON value"),
        (b"-", "expected a digit"),
        (b"NaN", "expected a JSON value"),
        (b"Infinity", "expected a JSON value"),
        (b"nul", "did you mean `null`"),
        (b"1 2", "exactly one value"),
        (b"{} x", "exactly one value"),
        (b"\"abc", "inside a string"),
        (b"\"a\tb\"", "U+0009 must be escaped"),
        (b"\"\\x\"", "after a backslash"),
        (b"\"\\u12g4\"", "four hexadecimal digits"),
        (b"\"\\ud800\"", "lone UTF-16 high surrogate"),
        (b"\"\\ud800\\u0041\"", "not followed by a low surrogate"),
        (b"\"\\udc00\"", "lone UTF-16 low surrogate"),
        (b"\"\xff\"", "not valid UTF-8"),
        (b"\"\xed\xa0\x80\"", "not valid UTF-8"),
        (b"\xef\xbb\xbf{}", "byte order mark"),
        (b"// comment\n1", "expected a JSON value"),
        (b"'a'", "expected a JSON value"),
    ];
    for (text, expected) in cases {
        let (_, _, _, _, message) = syntax(text);
        assert!(
            message.contains(expected),
            "{:?}: {message:?} lacks {expected:?}",
            String::from_utf8_lossy(text)
        );
    }

    let (_, _, column, offset, _) = syntax(b"[\"ok\", \"\xff\"]");
    assert_eq!((column, offset), (9, 8));
}

#[test]
fn paths_in_messages() {
    let err = canon_err(br#"{"a b":[1,9007199254740993],"c":0}"#);
    assert_eq!(
        err,
        CanonError::UnsafeInteger {
            path: r#"$["a b"][1]"#.into(),
            value: "9007199254740993".into(),
            nearest: "9007199254740992".into()
        }
    );
    let err = canon_err(br#"{"x":{"_id9":{"":[{"\n":99999999999999999999}]}}}"#);
    match err {
        CanonError::UnsafeInteger { path, .. } => {
            assert_eq!(path, r#"$.x._id9[""][0]["\n"]"#);
        }
        other => panic!("{other:?}"),
    }
}
