//! Throws many mutated query files at the parser (and, when one is still
//! valid, at canonicalisation, binding and the engine): nothing may panic.
//! A deterministic stand-in for the cargo-fuzz target in `fuzz/`.

use gpes_model::{Date, Event, Patient, Record, Registration, RegistrationType, Sex};
use std::collections::BTreeMap;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ":",
    ",",
    "-",
    "\n",
    " ",
    "  ",
    "'",
    "\"",
    "&a",
    "*a",
    "!!str",
    "null",
    "is",
    "not",
    "and",
    "or",
    "(",
    ")",
    "<=",
    ">=",
    "=",
    "!=",
    "PPED",
    "AGE",
    "DM_REG",
    "12",
    "months",
    "days",
    "years",
    "2024-02-29",
    "0",
    "-1",
    "99999999999999999999",
    "select",
    "reject",
    "next",
    "when",
    "then",
    "else",
    "from",
    "rules",
    "cluster",
    "latest",
    "between",
    "73211009",
    "\t",
    "#",
    "|",
    ">",
    "~",
    "on",
    "yes",
    "all_patients",
    "é",
    "\u{feff}",
];

fn mutate(rng: &mut Rng, seed: &str) -> String {
    let mut s: Vec<char> = seed.chars().collect();
    for _ in 0..=rng.below(4) {
        let at = rng.below(s.len() + 1);
        match rng.below(6) {
            0 if !s.is_empty() => {
                let end = (at + rng.below(8)).min(s.len());
                s.drain(at.min(end)..end);
            }
            1 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                for (i, c) in t.chars().enumerate() {
                    s.insert(at + i, c);
                }
            }
            2 if at < s.len() => s[at] = char::from(b' ' + (rng.below(95) as u8)),
            3 if !s.is_empty() => {
                // Duplicate a chunk elsewhere.
                let from = rng.below(s.len());
                let end = (from + rng.below(40)).min(s.len());
                let chunk: Vec<char> = s[from..end].to_vec();
                let to = rng.below(s.len() + 1);
                for (i, c) in chunk.into_iter().enumerate() {
                    s.insert(to + i, c);
                }
            }
            4 => {
                // Swap two lines.
                let text: String = s.iter().collect();
                let mut lines: Vec<&str> = text.lines().collect();
                if lines.len() > 2 {
                    let (a, b) = (rng.below(lines.len()), rng.below(lines.len()));
                    lines.swap(a, b);
                }
                s = lines.join("\n").chars().collect();
            }
            _ => {}
        }
    }
    s.into_iter().collect()
}

fn records() -> Vec<Record> {
    let d = |s: &str| Date::parse_iso(s).expect("date");
    vec![
        Record::Patient(Patient {
            id: "p".into(),
            nhs_number: None,
            date_of_birth: Some(d("1950-02")),
            sex: Sex::Female,
            postcode: None,
            date_of_death: None,
            death_date_unknown: false,
        }),
        Record::Registration(Registration {
            patient_id: "p".into(),
            practice: "A81001".into(),
            start: d("2000-01-01"),
            end: None,
            kind: RegistrationType::Regular,
        }),
        Record::Event(Event {
            patient_id: "p".into(),
            date: d("2024-06-01"),
            code: 999791000000106,
            value: Some(50.0),
            unit: None,
        }),
        Record::Event(Event {
            patient_id: "p".into(),
            date: d("2019"),
            code: 73211009,
            value: None,
            unit: None,
        }),
    ]
}

#[test]
fn mutated_queries_never_panic() {
    let seeds = [
        include_str!("queries/dm020.yaml"),
        include_str!("queries/record_level.yaml"),
    ];
    let records = records();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut valid, mut total) = (0, 0);
    for round in 0..4000 {
        let seed = seeds[round % seeds.len()];
        let text = mutate(&mut rng, seed);
        total += 1;
        let Ok(spec) = gpes_query::parse("fuzz.yaml", &text) else {
            continue;
        };
        valid += 1;
        // Every valid query has a canonical form.
        assert!(spec.canonical_json().is_ok(), "{text}");
        if let Ok(bound) = spec.bind("A81001", &BTreeMap::new()) {
            let _ = bound.needs();
            let _ = bound.evaluate(&records);
        }
    }
    // The mutations must leave some queries valid, or the engine is not
    // being exercised.
    assert!(valid > 50 && valid < total, "{valid} of {total} valid");
}

#[test]
fn arbitrary_bytes_never_panic() {
    let mut rng = Rng(42);
    for _ in 0..2000 {
        let len = rng.below(200);
        let bytes: Vec<u8> = (0..len).map(|_| (rng.next() & 0xff) as u8).collect();
        let text = String::from_utf8_lossy(&bytes);
        let _ = gpes_query::parse("fuzz.yaml", &text);
    }
}
