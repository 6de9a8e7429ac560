//! Serializing Rust values: serde_json's mapping of the data model, with
//! integers checked before they could become doubles.

use std::collections::{BTreeMap, HashMap};

use gpes_canon::{CanonError, MAX_DEPTH, canonicalize_json, to_canonical_string, to_canonical_vec};
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::json;

#[derive(Serialize)]
struct Query {
    name: String,
    clusters: Vec<Cluster>,
}

#[derive(Serialize)]
struct Cluster {
    id: String,
    codes: Vec<u64>,
}

fn query(big_at: Option<(usize, usize)>) -> Query {
    Query {
        name: "asthma review".into(),
        clusters: (0..5)
            .map(|c| Cluster {
                id: format!("C{c}"),
                codes: (0..20)
                    .map(|i| {
                        if big_at == Some((c, i)) {
                            123_456_789_012_345_678
                        } else {
                            195_967_001 + i as u64
                        }
                    })
                    .collect(),
            })
            .collect(),
    }
}

#[test]
fn big_integer_path_through_structs() {
    assert!(to_canonical_vec(&query(None)).is_ok());
    let err = to_canonical_vec(&query(Some((3, 12)))).unwrap_err();
    assert_eq!(
        err,
        CanonError::UnsafeInteger {
            path: "$.clusters[3].codes[12]".into(),
            value: "123456789012345678".into(),
            nearest: "123456789012345680".into()
        }
    );
    let message = err.to_string();
    assert!(message.contains("$.clusters[3].codes[12]"), "{message}");
    assert!(message.contains("SNOMED CT codes"), "{message}");
    assert!(message.contains("as JSON strings"), "{message}");
}

#[test]
fn serde_json_value_keeps_integers_to_check() {
    let value = json!({"codes": ["123456789012345678", 5, 123_456_789_012_345_678_u64]});
    match to_canonical_string(&value).unwrap_err() {
        CanonError::UnsafeInteger { path, .. } => assert_eq!(path, "$.codes[2]"),
        other => panic!("{other:?}"),
    }
    let value = json!({"b": [1.5, -0.0, 1e21], "a": {"z": null, "y": "é"}, "c": -7});
    assert_eq!(
        to_canonical_string(&value).unwrap(),
        r#"{"a":{"y":"é","z":null},"b":[1.5,0,1e+21],"c":-7}"#
    );
}

#[derive(Serialize)]
enum Shape {
    Unit,
    Newtype(u8),
    Tuple(u8, bool),
    Struct { z: u8, a: Option<u8> },
}

#[derive(Serialize)]
struct Everything {
    unit: (),
    none: Option<u8>,
    some: Option<&'static str>,
    ch: char,
    bytes: serde_bytes_like::Bytes,
    tuple: (i8, f32),
    shapes: Vec<Shape>,
    #[serde(rename = "Z-upper-case-sorts-first")]
    renamed: bool,
    int_keys: BTreeMap<i32, u8>,
    bool_keys: BTreeMap<bool, u8>,
    char_keys: BTreeMap<char, u8>,
}

mod serde_bytes_like {
    /// Serializes through `serialize_bytes`.
    pub struct Bytes(pub Vec<u8>);
    impl serde::Serialize for Bytes {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(&self.0)
        }
    }
}

#[test]
fn data_model_mapping() {
    let value = Everything {
        unit: (),
        none: None,
        some: Some("x"),
        ch: '\n',
        bytes: serde_bytes_like::Bytes(vec![0, 255]),
        tuple: (-1, 0.5),
        shapes: vec![
            Shape::Unit,
            Shape::Newtype(1),
            Shape::Tuple(2, true),
            Shape::Struct { z: 3, a: None },
        ],
        renamed: true,
        int_keys: BTreeMap::from([(10, 1), (-2, 2), (9, 3)]),
        bool_keys: BTreeMap::from([(true, 1), (false, 0)]),
        char_keys: BTreeMap::from([('b', 1), ('a', 2)]),
    };
    let expected = concat!(
        r#"{"Z-upper-case-sorts-first":true,"bool_keys":{"false":0,"true":1},"bytes":[0,255],"#,
        r#""ch":"\n","char_keys":{"a":2,"b":1},"int_keys":{"-2":2,"10":1,"9":3},"#,
        r#""none":null,"shapes":["Unit",{"Newtype":1},{"Tuple":[2,true]},"#,
        r#"{"Struct":{"a":null,"z":3}}],"some":"x","tuple":[-1,0.5],"unit":null}"#
    );
    let text = to_canonical_string(&value).unwrap();
    assert_eq!(text, expected);
    // The same document read as JSON text canonicalizes to the same bytes.
    let reread =
        serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(&text).unwrap())
            .unwrap();
    assert_eq!(
        canonicalize_json(reread.as_bytes()).unwrap(),
        text.as_bytes()
    );
}

