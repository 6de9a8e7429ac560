//! Writing a practice as a FHIR R4 bulk-data export: NDJSON, one resource a
//! line, in files `<ResourceType>.<nnn>.ndjson`, read by the fhir-ndjson
//! plugin (`plugins/fhir-ndjson/README.md` states its mapping, which this
//! writer follows so that the plugin reads back exactly the records the
//! csv-export plugin reads from [`write_csv_export`](crate::write_csv_export)'s
//! files of the same practice).
//!
//! What each record becomes:
//!
//! - patient → `Patient`, whose `id` is the model's patient id (the plugin
//!   takes the patient id from `Patient.id` and `Patient/<id>` references,
//!   so a UUID here would change every record); the NHS number is the
//!   second identifier, behind a local record GUID.
//! - registration → `EpisodeOfCare` (`period.end` is the last day
//!   registered, the model's end less one day; see [`write_fhir_ndjson`]).
//! - event → `Condition` (diagnoses), `Immunization` (vaccinations) or
//!   `Observation` (everything else, consultations included: the plugin
//!   reads no Encounter or Procedure); a value or unit → `valueQuantity`.
//!   With [`FhirOptions::bp_panels`], a patient's systolic and diastolic
//!   readings of one day are written together as one blood pressure panel
//!   `Observation` with two `component`s instead.
//! - medication → `MedicationRequest` with `dispenseRequest.quantity` when
//!   it has a quantity, else `MedicationStatement`.
//! - one `Organization` per practice named by a registration (not read by
//!   the plugin, which counts the file once as unused).
//!
//! Every other resource id is a UUID-shaped string hashed from the
//! practice, the resource type and the record's place in its table, and
//! times of day come from the same hash, so a practice is written byte for
//! byte the same every time.

use crate::Practice;
use crate::codes::*;
use crate::days::{from_days, to_days};
use crate::rng::SplitMix64;
use gpes_model::{
    Date, Event, Medication, Patient, Precision, Registration, RegistrationType, Sex,
};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// Resources a file holds before the next file of its type is started
/// (`Observation.000.ndjson`, `Observation.001.ndjson`, ...), as bulk
/// exports split large types.
pub const FHIR_RESOURCES_PER_FILE: usize = 100_000;

/// The resource types written, so stale files of an earlier export in the
/// same folder can be removed first.
const TYPES: [&str; 8] = [
    "Patient",
    "EpisodeOfCare",
    "Condition",
    "Observation",
    "Immunization",
    "MedicationRequest",
    "MedicationStatement",
    "Organization",
];

const SNOMED_CT: &str = "http://snomed.info/sct";
const LOINC: &str = "http://loinc.org";
const DMD: &str = "https://dmd.nhs.uk";
const READ_V2: &str = "http://read.info/readv2";
const UCUM: &str = "http://unitsofmeasure.org";
const NHS_NUMBER: &str = "https://fhir.nhs.uk/Id/nhs-number";
const ODS: &str = "https://fhir.nhs.uk/Id/ods-organization-code";
/// The (made-up) supplier's own code systems and identifiers.
const LOCAL_GUID: &str = "https://fhir.gpes-synth.example/Id/patient-guid";
const LOCAL_DRUG: &str = "https://fhir.gpes-synth.example/CodeSystem/drug-code";
const UK_CORE: &str = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-";

/// SNOMED CT preferred terms of the codes the generator writes, and the
/// Read v2 code a GP system migrated from Read would carry beside some of
/// them. The Read codes are the commonly used ones, written from memory and
/// not checked against the Read browser: they are there so that a reader
/// must choose the SNOMED CT coding, and nothing maps them.
const TERMS: [(u64, &str, Option<&str>); 58] = [
    (DIABETES, "Diabetes mellitus", Some("C10..")),
    (DIABETES_TYPE_2, "Type 2 diabetes mellitus", Some("C10F.")),
    (DIABETES_TYPE_1, "Type 1 diabetes mellitus", Some("C10E.")),
    (DIABETES_RESOLVED, "Diabetes resolved", Some("21263")),
    (HYPERTENSION, "Hypertensive disorder", Some("G2...")),
    (
        HYPERTENSION_RESOLVED,
        "Hypertension resolved",
        Some("212K."),
    ),
    (ASTHMA, "Asthma", Some("H33..")),
    (ASTHMA_RESOLVED, "Asthma resolved", Some("212G.")),
    (
        HBA1C_IFCC,
        "Haemoglobin A1c level - IFCC standardised",
        Some("42W5."),
    ),
    (SYSTOLIC_BP, "Systolic blood pressure", Some("2469.")),
    (DIASTOLIC_BP, "Diastolic blood pressure", Some("246A.")),
    (
        FLU_VACCINATION,
        "Administration of first inactivated seasonal influenza vaccination",
        Some("65ED."),
    ),
    (
        TYPE_1_OPT_OUT,
        "Dissent from secondary use of general practitioner patient identifiable data",
        Some("9Nu0."),
    ),
    (ENCOUNTER, "Patient encounter procedure", None),
    (TELEPHONE_ENCOUNTER, "Telephone encounter", None),
    (PULSE_RATE, "Pulse rate", Some("242..")),
    (BODY_TEMPERATURE, "Body temperature", None),
    (OXYGEN_SATURATION, "Peripheral oxygen saturation", None),
    (BODY_WEIGHT, "Body weight", Some("22A..")),
    (BODY_HEIGHT, "Body height", Some("229..")),
    (BMI, "Body mass index", Some("22K..")),
    (NEVER_SMOKED, "Never smoked tobacco", Some("1371.")),
    (EX_SMOKER, "Ex-smoker", Some("137S.")),
    (SMOKER, "Smoker", Some("137R.")),
    (MEDICATION_REVIEW, "Medication review done", None),
    (ESSENTIAL_HYPERTENSION, "Essential hypertension", None),
    (
        MAXIMAL_BP_THERAPY,
        "Patient on maximal tolerated antihypertensive therapy",
        None,
    ),
    (
        HYPERTENSION_PCA_UNSUITABLE,
        "Excepted from hypertension quality indicators - patient unsuitable",
        None,
    ),
    (
        HYPERTENSION_PCA_DECLINED,
        "Excepted from hypertension quality indicators - informed dissent",
        None,
    ),
    (BP_DECLINED, "Blood pressure procedure declined", None),
    (
        HYPERTENSION_INVITATION,
        "Hypertension monitoring invitation",
        None,
    ),
    (
        HYPERTENSION_FIRST_LETTER,
        "Hypertension monitoring first letter",
        None,
    ),
    (MILD_FRAILTY, "Mild frailty", None),
    (MODERATE_FRAILTY, "Moderate frailty", None),
    (SEVERE_FRAILTY, "Severe frailty", None),
    (
        FLU_BY_PHARMACIST,
        "Seasonal influenza vaccination given by pharmacist",
        None,
    ),
    (ANGINA, "Angina", None),
    (MYOCARDIAL_INFARCTION, "Myocardial infarction", None),
    (ISCHAEMIC_HEART_DISEASE, "Ischaemic heart disease", None),
    (ATRIAL_FIBRILLATION, "Atrial fibrillation", None),
    (PAROXYSMAL_AF, "Paroxysmal atrial fibrillation", None),
    (AF_RESOLVED, "Atrial fibrillation resolved", None),
    (ASTHMA_REVIEW, "Asthma annual review", None),
    (ASTHMA_MONITORING, "Asthma monitoring check done", None),
    (ASTHMA_PLAN, "Asthma self-management plan agreed", None),
    (ASTHMA_CONTROL_TEST, "Asthma control test score", None),
    (
        ASTHMA_EXACERBATIONS,
        "Number of asthma exacerbations in past year",
        None,
    ),
    (
        ASTHMA_PCA_UNSUITABLE,
        "Excepted from asthma quality indicators - patient unsuitable",
        None,
    ),
    (
        ASTHMA_MONITORING_DECLINED,
        "Asthma monitoring refused",
        None,
    ),
    (
        ASTHMA_PCA_DECLINED,
        "Excepted from asthma quality indicators - informed dissent",
        None,
    ),
    (
        ASTHMA_INVITATION,
        "Asthma monitoring call first letter",
        None,
    ),
    (SERUM_FRUCTOSAMINE, "Serum fructosamine level", None),
    (
        MAXIMAL_DIABETES_THERAPY,
        "Patient on maximal tolerated therapy for diabetes",
        None,
    ),
    (
        DIABETES_PCA_UNSUITABLE,
        "Excepted from diabetes quality indicators - patient unsuitable",
        None,
    ),
    (
        DIABETES_PCA_DECLINED,
        "Excepted from diabetes quality indicators - informed dissent",
        None,
    ),
    (BLOOD_TEST_DECLINED, "Blood test declined", None),
    (DIABETES_INVITATION, "Diabetes monitoring invitation", None),
    (
        DIABETES_FIRST_LETTER,
        "Diabetes monitoring first letter",
        None,
    ),
];

