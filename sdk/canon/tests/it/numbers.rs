//! Numbers: ECMAScript `Number.prototype.toString` of the IEEE-754 double,
//! and the integers that cannot be carried exactly.

use gpes_canon::{CanonError, MAX_EXACT_INTEGER, canonicalize_json, to_canonical_string};

fn canon(text: &str) -> Result<String, CanonError> {
    canonicalize_json(text.as_bytes()).map(|b| String::from_utf8(b).unwrap())
}

/// RFC 8785 appendix B: IEEE-754 bit patterns and their canonical form
/// (checked against node's `JSON.stringify`).
const APPENDIX_B: &[(u64, &str)] = &[
    (0x0000_0000_0000_0000, "0"),
    (0x8000_0000_0000_0000, "0"),
    (0x0000_0000_0000_0001, "5e-324"),
    (0x8000_0000_0000_0001, "-5e-324"),
    (0x7fef_ffff_ffff_ffff, "1.7976931348623157e+308"),
    (0xffef_ffff_ffff_ffff, "-1.7976931348623157e+308"),
    (0x4340_0000_0000_0000, "9007199254740992"),
    (0xc340_0000_0000_0000, "-9007199254740992"),
    (0x4430_0000_0000_0000, "295147905179352830000"),
    (0x44b5_2d02_c7e1_4af5, "9.999999999999997e+22"),
    (0x44b5_2d02_c7e1_4af6, "1e+23"),
    (0x44b5_2d02_c7e1_4af7, "1.0000000000000001e+23"),
    (0x444b_1ae4_d6e2_ef4e, "999999999999999700000"),
    (0x444b_1ae4_d6e2_ef4f, "999999999999999900000"),
    (0x444b_1ae4_d6e2_ef50, "1e+21"),
    (0x3eb0_c6f7_a0b5_ed8c, "9.999999999999997e-7"),
    (0x3eb0_c6f7_a0b5_ed8d, "0.000001"),
    (0x41b3_de43_5555_5553, "333333333.3333332"),
    (0x41b3_de43_5555_5554, "333333333.33333325"),
    (0x41b3_de43_5555_5555, "333333333.3333333"),
    (0x41b3_de43_5555_5556, "333333333.3333334"),
    (0x41b3_de43_5555_5557, "333333333.33333343"),
    (0xbecb_f647_612f_3696, "-0.0000033333333333333333"),
    (0x4314_3ff3_c1cb_0959, "1424953923781206.2"),
];

#[test]
fn appendix_b_table() {
    for &(bits, expected) in APPENDIX_B {
        let d = f64::from_bits(bits);
        assert_eq!(to_canonical_string(&d).unwrap(), expected, "{bits:#018x}");
        // Canonical output reads back as itself, even the integer-looking
        // ones beyond 2^53.
        assert_eq!(canon(expected).unwrap(), expected, "{bits:#018x}");
        // And the shortest round-trip spelling Rust gives reads the same.
        assert_eq!(canon(&format!("{d:e}")).unwrap(), expected, "{bits:#018x}");
    }
}

#[test]
fn ecmascript_formatting_table() {
    let cases: &[(f64, &str)] = &[
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (0.1, "0.1"),
        (0.1 + 0.2, "0.30000000000000004"),
        (1.0 / 3.0, "0.3333333333333333"),
        (5e-324, "5e-324"),
        (1.797_693_134_862_315_7e308, "1.7976931348623157e+308"),
        (-0.0, "0"),
        (0.0, "0"),
        (1.0, "1"),
        (-1.5, "-1.5"),
        (100.0, "100"),
        (4.35, "4.35"),
        (1e-6, "0.000001"),
        (1e-7, "1e-7"),
        (123e-20, "1.23e-18"),
        (1.5e300, "1.5e+300"),
        (1e23, "1e+23"),
        (9_007_199_254_740_992.0, "9007199254740992"),
        (f64::from(0.1_f32), "0.10000000149011612"),
    ];
    for &(d, expected) in cases {
        assert_eq!(to_canonical_string(&d).unwrap(), expected, "{d:?}");
        assert_eq!(canon(&format!("{d:?}")).unwrap(), expected, "{d:?}");
    }
    assert_eq!(
        to_canonical_string(&0.1_f32).unwrap(),
        "0.10000000149011612"
    );
}