#[test]
fn hashmap_order_does_not_matter() {
    let mut a = HashMap::new();
    let mut b = HashMap::new();
    for i in 0..100 {
        a.insert(format!("k{i}"), i);
    }
    for i in (0..100).rev() {
        b.insert(format!("k{i}"), i);
    }
    assert_eq!(to_canonical_vec(&a).unwrap(), to_canonical_vec(&b).unwrap());
}

#[test]
fn paths_inside_enum_variants() {
    #[derive(Serialize)]
    enum E {
        S { big: u64 },
        T(u8, i64),
        N(Vec<f64>),
    }
    let cases = [
        (E::S { big: u64::MAX }, "$[0].S.big"),
        (E::T(0, i64::MAX), "$[0].T[1]"),
        (E::N(vec![0.0, f64::NAN]), "$[0].N[1]"),
    ];
    for (value, expected) in cases {
        let message = to_canonical_string(&[value]).unwrap_err().to_string();
        assert!(message.contains(&format!(" at {expected} ")), "{message}");
    }
}

/// Serializes a map that names the same key twice.
struct Twice;
impl Serialize for Twice {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("b", &1)?;
        map.serialize_entry("a", &2)?;
        map.serialize_entry("b", &3)?;
        map.end()
    }
}

#[test]
fn duplicate_keys_from_serialize_refused() {
    // serde_json::Value would silently keep the last one.
    assert_eq!(
        serde_json::to_value(Twice).unwrap(),
        json!({"a": 2, "b": 3})
    );
    assert_eq!(
        to_canonical_string(&("x", [Twice])).unwrap_err(),
        CanonError::DuplicateKey {
            path: "$[1][0]".into(),
            key: "b".into()
        }
    );

    #[derive(Serialize)]
    struct Inner {
        id: u8,
    }
    #[derive(Serialize)]
    struct Outer {
        id: u8,
        #[serde(flatten)]
        inner: Inner,
    }
    assert_eq!(
        to_canonical_string(&Outer {
            id: 1,
            inner: Inner { id: 2 }
        })
        .unwrap_err(),
        CanonError::DuplicateKey {
            path: "$".into(),
            key: "id".into()
        }
    );
}

#[test]
fn keys_that_are_not_strings_refused() {
    let map = BTreeMap::from([((1, 2), "pair")]);
    let err = to_canonical_string(&[map]).unwrap_err();
    assert_eq!(
        err,
        CanonError::KeyNotString {
            path: "$[0]".into(),
            kind: "a tuple"
        }
    );
    assert!(err.to_string().contains("must be strings"), "{err}");
}

#[test]
fn errors_of_serialize_impls_carry_the_path() {
    struct Fails;
    impl Serialize for Fails {
        fn serialize<S: Serializer>(&self, _s: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("no can do"))
        }
    }
    let value = BTreeMap::from([("list", vec![None, Some(Fails)])]);
    let err = to_canonical_string(&value).unwrap_err();
    assert_eq!(
        err,
        CanonError::Serialize {
            path: "$.list[1]".into(),
            message: "no can do".into()
        }
    );
}

#[test]
fn nesting_limit_applies_to_values() {
    let nest = |n: usize| {
        let mut v = json!(1);
        for _ in 0..n {
            v = json!([v]);
        }
        v
    };
    assert!(to_canonical_vec(&nest(MAX_DEPTH)).is_ok());
    assert!(matches!(
        to_canonical_vec(&nest(MAX_DEPTH + 1)),
        Err(CanonError::TooDeep {
            limit: MAX_DEPTH,
            ..
        })
    ));
}

#[test]
fn strings_and_str_agree() {
    let owned = String::from("a\u{2028}b");
    assert_eq!(
        to_canonical_string(&owned).unwrap(),
        to_canonical_string("a\u{2028}b").unwrap()
    );
    assert_eq!(to_canonical_string(&'€').unwrap(), "\"€\"");
}