/// dm+d terms, the unit of a quantity and a dosage text.
const DRUGS: [(u64, &str, &str, &str); 2] = [
    (
        SALBUTAMOL_INHALER,
        "Salbutamol 100micrograms/dose inhaler CFC free",
        "dose",
        "Two puffs when required",
    ),
    (
        METFORMIN_500MG_TABLETS,
        "Metformin 500mg tablets",
        "tablet",
        "One tablet twice a day with meals",
    ),
];

fn term(code: u64) -> Option<(&'static str, Option<&'static str>)> {
    TERMS
        .iter()
        .find(|t| t.0 == code)
        .map(|&(_, display, read)| (display, read))
}

/// Which resource an event becomes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum EventResource {
    Condition,
    Observation,
    Immunization,
}

fn event_resource(e: &Event) -> EventResource {
    if e.value.is_some() || e.unit.is_some() {
        return EventResource::Observation;
    }
    match e.code {
        DIABETES
        | DIABETES_TYPE_1
        | DIABETES_TYPE_2
        | HYPERTENSION
        | ESSENTIAL_HYPERTENSION
        | ASTHMA
        | ANGINA
        | MYOCARDIAL_INFARCTION
        | ISCHAEMIC_HEART_DISEASE
        | ATRIAL_FIBRILLATION
        | PAROXYSMAL_AF => EventResource::Condition,
        FLU_VACCINATION | FLU_BY_PHARMACIST => EventResource::Immunization,
        _ => EventResource::Observation,
    }
}

fn observation_category(code: u64) -> Option<(&'static str, &'static str)> {
    match code {
        SYSTOLIC_BP | DIASTOLIC_BP | PULSE_RATE | BODY_TEMPERATURE | OXYGEN_SATURATION
        | BODY_WEIGHT | BODY_HEIGHT | BMI => Some(("vital-signs", "Vital Signs")),
        HBA1C_IFCC => Some(("laboratory", "Laboratory")),
        NEVER_SMOKED | EX_SMOKER | SMOKER => Some(("social-history", "Social History")),
        _ => None,
    }
}

/// Deterministic identifiers and times of day.
struct Ids {
    key: u64,
}

/// One hashed draw: 128 bits for a UUID and 64 more for choices.
struct Draw {
    hi: u64,
    lo: u64,
    extra: u64,
}

impl Ids {
    /// Keyed by the practice code, the reference date and the first
    /// patient (so two seeds of one practice code share no resource ids).
    fn new(practice: &Practice) -> Ids {
        let mut key: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |bytes: &[u8]| {
            for b in bytes {
                key = (key ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
            }
            key = (key ^ 0xff).wrapping_mul(0x0000_0100_0000_01b3);
        };
        eat(practice.practice.as_bytes());
        eat(practice.reference_date.to_string().as_bytes());
        if let Some(p) = practice.patients.first() {
            eat(p.id.as_bytes());
            eat(p.nhs_number.as_deref().unwrap_or("").as_bytes());
            eat(p
                .date_of_birth
                .map(|d| d.to_string())
                .unwrap_or_default()
                .as_bytes());
        }
        Ids { key }
    }

    fn draw(&self, kind: u64, n: u64) -> Draw {
        let mut sm = SplitMix64::new(
            self.key
                ^ kind.wrapping_mul(0x9E37_79B9_7F4A_7C15)
                ^ n.wrapping_mul(0xD1B5_4A32_D192_ED03),
        );
        Draw {
            hi: sm.next_u64(),
            lo: sm.next_u64(),
            extra: sm.next_u64(),
        }
    }
}

impl Draw {
    /// A version-4-shaped UUID of the draw's 128 bits.
    fn uuid(&self, out: &mut String) {
        let hi = (self.hi & !0xF000) | 0x4000;
        let lo = (self.lo & !(0xC << 60)) | (0x8 << 60);
        let _ = write!(
            out,
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            hi >> 32,
            (hi >> 16) & 0xFFFF,
            hi & 0xFFFF,
            lo >> 48,
            lo & 0xFFFF_FFFF_FFFF
        );
    }