#[test]
fn number_spellings_in_text() {
    let cases = [
        ("1E30", "1e+30"),
        ("4.50", "4.5"),
        ("2e-3", "0.002"),
        ("0.000000000000000000000000001", "1e-27"),
        ("333333333.33333329", "333333333.3333333"),
        ("-0", "0"),
        ("-0.0", "0"),
        ("0e10", "0"),
        ("1e-400", "0"),
        ("12.0", "12"),
        ("1.2e1", "12"),
        ("1E+2", "100"),
        ("-9007199254740992", "-9007199254740992"),
        // Beyond 2^53 but exactly a double: kept (in canonical form).
        ("18014398509481984", "18014398509481984"),
        ("295147905179352825856", "295147905179352830000"),
        // A fraction or an exponent makes it a float: rounded, per the RFC.
        ("9007199254740993.0", "9007199254740992"),
        ("9.007199254740993e15", "9007199254740992"),
    ];
    for (text, expected) in cases {
        assert_eq!(canon(text).unwrap(), expected, "{text}");
    }
}

#[test]
fn integers_up_to_2_pow_53_accepted() {
    assert_eq!(MAX_EXACT_INTEGER, 9_007_199_254_740_992);
    assert_eq!(
        to_canonical_string(&9_007_199_254_740_992_u64).unwrap(),
        "9007199254740992"
    );
    assert_eq!(
        to_canonical_string(&-9_007_199_254_740_992_i64).unwrap(),
        "-9007199254740992"
    );
    assert_eq!(
        to_canonical_string(&9_007_199_254_740_992_u128).unwrap(),
        "9007199254740992"
    );
    assert_eq!(to_canonical_string(&u32::MAX).unwrap(), "4294967295");
    assert_eq!(to_canonical_string(&i8::MIN).unwrap(), "-128");
    assert_eq!(canon("9007199254740992").unwrap(), "9007199254740992");
}

fn assert_unsafe(result: Result<String, CanonError>, path: &str, value: &str, nearest: &str) {
    let err = result.unwrap_err();
    match &err {
        CanonError::UnsafeInteger {
            path: p,
            value: v,
            nearest: n,
        } => {
            assert_eq!((p.as_str(), v.as_str(), n.as_str()), (path, value, nearest));
        }
        other => panic!("expected UnsafeInteger, got {other:?}"),
    }
    let message = err.to_string();
    assert!(message.contains(path), "{message}");
    assert!(message.contains(value), "{message}");
    assert!(message.contains("as JSON strings"), "{message}");
}

#[test]
fn integers_beyond_2_pow_53_refused() {
    assert_unsafe(
        to_canonical_string(&9_007_199_254_740_993_u64),
        "$",
        "9007199254740993",
        "9007199254740992",
    );
    // Refused from Rust even when the double happens to be exact: whether a
    // u64 fits should not depend on its value's bit pattern.
    assert_unsafe(
        to_canonical_string(&(1_u64 << 60)),
        "$",
        "1152921504606846976",
        "1152921504606847000",
    );
    assert_unsafe(
        to_canonical_string(&i64::MIN),
        "$",
        "-9223372036854775808",
        "-9223372036854776000",
    );
    assert_unsafe(
        to_canonical_string(&u128::MAX),
        "$",
        "340282366920938463463374607431768211455",
        "3.402823669209385e+38",
    );
    assert_unsafe(
        to_canonical_string(&-9_007_199_254_740_993_i128),
        "$",
        "-9007199254740993",
        "-9007199254740992",
    );
    // An 18-digit SNOMED CT code in JSON text.
    assert_unsafe(
        canon(r#"{"codes":[123456789012345678]}"#),
        "$.codes[0]",
        "123456789012345678",
        "123456789012345680",
    );
    assert_unsafe(
        canon("-9007199254740993"),
        "$",
        "-9007199254740993",
        "-9007199254740992",
    );
}

#[test]
fn non_finite_refused() {
    for (d, shown) in [
        (f64::NAN, "NaN"),
        (f64::INFINITY, "inf"),
        (f64::NEG_INFINITY, "-inf"),
    ] {
        let err = to_canonical_string(&vec![1.0, d]).unwrap_err();
        assert_eq!(
            err,
            CanonError::NonFiniteNumber {
                path: "$[1]".into(),
                value: shown.into()
            }
        );
    }
    assert!(matches!(
        to_canonical_string(&f32::NAN),
        Err(CanonError::NonFiniteNumber { .. })
    ));
    let huge = format!("1{}", "0".repeat(400));
    for text in ["1e400", "-1e400", "1.8e308", huge.as_str()] {
        let err = canon(&format!("[{text}]")).unwrap_err();
        assert_eq!(
            err,
            CanonError::NumberOutOfRange {
                path: "$[0]".into(),
                value: text.into()
            },
            "{text}"
        );
    }
}
