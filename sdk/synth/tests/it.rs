//! The generator's promises: determinism, realism within stated
//! tolerances, model-valid records, and files exactly in FORMAT.md's shape.

use gpes_model::{Date, Record, is_valid_nhs_number};
use gpes_synth::{HEADERS, Practice, PracticeConfig, Stats, generate, write_csv_export};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::OnceLock;

/// The 10,000-patient practice most tests look at, made once.
fn practice() -> &'static Practice {
    static P: OnceLock<Practice> = OnceLock::new();
    P.get_or_init(|| generate(&PracticeConfig::new(1, "A81001", 10_000)))
}

fn hashes(dir: &Path) -> BTreeMap<String, String> {
    HEADERS
        .iter()
        .map(|(name, _)| {
            let bytes = std::fs::read(dir.join(name)).expect("file written");
            (name.to_string(), hex::encode(Sha256::digest(&bytes)))
        })
        .collect()
}

fn written(config: &PracticeConfig) -> (tempfile::TempDir, BTreeMap<String, String>) {
    let dir = tempfile::tempdir().expect("temp dir");
    write_csv_export(&generate(config), dir.path()).expect("written");
    let h = hashes(dir.path());
    (dir, h)
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let config = PracticeConfig::new(42, "B82002", 2_000);
    let (_a, first) = written(&config);
    let (_b, second) = written(&config);
    assert_eq!(first, second);
    let (_c, other) = written(&PracticeConfig {
        seed: 43,
        ..config.clone()
    });
    for (name, hash) in &first {
        assert_ne!(hash, &other[name], "{name} did not change with the seed");
    }
}

#[test]
fn a_seed_means_the_same_practice_forever() {
    // Pinned: if this changes, every published seed now names a different
    // practice. Change it only on purpose, and say so in the README.
    let config = PracticeConfig::new(7, "A81001", 1_000);
    let (_d, h) = written(&config);
    let all = h.values().cloned().collect::<Vec<_>>().join(",");
    let digest = hex::encode(Sha256::digest(all.as_bytes()));
    assert_eq!(digest, PINNED_SEED_7, "{h:#?}");
}

const PINNED_SEED_7: &str = "47f2da3475d1a86939e91026270d07168f4756cf40a1cfd2536be1af4b0b2bc7";

fn within(name: &str, got: f64, lo: f64, hi: f64) {
    assert!(
        (lo..=hi).contains(&got),
        "{name}: {got:.2}% is outside {lo}% to {hi}%"
    );
}

#[test]
fn realistic_for_ten_thousand_patients() {
    let s: Stats = practice().stats();
    println!("{s}");
    assert_eq!(s.patients, 10_000);
    within(
        "registered share",
        100.0 * s.registered as f64 / 10_000.0,
        86.0,
        92.0,
    );
    within("under 16", s.under_16_percent(), 17.0, 21.0);
    within("65 and over", s.over_65_percent(), 16.5, 21.0);
    assert!(
        s.registered_65_plus_female * 2 > s.registered_65_plus,
        "more women than men at 65 and over"
    );
    within("diabetes (17+)", s.diabetes_percent(), 6.0, 8.5);
    within("hypertension", s.hypertension_percent(), 12.5, 15.5);
    within("asthma", s.asthma_percent(), 5.5, 7.5);
    within("Type 1 opt-out", s.opted_out_percent(), 2.3, 3.7);
    within("HbA1c <= 58", s.hba1c_58_or_less_percent(), 58.0, 72.0);
    within("BP <= 140/90", s.bp_controlled_percent(), 66.0, 79.0);
    within("flu 65+", s.flu_65_plus_percent(), 68.0, 82.0);
    within(
        "diabetics with a recent HbA1c",
        100.0 * s.diabetes_hba1c_12m as f64 / s.diabetes as f64,
        80.0,
        97.0,
    );
    within(
        "temporary residents",
        100.0 * s.temporary_residents as f64 / 10_000.0,
        1.0,
        2.0,
    );
    within(
        "joined in the last year",
        100.0 * s.joined_last_year as f64 / s.registered as f64,
        5.0,
        12.0,
    );
    assert!(s.diabetes_type_1 > 0 && s.diabetes_type_1 * 5 < s.diabetes);
    assert!(s.diabetes_resolved > 0 && s.hypertension_resolved > 0 && s.asthma_resolved > 0);
    assert!(s.died > 100 && s.left > 300 && s.transferred > 50);
    assert!(s.returned > 100 && s.elsewhere_only > 0);
}

#[test]
fn nhs_numbers_are_valid_and_unique() {
    let mut seen = HashSet::new();
    for p in &practice().patients {
        if let Some(n) = &p.nhs_number {
            assert!(is_valid_nhs_number(n), "{n}");
            assert!(n.starts_with("999"), "{n} is outside the test range");
            assert!(seen.insert(n.clone()), "{n} repeated");
        }
    }
    assert!(seen.len() > 9_900);
}