    /// A number in `0..n` from the draw's spare bits, the `i`-th of several.
    fn pick(&self, i: u32, n: u64) -> u64 {
        (self.extra.rotate_left(i * 16) & 0xFFFF) % n
    }
}

/// Resource kinds, for the id hash.
const K_PATIENT: u64 = 1;
const K_EPISODE: u64 = 2;
const K_EVENT: u64 = 3;
const K_MEDICATION: u64 = 4;
const K_ORGANIZATION: u64 = 5;

/// Appends `s` as a JSON string.
fn json_str(out: &mut String, s: &str) {
    out.push('"');
    json_escaped(out, s);
    out.push('"');
}

/// Appends `s` escaped for the inside of a JSON string.
fn json_escaped(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
}

/// Appends a number as JSON: Rust's shortest round-trip decimal form.
fn json_number(out: &mut String, v: f64) -> io::Result<()> {
    if !v.is_finite() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{v} cannot be written as a FHIR decimal"),
        ));
    }
    let _ = write!(out, "{v}");
    Ok(())
}

/// True when `d` (a whole date) falls in British Summer Time on the hours
/// a practice is open: from the last Sunday of March to the day before the
/// last Sunday of October (the rule since 1981, used for every year here).
fn british_summer_time(d: Date) -> bool {
    let last_sunday = |month: u8| {
        let last = to_days(Date::ymd(d.year, month, 31).expect("March and October have 31 days"));
        // Day 0 (1970-01-01) was a Thursday: (days + 4) mod 7 is 0 on Sundays.
        last - (last + 4).rem_euclid(7)
    };
    let day = to_days(d);
    (last_sunday(3)..last_sunday(10)).contains(&day)
}

/// Appends a FHIR dateTime for `d`: a whole date gets a time of day from
/// 08:00 and England's offset on that date (the local date stays
/// the recorded one); a partial date is written as partial.
fn date_time(out: &mut String, d: Date, minute_of_day: u64) {
    if d.precision != Precision::Day {
        let _ = write!(out, "\"{d}\"");
        return;
    }
    let minutes = 8 * 60 + minute_of_day % (11 * 60);
    let offset = if british_summer_time(d) {
        "+01:00"
    } else {
        "+00:00"
    };
    let _ = write!(
        out,
        "\"{d}T{:02}:{:02}:{:02}{offset}\"",
        minutes / 60,
        minutes % 60,
        (minute_of_day / 7) % 60
    );
}