#[test]
fn records_keep_the_model_and_time() {
    keeps_the_model_and_time(practice());
}

#[test]
fn other_reference_dates_keep_the_rules() {
    for (y, m, d) in [(2024, 10, 15), (1990, 2, 28), (2030, 12, 31)] {
        let mut config = PracticeConfig::new(3, "A81001", 1_000);
        config.reference_date = Date::ymd(y, m, d).expect("valid");
        let p = generate(&config);
        keeps_the_model_and_time(&p);
        let s = p.stats();
        assert!(
            s.registered > 850 && s.flu_65_plus > 0 && s.diabetes > 0,
            "{s}"
        );
    }
}

fn keeps_the_model_and_time(p: &Practice) {
    for r in p.records() {
        r.validate().unwrap_or_else(|e| panic!("{e}: {r:?}"));
    }
    let life: HashMap<&str, (Date, Option<Date>)> = p
        .patients
        .iter()
        .map(|pt| {
            (
                pt.id.as_str(),
                (
                    pt.date_of_birth.expect("every patient has one"),
                    pt.date_of_death,
                ),
            )
        })
        .collect();
    let reference = p.reference_date;
    let in_life = |id: &str, d: Date, what: &str| {
        let (born, died) = life[id];
        assert!(d >= born, "{what} of {id} on {d}, before birth on {born}");
        assert!(
            d <= reference,
            "{what} of {id} on {d}, after the reference date"
        );
        if let Some(died) = died {
            assert!(d <= died, "{what} of {id} on {d}, after death on {died}");
        }
    };
    for r in &p.registrations {
        if let Some(end) = r.end {
            assert!(end >= r.start);
        }
        assert!(
            r.start >= life[r.patient_id.as_str()].0,
            "registered before birth"
        );
        if let (Some(died), Some(end)) = (life[r.patient_id.as_str()].1, r.end)
            && r.practice == p.practice
            && r.start <= died
        {
            assert!(end >= died, "deregistered before death");
        }
    }
    for e in &p.events {
        in_life(&e.patient_id, e.date, "event");
    }
    for m in &p.medications {
        in_life(&m.patient_id, m.date, "medication");
    }
    // Some readings share a date (systolic with diastolic, HbA1c with BP).
    let same_day = p
        .events
        .windows(2)
        .filter(|w| w[0].patient_id == w[1].patient_id && w[0].date == w[1].date)
        .count();
    assert!(same_day > p.patients.len() / 10);
    assert!(
        p.records()
            .all(|r| !matches!(r, Record::Patient(ref x) if x.id.is_empty()))
    );
}

#[test]
fn files_round_trip_with_format_md_headers() {
    let p = practice();
    let dir = tempfile::tempdir().expect("temp dir");
    write_csv_export(p, dir.path()).expect("written");
    let format = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plugins/csv-export/FORMAT.md"),
    )
    .expect("FORMAT.md");
    let counts = [
        p.patients.len(),
        p.registrations.len(),
        p.events.len(),
        p.medications.len(),
    ];
    for ((name, header), count) in HEADERS.iter().zip(counts) {
        let line = header.join(",");
        assert!(
            format.contains(&format!("`{line}`")),
            "FORMAT.md does not give {name} the header {line}"
        );
        let mut reader = csv::Reader::from_path(dir.path().join(name)).expect("opens");
        let got: Vec<String> = reader
            .headers()
            .expect("header")
            .iter()
            .map(str::to_owned)
            .collect();
        assert_eq!(got, *header, "{name}");
        let mut rows = 0;
        for row in reader.records() {
            let row = row.expect("a well-formed line");
            assert_eq!(row.len(), header.len());
            assert!(!row[0].is_empty());
            rows += 1;
        }
        assert_eq!(rows, count, "{name}");
        let text = std::fs::read_to_string(dir.path().join(name)).expect("UTF-8");
        assert!(!text.contains('\r'), "{name}: lines end with \\n");
    }
    let events = std::fs::read_to_string(dir.path().join("Observation.csv")).expect("read");
    assert!(events.contains(",SNOMED,999791000000106,"));
    assert!(events.contains(",mm[Hg]\n") && events.contains(",mmol/mol\n"));
    let meds = std::fs::read_to_string(dir.path().join("Medication.csv")).expect("read");
    assert!(meds.contains(",DMD,"));
    let regs = std::fs::read_to_string(dir.path().join("Registration.csv")).expect("read");
    assert!(regs.contains(",TEMP\n") && regs.contains(",,GMS\n"));
}