/// Appends `,"meta":{...}` with a last-updated time on `d` and, if given,
/// a UK Core profile.
fn meta(out: &mut String, d: Date, draw: &Draw, profile: Option<&str>) {
    out.push_str(r#","meta":{"versionId":"1","lastUpdated":"#);
    let d = if d.precision == Precision::Day {
        d
    } else {
        Date::ymd(d.year, d.month, 1).expect("the first of a month")
    };
    date_time(out, d, draw.pick(1, 600));
    if let Some(p) = profile {
        let _ = write!(out, r#","profile":["{UK_CORE}{p}"]"#);
    }
    out.push('}');
}

fn subject(out: &mut String, field: &str, patient: &str) {
    let _ = write!(out, r#","{field}":{{"reference":"Patient/"#);
    json_escaped(out, patient);
    out.push_str("\"}");
}

fn coding(out: &mut String, system: &str, code: &str, display: Option<&str>) {
    let _ = write!(out, r#"{{"system":"{system}","code":"#);
    json_str(out, code);
    if let Some(d) = display {
        out.push_str(r#","display":"#);
        json_str(out, d);
    }
    out.push('}');
}

/// Appends `,"<field>":{"coding":[...],"text":...}` for a SNOMED CT
/// concept: its coding with the preferred term, and the Read v2 coding
/// beside it where there is one, first or second by `read_first`.
fn snomed_concept(out: &mut String, field: &str, code: u64, read_first: bool) {
    let _ = write!(out, r#","{field}":{{"coding":["#);
    let term = term(code);
    let code_text = code.to_string();
    let sct = |out: &mut String| coding(out, SNOMED_CT, &code_text, term.map(|t| t.0));
    match term {
        Some((display, Some(read))) => {
            let read = |out: &mut String| coding(out, READ_V2, read, Some(display));
            if read_first {
                read(out);
                out.push(',');
                sct(out);
            } else {
                sct(out);
                out.push(',');
                read(out);
            }
        }
        _ => sct(out),
    }
    out.push(']');
    if let Some((display, _)) = term {
        out.push_str(r#","text":"#);
        json_str(out, display);
    }
    out.push('}');
}

/// One resource type's files: a new file every `per_file` resources.
struct Ndjson<'a> {
    dir: &'a Path,
    resource_type: &'static str,
    per_file: usize,
    written: usize,
    out: Option<BufWriter<File>>,
}

impl<'a> Ndjson<'a> {
    fn new(dir: &'a Path, resource_type: &'static str, per_file: usize) -> Self {
        Ndjson {
            dir,
            resource_type,
            per_file,
            written: 0,
            out: None,
        }
    }

    fn start_file(&mut self) -> io::Result<()> {
        if let Some(mut old) = self.out.take() {
            old.flush()?;
        }
        let n = self.written / self.per_file;
        let name = format!("{}.{n:03}.ndjson", self.resource_type);
        self.out = Some(BufWriter::with_capacity(
            1 << 16,
            File::create(self.dir.join(name))?,
        ));
        Ok(())
    }

    fn line(&mut self, line: &str) -> io::Result<()> {
        if self.written.is_multiple_of(self.per_file) {
            self.start_file()?;
        }
        let out = self.out.as_mut().expect("a file was started");
        out.write_all(line.as_bytes())?;
        out.write_all(b"\n")?;
        self.written += 1;
        Ok(())
    }

    fn finish(mut self) -> io::Result<usize> {
        if let Some(mut out) = self.out.take() {
            out.flush()?;
        }
        Ok(self.written)
    }
}

/// Removes `<Type>.<digits>.ndjson` files of the types this writer makes,
/// so an earlier, larger export in the folder leaves nothing behind.
fn remove_stale(dir: &Path) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(stem) = name.strip_suffix(".ndjson") else {
            continue;
        };
        let Some((resource_type, n)) = stem.split_once('.') else {
            continue;
        };
        if TYPES.contains(&resource_type)
            && !n.is_empty()
            && n.bytes().all(|b| b.is_ascii_digit())
            && entry.file_type()?.is_file()
        {
            fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

/// Resources written, by type.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FhirCounts {
    pub patients: usize,
    pub episodes_of_care: usize,
    pub conditions: usize,
    pub observations: usize,
    pub immunizations: usize,
    pub medication_requests: usize,
    pub medication_statements: usize,
    pub organizations: usize,
}

/// Writes `practice` into `dir` (made if missing) as a FHIR R4 bulk-data
/// export that the fhir-ndjson plugin reads back as exactly the records of
/// the practice: `Patient.000.ndjson` (always written), and
/// `EpisodeOfCare`, `Condition`, `Observation`, `Immunization`,
/// `MedicationRequest`, `MedicationStatement` and `Organization` files for
/// the types that have resources, [`FHIR_RESOURCES_PER_FILE`] resources a
/// file. Files of those types already in `dir` are removed first. Resources
/// are streamed to the files through one reused line buffer; nothing is
/// built in memory first.
///
/// Registrations: FHIR's `period.end` is the last day in the episode, so it
/// is written as the model's end (the first day no longer registered) less
/// one day, which the plugin adds back. A registration that ends on the day
/// it starts covers no day, which a FHIR period cannot say (its end would be
/// before its start); it is written as a `cancelled` episode, which the
/// plugin counts as not a registration and leaves out.
pub fn write_fhir_ndjson(practice: &Practice, dir: &Path) -> io::Result<FhirCounts> {
    write_fhir_ndjson_with(practice, dir, &FhirOptions::default())
}

/// How [`write_fhir_ndjson_with`] writes a practice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FhirOptions {
    /// Resources a file holds before the next file of its type is started;
    /// [`FHIR_RESOURCES_PER_FILE`] by default.
    pub resources_per_file: usize,
    /// Writes each pair of one patient's systolic and diastolic readings
    /// (both with a value) of one day as one blood pressure panel
    /// Observation (LOINC 85354-9 and SNOMED CT 75367002) with two
    /// components (LOINC 8480-6 / 8462-4 beside SNOMED CT 271649006 /
    /// 271650006), as many systems write them, instead of two Observations.
    /// Several readings of one day are paired in the order of the events;
    /// one left without a partner is written alone. The plugin reads either
    /// form back as the same records. Off by default.
    pub bp_panels: bool,
}

impl Default for FhirOptions {
    fn default() -> Self {
        FhirOptions {
            resources_per_file: FHIR_RESOURCES_PER_FILE,
            bp_panels: false,
        }
    }
}

/// [`write_fhir_ndjson`] with options.
pub fn write_fhir_ndjson_with(
    practice: &Practice,
    dir: &Path,
    options: &FhirOptions,
) -> io::Result<FhirCounts> {
    let per_file = options.resources_per_file;
    assert!(per_file > 0, "a file must hold at least one resource");
    fs::create_dir_all(dir)?;
    remove_stale(dir)?;
    let ids = Ids::new(practice);
    let mut line = String::with_capacity(2048);
    let mut counts = FhirCounts::default();

    let mut out = Ndjson::new(dir, "Patient", per_file);
    for (i, p) in practice.patients.iter().enumerate() {
        line.clear();
        patient(&mut line, p, practice, &ids.draw(K_PATIENT, i as u64));
        out.line(&line)?;
    }
    if practice.patients.is_empty() {
        // A bulk export of a practice always has its Patient file.
        out.start_file()?;
    }
    counts.patients = out.finish()?;

    let mut out = Ndjson::new(dir, "EpisodeOfCare", per_file);
    for (i, r) in practice.registrations.iter().enumerate() {
        line.clear();
        episode_of_care(&mut line, r, practice, &ids, &ids.draw(K_EPISODE, i as u64));
        out.line(&line)?;
    }
    counts.episodes_of_care = out.finish()?;

    let mut conditions = Ndjson::new(dir, "Condition", per_file);
    let mut observations = Ndjson::new(dir, "Observation", per_file);
    let mut immunizations = Ndjson::new(dir, "Immunization", per_file);
    let (partner, second) = if options.bp_panels {
        bp_pairs(&practice.events)
    } else {
        Default::default()
    };
    for (i, e) in practice.events.iter().enumerate() {
        line.clear();
        let draw = ids.draw(K_EVENT, i as u64);
        if second.contains(&i) {
            continue;
        }
        if let Some(&j) = partner.get(&i) {
            bp_panel(&mut line, e, &practice.events[j], &draw)?;
            observations.line(&line)?;
            continue;
        }
        match event_resource(e) {
            EventResource::Condition => {
                condition(&mut line, e, &draw);
                conditions.line(&line)?;
            }
            EventResource::Observation => {
                observation(&mut line, e, &draw)?;
                observations.line(&line)?;
            }
            EventResource::Immunization => {
                immunization(&mut line, e, &draw);
                immunizations.line(&line)?;
            }
        }
    }
    counts.conditions = conditions.finish()?;
    counts.observations = observations.finish()?;
    counts.immunizations = immunizations.finish()?;

    let mut requests = Ndjson::new(dir, "MedicationRequest", per_file);
    let mut statements = Ndjson::new(dir, "MedicationStatement", per_file);
    for (i, m) in practice.medications.iter().enumerate() {
        line.clear();
        let draw = ids.draw(K_MEDICATION, i as u64);
        if m.quantity.is_some() {
            medication_request(&mut line, m, &draw)?;
            requests.line(&line)?;
        } else {
            medication_statement(&mut line, m, &draw);
            statements.line(&line)?;
        }
    }
    counts.medication_requests = requests.finish()?;
    counts.medication_statements = statements.finish()?;

    // The practices the registrations name, this one first.
    let mut others = BTreeSet::new();
    for r in &practice.registrations {
        if r.practice != practice.practice {
            others.insert(r.practice.as_str());
        }
    }
    let mut out = Ndjson::new(dir, "Organization", per_file);
    for ods in std::iter::once(practice.practice.as_str()).chain(others) {
        line.clear();
        organization(&mut line, ods, practice.reference_date, &ids);
        out.line(&line)?;
    }
    counts.organizations = out.finish()?;
    Ok(counts)
}

fn organization_draw(ids: &Ids, ods: &str) -> Draw {
    let n = ods
        .bytes()
        .fold(0u64, |h, b| h.wrapping_mul(131).wrapping_add(u64::from(b)));
    ids.draw(K_ORGANIZATION, n)
}

fn organization(out: &mut String, ods: &str, reference: Date, ids: &Ids) {
    let draw = organization_draw(ids, ods);
    out.push_str(r#"{"resourceType":"Organization","id":""#);
    draw.uuid(out);
    out.push('"');
    meta(out, reference, &draw, Some("Organization"));
    let _ = write!(out, r#","identifier":[{{"system":"{ODS}","value":"#);
    json_str(out, ods);
    out.push_str(
        r#"}],"active":true,"type":[{"coding":[{"system":"https://digital.nhs.uk/services/organisation-data-service/CodeSystem/ODSOrganisationRole","code":"76","display":"GP PRACTICE"}]}],"name":"#,
    );
    json_str(out, &format!("General practice {ods}"));
    out.push('}');
}

fn patient(out: &mut String, p: &Patient, practice: &Practice, draw: &Draw) {
    out.push_str(r#"{"resourceType":"Patient","id":"#);
    json_str(out, &p.id);
    meta(out, practice.reference_date, draw, Some("Patient"));
    let _ = write!(out, r#","identifier":[{{"system":"{LOCAL_GUID}","value":""#);
    draw.uuid(out);
    out.push_str(r#""}"#);
    if let Some(n) = &p.nhs_number {
        let _ = write!(
            out,
            r#",{{"extension":[{{"url":"https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus","valueCodeableConcept":{{"coding":[{{"system":"https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland","code":"01","display":"Number present and verified"}}]}}}}],"system":"{NHS_NUMBER}","value":"#
        );
        json_str(out, n);
        out.push('}');
    }
    out.push_str(r#"],"active":true,"gender":""#);
    out.push_str(match p.sex {
        Sex::Male => "male",
        Sex::Female => "female",
        Sex::Other => "other",
        Sex::Unknown => "unknown",
    });
    out.push('"');
    if let Some(d) = p.date_of_birth {
        let _ = write!(out, r#","birthDate":"{d}""#);
    }
    if let Some(d) = p.date_of_death {
        out.push_str(r#","deceasedDateTime":"#);
        // Some systems record the date of death without a time.
        if draw.pick(2, 4) == 0 {
            let _ = write!(out, "\"{d}\"");
        } else {
            date_time(out, d, draw.pick(3, 600));
        }
    } else if p.death_date_unknown {
        out.push_str(r#","deceasedBoolean":true"#);
    }
    if let Some(pc) = &p.postcode {
        out.push_str(r#","address":[{"use":"home","postalCode":"#);
        json_str(out, pc);
        out.push_str("}]");
    }
    let _ = write!(
        out,
        r#","generalPractitioner":[{{"type":"Organization","identifier":{{"system":"{ODS}","value":"#
    );
    json_str(out, &practice.practice);
    out.push_str("}}]}");
}

fn episode_of_care(
    out: &mut String,
    r: &Registration,
    practice: &Practice,
    ids: &Ids,
    draw: &Draw,
) {
    out.push_str(r#"{"resourceType":"EpisodeOfCare","id":""#);
    draw.uuid(out);
    out.push('"');
    meta(out, practice.reference_date, draw, None);
    // The plugin's model end is period.end + 1 day; an end on the start
    // day cannot be written as a period (see write_fhir_ndjson).
    let (status, last) = match r.end {
        None => ("active", None),
        Some(end) if end.precision == Precision::Day && end == r.start => ("cancelled", None),
        Some(end) if end.precision == Precision::Day => {
            ("finished", Some(from_days(to_days(end) - 1)))
        }
        Some(end) => ("finished", Some(end)),
    };
    let _ = write!(out, r#","status":"{status}""#);
    let (code, display) = match r.kind {
        RegistrationType::Regular => ("R", "Regular"),
        RegistrationType::Temporary => ("T", "Temporary"),
    };
    let _ = write!(
        out,
        r#","type":[{{"coding":[{{"system":"https://fhir.nhs.uk/STU3/CodeSystem/CareConnect-RegistrationType-1","code":"{code}","display":"{display}"}}]}}]"#
    );
    subject(out, "patient", &r.patient_id);
    out.push_str(r#","managingOrganization":{"reference":"Organization/"#);
    organization_draw(ids, &r.practice).uuid(out);
    let _ = write!(out, r#"","identifier":{{"system":"{ODS}","value":"#);
    json_str(out, &r.practice);
    let _ = write!(out, r#"}}}},"period":{{"start":"{}""#, r.start);
    if let Some(last) = last {
        let _ = write!(out, r#","end":"{last}""#);
    }
    out.push_str("}}");
}

fn condition(out: &mut String, e: &Event, draw: &Draw) {
    out.push_str(r#"{"resourceType":"Condition","id":""#);
    draw.uuid(out);
    out.push('"');
    meta(out, e.date, draw, Some("Condition"));
    out.push_str(
        r#","clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]},"verificationStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-ver-status","code":"confirmed"}]},"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-category","code":"problem-list-item","display":"Problem List Item"}]}]"#,
    );
    snomed_concept(out, "code", e.code, draw.pick(0, 2) == 0);
    subject(out, "subject", &e.patient_id);
    // A fifth of diagnoses carry only the date recorded (the plugin's
    // fallback); the rest an onset, recorded on the same day.
    let minute = draw.pick(1, 600);
    if draw.pick(2, 5) != 0 {
        out.push_str(r#","onsetDateTime":"#);
        date_time(out, e.date, minute);
    }
    out.push_str(r#","recordedDate":"#);
    date_time(out, e.date, minute + 3);
    out.push('}');
}

fn observation(out: &mut String, e: &Event, draw: &Draw) -> io::Result<()> {
    out.push_str(r#"{"resourceType":"Observation","id":""#);
    draw.uuid(out);
    out.push('"');
    meta(out, e.date, draw, Some("Observation"));
    out.push_str(r#","status":"final""#);
    if let Some((code, display)) = observation_category(e.code) {
        let _ = write!(
            out,
            r#","category":[{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"{code}","display":"{display}"}}]}}]"#
        );
    }
    snomed_concept(out, "code", e.code, draw.pick(0, 2) == 0);
    subject(out, "subject", &e.patient_id);
    let minute = draw.pick(1, 600);
    out.push_str(r#","effectiveDateTime":"#);
    date_time(out, e.date, minute);
    if e.code == HBA1C_IFCC && e.date.precision == Precision::Day {
        // Laboratory results are issued the next day.
        out.push_str(r#","issued":"#);
        date_time(out, from_days(to_days(e.date) + 1), minute);
    }
    value_quantity(out, e)?;
    out.push('}');
    Ok(())
}

/// Blood pressure pairs by event index: the first of each pair mapped to
/// the second, and the set of seconds.
type BpPairs = (HashMap<usize, usize>, HashSet<usize>);

/// Same-day systolic and diastolic readings of one patient, both with a
/// value, paired in the order of the events.
fn bp_pairs(events: &[Event]) -> BpPairs {
    /// One patient's day: its systolic and its diastolic readings.
    type Day = (Vec<usize>, Vec<usize>);
    let mut days: HashMap<(&str, Date), Day> = HashMap::new();
    for (i, e) in events.iter().enumerate() {
        if e.value.is_none() {
            continue;
        }
        let day = days.entry((e.patient_id.as_str(), e.date)).or_default();
        match e.code {
            SYSTOLIC_BP => day.0.push(i),
            DIASTOLIC_BP => day.1.push(i),
            _ => {}
        }
    }
    let mut partner = HashMap::new();
    let mut second = HashSet::new();
    for (systolic, diastolic) in days.into_values() {
        for (s, d) in systolic.into_iter().zip(diastolic) {
            partner.insert(s.min(d), s.max(d));
            second.insert(s.max(d));
        }
    }
    (partner, second)
}

/// Appends `,"valueQuantity":{...}` for an event with a value or unit.
fn value_quantity(out: &mut String, e: &Event) -> io::Result<()> {
    if e.value.is_none() && e.unit.is_none() {
        return Ok(());
    }
    out.push_str(r#","valueQuantity":{"#);
    let mut sep = "";
    if let Some(v) = e.value {
        out.push_str(r#""value":"#);
        json_number(out, v)?;
        sep = ",";
    }
    if let Some(u) = &e.unit {
        let _ = write!(out, r#"{sep}"unit":"#);
        json_str(out, u);
        if [
            UNIT_MMOL_PER_MOL,
            UNIT_MM_HG,
            UNIT_PER_MIN,
            UNIT_CELSIUS,
            UNIT_PERCENT,
            UNIT_KG,
            UNIT_CM,
            UNIT_KG_PER_M2,
        ]
        .contains(&u.as_str())
        {
            let _ = write!(out, r#","system":"{UCUM}","code":"#);
            json_str(out, u);
        }
    }
    out.push('}');
    Ok(())
}

/// One blood pressure panel Observation for a same-day pair of readings
/// (`a` and `b`, one systolic and one diastolic, in either order).
fn bp_panel(out: &mut String, a: &Event, b: &Event, draw: &Draw) -> io::Result<()> {
    let (systolic, diastolic) = if a.code == SYSTOLIC_BP {
        (a, b)
    } else {
        (b, a)
    };
    out.push_str(r#"{"resourceType":"Observation","id":""#);
    draw.uuid(out);
    out.push('"');
    meta(out, a.date, draw, Some("Observation"));
    out.push_str(r#","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs","display":"Vital Signs"}]}],"code":{"coding":["#);
    coding(
        out,
        LOINC,
        "85354-9",
        Some("Blood pressure panel with all children optional"),
    );
    out.push(',');
    coding(out, SNOMED_CT, "75367002", Some("Blood pressure"));
    out.push_str(r#"],"text":"Blood pressure"}"#);
    subject(out, "subject", &a.patient_id);
    out.push_str(r#","effectiveDateTime":"#);
    date_time(out, a.date, draw.pick(1, 600));
    out.push_str(r#","component":["#);
    for (n, (e, loinc, display)) in [
        (systolic, "8480-6", "Systolic blood pressure"),
        (diastolic, "8462-4", "Diastolic blood pressure"),
    ]
    .into_iter()
    .enumerate()
    {
        if n > 0 {
            out.push(',');
        }
        out.push_str(r#"{"code":{"coding":["#);
        coding(out, LOINC, loinc, Some(display));
        out.push(',');
        coding(out, SNOMED_CT, &e.code.to_string(), Some(display));
        out.push_str("]}");
        value_quantity(out, e)?;
        out.push('}');
    }
    out.push_str("]}");
    Ok(())
}

fn immunization(out: &mut String, e: &Event, draw: &Draw) {
    out.push_str(r#"{"resourceType":"Immunization","id":""#);
    draw.uuid(out);
    out.push('"');
    meta(out, e.date, draw, Some("Immunization"));
    out.push_str(r#","status":"completed""#);
    snomed_concept(out, "vaccineCode", e.code, draw.pick(0, 2) == 0);
    subject(out, "patient", &e.patient_id);
    let minute = draw.pick(1, 600);
    out.push_str(r#","occurrenceDateTime":"#);
    date_time(out, e.date, minute);
    out.push_str(r#","recorded":"#);
    date_time(out, e.date, minute + 2);
    out.push_str(r#","primarySource":true}"#);
}

/// Appends `,"medicationCodeableConcept":{...}`: the supplier's own drug
/// code (a number that is not the dm+d code, first on half the resources),
/// the concept under SNOMED CT (UK Core's system for dm+d) and under dm+d.
fn medication_concept(
    out: &mut String,
    code: u64,
    draw: &Draw,
) -> Option<&'static (u64, &'static str, &'static str, &'static str)> {
    let drug = DRUGS.iter().find(|d| d.0 == code);
    let display = drug.map(|d| d.1);
    let code_text = code.to_string();
    let local = format!("{}", 100_000 + draw.pick(2, 900_000));
    out.push_str(r#","medicationCodeableConcept":{"coding":["#);
    let local_first = draw.pick(0, 2) == 0;
    if local_first {
        coding(out, LOCAL_DRUG, &local, display);
        out.push(',');
    }
    coding(out, SNOMED_CT, &code_text, display);
    out.push(',');
    coding(out, DMD, &code_text, display);
    if !local_first {
        out.push(',');
        coding(out, LOCAL_DRUG, &local, display);
    }
    out.push(']');
    if let Some(d) = display {
        out.push_str(r#","text":"#);
        json_str(out, d);
    }
    out.push('}');
    drug
}

fn medication_request(out: &mut String, m: &Medication, draw: &Draw) -> io::Result<()> {
    out.push_str(r#"{"resourceType":"MedicationRequest","id":""#);
    draw.uuid(out);
    out.push('"');
    meta(out, m.date, draw, Some("MedicationRequest"));
    out.push_str(
        r#","status":"completed","intent":"order","courseOfTherapyType":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/medicationrequest-course-of-therapy","code":"continuous","display":"Continuous long term therapy"}]}"#,
    );
    let drug = medication_concept(out, m.code, draw);
    subject(out, "subject", &m.patient_id);
    out.push_str(r#","authoredOn":"#);
    date_time(out, m.date, draw.pick(1, 600));
    if let Some(d) = drug {
        out.push_str(r#","dosageInstruction":[{"text":"#);
        json_str(out, d.3);
        out.push_str("}]");
    }
    if let Some(q) = m.quantity {
        out.push_str(r#","dispenseRequest":{"quantity":{"value":"#);
        json_number(out, q)?;
        if let Some(d) = drug {
            let _ = write!(out, r#","unit":"{}""#, d.2);
        }
        out.push_str("}}");
    }
    out.push('}');
    Ok(())
}

fn medication_statement(out: &mut String, m: &Medication, draw: &Draw) {
    out.push_str(r#"{"resourceType":"MedicationStatement","id":""#);
    draw.uuid(out);
    out.push('"');
    meta(out, m.date, draw, Some("MedicationStatement"));
    out.push_str(r#","status":"completed""#);
    medication_concept(out, m.code, draw);
    subject(out, "subject", &m.patient_id);
    let minute = draw.pick(1, 600);
    out.push_str(r#","effectiveDateTime":"#);
    date_time(out, m.date, minute);
    out.push_str(r#","dateAsserted":"#);
    date_time(out, m.date, minute + 1);
    out.push('}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{PracticeConfig, generate, write_csv_export};
    use serde_json::Value;
    use std::collections::{BTreeMap, HashSet};

    fn small(seed: u64) -> Practice {
        let mut config = PracticeConfig::new(seed, "A81001", 1_000);
        config.background_years = 1;
        generate(&config)
    }

    /// Every file of a folder, by name.
    fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
        fs::read_dir(dir)
            .expect("folder")
            .map(|e| {
                let e = e.expect("entry");
                (
                    e.file_name().to_string_lossy().into_owned(),
                    fs::read(e.path()).expect("file"),
                )
            })
            .collect()
    }

    /// Each line of each file, parsed, with its file's resource type.
    fn resources(dir: &Path) -> Vec<(String, Value)> {
        let mut all = Vec::new();
        for (name, bytes) in files(dir) {
            let resource_type = name.split('.').next().expect("a name").to_owned();
            for line in std::str::from_utf8(&bytes).expect("UTF-8").lines() {
                let v: Value =
                    serde_json::from_str(line).unwrap_or_else(|e| panic!("{name}: {e}: {line}"));
                all.push((resource_type.clone(), v));
            }
        }
        all
    }

    #[test]
    fn same_practice_same_bytes_other_seed_other_bytes() {
        let (a, b, c) = (
            tempfile::tempdir().expect("dir"),
            tempfile::tempdir().expect("dir"),
            tempfile::tempdir().expect("dir"),
        );
        write_fhir_ndjson(&small(5), a.path()).expect("written");
        write_fhir_ndjson(&small(5), b.path()).expect("written");
        write_fhir_ndjson(&small(6), c.path()).expect("written");
        let (a, b, c) = (files(a.path()), files(b.path()), files(c.path()));
        assert!(a.len() >= 7, "{:?}", a.keys());
        assert_eq!(a, b);
        for (name, bytes) in &a {
            assert_ne!(
                Some(bytes),
                c.get(name),
                "{name} did not change with the seed"
            );
        }
    }

    #[test]
    fn every_line_is_a_resource_of_its_file_and_references_resolve() {
        let practice = small(5);
        let dir = tempfile::tempdir().expect("dir");
        write_fhir_ndjson(&practice, dir.path()).expect("written");
        let all = resources(dir.path());
        let mut ids = HashSet::new();
        let patients: HashSet<&str> = practice.patients.iter().map(|p| p.id.as_str()).collect();
        let organizations: HashSet<String> = all
            .iter()
            .filter(|(t, _)| t == "Organization")
            .map(|(_, v)| format!("Organization/{}", v["id"].as_str().expect("id")))
            .collect();
        for (resource_type, v) in &all {
            assert_eq!(
                v["resourceType"].as_str(),
                Some(resource_type.as_str()),
                "{v}"
            );
            let id = v["id"].as_str().expect("an id");
            assert!(ids.insert(id.to_owned()), "id {id} repeated");
            if resource_type != "Patient" {
                // UUID-shaped: 8-4-4-4-12 hex digits, version 4.
                let parts: Vec<usize> = id.split('-').map(str::len).collect();
                assert_eq!(parts, [8, 4, 4, 4, 12], "{id}");
                assert_eq!(&id[14..15], "4", "{id}");
            }
            assert!(v["meta"]["lastUpdated"].is_string(), "{v}");
            for field in ["subject", "patient"] {
                if let Some(r) = v[field]["reference"].as_str() {
                    let p = r.strip_prefix("Patient/").expect("a Patient reference");
                    assert!(patients.contains(p), "{r} names no patient");
                }
            }
            if let Some(r) = v["managingOrganization"]["reference"].as_str() {
                assert!(organizations.contains(r), "{r} names no organization");
            }
        }
        assert_eq!(
            organizations.len(),
            1 + practice
                .registrations
                .iter()
                .filter(|r| r.practice != practice.practice)
                .map(|r| &r.practice)
                .collect::<HashSet<_>>()
                .len()
        );
    }

    #[test]
    fn counts_equal_the_csv_exports() {
        let practice = small(5);
        let (f, c) = (
            tempfile::tempdir().expect("dir"),
            tempfile::tempdir().expect("dir"),
        );
        let counts = write_fhir_ndjson(&practice, f.path()).expect("written");
        write_csv_export(&practice, c.path()).expect("written");
        let rows = |name: &str| {
            fs::read_to_string(c.path().join(name))
                .expect("csv")
                .lines()
                .count()
                - 1
        };
        let mut by_type: BTreeMap<String, usize> = BTreeMap::new();
        for (t, _) in resources(f.path()) {
            *by_type.entry(t).or_default() += 1;
        }
        let n = |t: &str| by_type.get(t).copied().unwrap_or(0);
        assert_eq!(n("Patient"), rows("Patient.csv"));
        assert_eq!(n("EpisodeOfCare"), rows("Registration.csv"));
        assert_eq!(
            n("Condition") + n("Observation") + n("Immunization"),
            rows("Observation.csv")
        );
        assert_eq!(
            n("MedicationRequest") + n("MedicationStatement"),
            rows("Medication.csv")
        );
        assert_eq!(counts.patients, practice.patients.len());
        assert_eq!(counts.observations, n("Observation"));
        assert_eq!(counts.conditions, n("Condition"));
        assert_eq!(counts.immunizations, n("Immunization"));
        assert_eq!(counts.medication_requests, n("MedicationRequest"));
        assert!(counts.conditions > 0 && counts.immunizations > 0 && counts.observations > 0);
    }

    #[test]
    fn large_types_are_split_and_the_parts_join_to_the_whole() {
        let practice = small(5);
        let (whole, split) = (
            tempfile::tempdir().expect("dir"),
            tempfile::tempdir().expect("dir"),
        );
        write_fhir_ndjson(&practice, whole.path()).expect("written");
        // A stale file of an earlier export is removed; others are kept.
        fs::write(split.path().join("Observation.999.ndjson"), "{}\n").expect("stale");
        fs::write(split.path().join("notes.ndjson"), "kept\n").expect("other");
        let options = FhirOptions {
            resources_per_file: 1_000,
            ..FhirOptions::default()
        };
        let counts = write_fhir_ndjson_with(&practice, split.path(), &options).expect("written");
        let (whole, split) = (files(whole.path()), files(split.path()));
        assert_eq!(
            split.get("notes.ndjson").map(Vec::as_slice),
            Some(&b"kept\n"[..])
        );
        let parts: Vec<&String> = split
            .keys()
            .filter(|k| k.starts_with("Observation."))
            .collect();
        assert_eq!(
            parts.len(),
            counts.observations.div_ceil(1_000),
            "{parts:?}"
        );
        assert!(parts.len() > 2);
        assert_eq!(parts[0], "Observation.000.ndjson");
        let mut joined = Vec::new();
        for p in &parts {
            let lines = split[*p].iter().filter(|b| **b == b'\n').count();
            assert!((1..=1_000).contains(&lines), "{p}: {lines} lines");
            joined.extend_from_slice(&split[*p]);
        }
        assert_eq!(joined, whole["Observation.000.ndjson"]);
    }

    #[test]
    fn dates_times_and_offsets() {
        let d = |y, m, day| Date::ymd(y, m, day).expect("date");
        // 2024: BST from Sunday 31 March to Saturday 26 October.
        assert!(!british_summer_time(d(2024, 3, 30)));
        assert!(british_summer_time(d(2024, 3, 31)));
        assert!(british_summer_time(d(2024, 10, 26)));
        assert!(!british_summer_time(d(2024, 10, 27)));
        assert!(!british_summer_time(d(2025, 1, 15)));
        let mut s = String::new();
        date_time(&mut s, d(2024, 7, 1), 0);
        assert_eq!(s, r#""2024-07-01T08:00:00+01:00""#);
        s.clear();
        date_time(&mut s, d(2024, 12, 31), 10 * 60 + 59);
        assert_eq!(s, r#""2024-12-31T18:59:34+00:00""#);
        s.clear();
        date_time(
            &mut s,
            Date::new(1950, 7, 1, Precision::Month).expect("date"),
            5,
        );
        assert_eq!(s, r#""1950-07""#);
    }

    #[test]
    fn registrations_end_the_day_before_and_empty_ones_are_cancelled() {
        let d = |y, m, day| Date::ymd(y, m, day).expect("date");
        let mut practice = small(5);
        let registration = |start, end| Registration {
            patient_id: "p000001".into(),
            practice: "A81001".into(),
            start,
            end,
            kind: RegistrationType::Temporary,
        };
        practice.registrations = vec![
            registration(d(2020, 1, 1), Some(d(2024, 3, 1))),
            registration(d(2020, 1, 1), Some(d(2020, 1, 1))),
            registration(d(2020, 1, 1), None),
        ];
        let dir = tempfile::tempdir().expect("dir");
        write_fhir_ndjson(&practice, dir.path()).expect("written");
        let episodes: Vec<Value> = resources(dir.path())
            .into_iter()
            .filter(|(t, _)| t == "EpisodeOfCare")
            .map(|(_, v)| v)
            .collect();
        assert_eq!(episodes[0]["status"], "finished");
        assert_eq!(episodes[0]["period"]["end"], "2024-02-29");
        assert_eq!(episodes[1]["status"], "cancelled");
        assert_eq!(episodes[1]["period"].get("end"), None);
        assert_eq!(episodes[2]["status"], "active");
        assert_eq!(episodes[2]["type"][0]["coding"][0]["display"], "Temporary");
        assert_eq!(
            episodes[2]["managingOrganization"]["identifier"]["value"],
            "A81001"
        );
    }

    #[test]
    fn strings_are_escaped() {
        let mut s = String::new();
        json_str(&mut s, "a\"b\\c\nd\u{1}é");
        assert_eq!(s, r#""a\"b\\c\nd\u0001é""#);
        let v: Value = serde_json::from_str(&s).expect("JSON");
        assert_eq!(v, "a\"b\\c\nd\u{1}é");
        assert!(json_number(&mut s, f64::NAN).is_err());
    }
}