/// Reads the written files back as the csv-export adapter would and
/// checks every field against the records.
#[test]
fn written_values_read_back_as_the_records() {
    let p = generate(&PracticeConfig::new(5, "C83003", 1_000));
    let dir = tempfile::tempdir().expect("temp dir");
    write_csv_export(&p, dir.path()).expect("written");
    let rows = |name: &str| -> Vec<csv::StringRecord> {
        csv::Reader::from_path(dir.path().join(name))
            .expect("opens")
            .records()
            .map(|r| r.expect("well formed"))
            .collect()
    };
    let opt = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    // FORMAT.md's dates: DD/MM/YYYY, MM/YYYY or YYYY.
    let date = |s: &str| {
        let n: Vec<u16> = s.split('/').map(|p| p.parse().expect("digits")).collect();
        match n[..] {
            [d, m, y] => Date::ymd(i32::from(y), m as u8, d as u8),
            [m, y] => Date::new(i32::from(y), m as u8, 1, gpes_model::Precision::Month),
            [y] => Date::new(i32::from(y), 1, 1, gpes_model::Precision::Year),
            _ => panic!("'{s}' is not a FORMAT.md date"),
        }
        .expect("a date")
    };
    let num = |s: &str| (!s.is_empty()).then(|| s.parse::<f64>().expect("a number"));
    for (row, pt) in rows("Patient.csv").iter().zip(&p.patients) {
        assert_eq!(row[0], pt.id);
        assert_eq!(opt(&row[1]), pt.nhs_number);
        assert_eq!(Some(date(&row[2])), pt.date_of_birth);
        assert_eq!(opt(&row[5]).map(|d| date(&d)), pt.date_of_death);
        assert_eq!(opt(&row[4]), pt.postcode);
        let sex = match &row[3] {
            "M" => gpes_model::Sex::Male,
            "F" => gpes_model::Sex::Female,
            "I" => gpes_model::Sex::Other,
            "U" => gpes_model::Sex::Unknown,
            other => panic!("Gender '{other}' is not in FORMAT.md"),
        };
        assert_eq!(sex, pt.sex);
    }
    for (row, r) in rows("Registration.csv").iter().zip(&p.registrations) {
        assert_eq!(row[0], r.patient_id);
        assert_eq!(row[1], r.practice);
        assert_eq!(date(&row[2]), r.start);
        assert_eq!(opt(&row[3]).map(|d| date(&d)), r.end);
        let kind = match &row[4] {
            "GMS" => gpes_model::RegistrationType::Regular,
            "TEMP" => gpes_model::RegistrationType::Temporary,
            other => panic!("RegistrationType '{other}' is not in FORMAT.md"),
        };
        assert_eq!(kind, r.kind);
    }
    let events = rows("Observation.csv");
    assert_eq!(events.len(), p.events.len());
    for (row, e) in events.iter().zip(&p.events) {
        assert_eq!(row[0], e.patient_id);
        assert_eq!(date(&row[1]), e.date);
        assert_eq!(&row[2], "SNOMED");
        assert_eq!(row[3].parse::<u64>().expect("a code"), e.code);
        assert_eq!(num(&row[4]), e.value);
        assert_eq!(opt(&row[5]), e.unit);
    }
    let meds = rows("Medication.csv");
    assert_eq!(meds.len(), p.medications.len());
    for (row, m) in meds.iter().zip(&p.medications) {
        assert_eq!(row[0], m.patient_id);
        assert_eq!(date(&row[1]), m.date);
        assert_eq!(&row[2], "DMD");
        assert_eq!(row[3].parse::<u64>().expect("a code"), m.code);
        assert_eq!(num(&row[4]), m.quantity);
    }
}

#[test]
fn every_code_written_is_in_the_codes_module() {
    use gpes_synth::codes::{DMD, SNOMED};
    let p = practice();
    assert!(p.events.iter().all(|e| SNOMED.contains(&e.code)));
    assert!(p.medications.iter().all(|m| DMD.contains(&m.code)));
}

#[test]
fn background_activity_can_be_turned_off() {
    let quiet = generate(&PracticeConfig {
        background_years: 0,
        ..PracticeConfig::new(1, "A81001", 1_000)
    });
    let busy = generate(&PracticeConfig::new(1, "A81001", 1_000));
    assert!(quiet.events.len() * 10 < busy.events.len());
    // The clinical records and the counts do not depend on the background.
    let (q, b) = (quiet.stats(), busy.stats());
    assert_eq!(
        (q.registered, q.diabetes, q.hypertension, q.asthma),
        (b.registered, b.diabetes, b.hypertension, b.asthma)
    );
    assert_eq!(quiet.patients, busy.patients);
    assert_eq!(quiet.registrations, busy.registrations);
    assert_eq!(quiet.medications, busy.medications);
}

#[test]
fn bad_configurations_are_refused() {
    assert!(PracticeConfig::new(1, "A81001", 999).check().is_err());
    assert!(PracticeConfig::new(1, "A81001", 100_001).check().is_err());
    assert!(PracticeConfig::new(1, " ", 1_000).check().is_err());
    assert!(PracticeConfig::new(1, "A81001", 100_000).check().is_ok());
}
