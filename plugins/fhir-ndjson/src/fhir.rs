//! The FHIR R4 bulk-data mapping (README.md states it): which files are
//! opened, and how each resource becomes a record or a counted warning.

use gpes_plugin_sdk::model::{days_in_month, is_valid_nhs_number};
use gpes_plugin_sdk::{
    CodeFilter, Date, Event, ExtractError, Medication, Patient, Patients, Precision, Record,
    Registration, RegistrationType, Request, Sex, Source, SourceError, SourceFile, Summary, Table,
    Wanted, WarningKind, Warnings,
};
use serde_json::Value;
use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Read};

pub const SNOMED_CT: &str = "http://snomed.info/sct";
pub const DMD: &str = "https://dmd.nhs.uk";
pub const RXNORM: &str = "http://www.nlm.nih.gov/research/umls/rxnorm";
pub const NHS_NUMBER: &str = "https://fhir.nhs.uk/Id/nhs-number";
pub const LOINC: &str = "http://loinc.org";

/// The model's blood pressure readings (SNOMED CT).
pub const SYSTOLIC: u64 = 271649006;
pub const DIASTOLIC: u64 = 271650006;

/// Codes of a blood pressure panel's components, and the model's reading
/// each is: (system, code, reading).
const BP_COMPONENTS: [(&str, &str, u64); 6] = [
    (LOINC, "8480-6", SYSTOLIC),
    (LOINC, "8462-4", DIASTOLIC),
    (SNOMED_CT, "271649006", SYSTOLIC),
    (SNOMED_CT, "72313002", SYSTOLIC),
    (SNOMED_CT, "271650006", DIASTOLIC),
    (SNOMED_CT, "1091811000000102", DIASTOLIC),
];

const OBSERVATION_DATES: &[&str] = &[
    "effectiveDateTime",
    "effectivePeriod.start",
    "effectiveInstant",
    "issued",
];

/// Longest line read; a longer one is a malformed line (and the rest of it
/// is skipped), so one bad file cannot take the guest's memory.
const MAX_LINE: u64 = 16 * 1024 * 1024;

/// What a resource type becomes in the common model.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Patient,
    Registration,
    Event,
    Medication,
}

fn kind_of(resource_type: &str) -> Option<Kind> {
    match resource_type {
        "Patient" => Some(Kind::Patient),
        "EpisodeOfCare" => Some(Kind::Registration),
        "Condition" | "Observation" | "Immunization" => Some(Kind::Event),
        "MedicationRequest" | "MedicationStatement" => Some(Kind::Medication),
        _ => None,
    }
}

fn fail(file: &str, message: String) -> ExtractError {
    ExtractError::in_file(file, message)
}

/// A resource that could not be used: the warning's kind and its reason,
/// which names the resource type (the reason is the warning's message, and
/// warnings are counted by kind, file and reason).
type Skip = (WarningKind, String);

fn skip<T>(kind: WarningKind, reason: String) -> Result<T, Skip> {
    Err((kind, reason))
}

/// Follows a dotted path of object keys.
fn at<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |v, key| v.get(key))
}

fn text<'a>(v: &'a Value, path: &str) -> Option<&'a str> {
    at(v, path)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// A FHIR date or dateTime as written: a dateTime keeps its own local date
/// (the part before `T`), never shifted to UTC; `YYYY` and `YYYY-MM` keep
/// their precision.
pub fn fhir_date(s: &str) -> Option<Date> {
    let date = s.split_once('T').map_or(s, |(d, _)| d);
    Date::parse_iso(date.trim()).ok()
}

/// The patient id of a reference `Patient/ID` (or `Patient/ID/_history/n`)
/// or `urn:uuid:ID`.
fn patient_id<'a>(resource_type: &str, v: &'a Value, field: &str) -> Result<&'a str, Skip> {
    let reference = at(v, field)
        .and_then(|r| r.get("reference"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let id = if let Some(rest) = reference.strip_prefix("Patient/") {
        rest.split('/').next().unwrap_or("")
    } else {
        reference.strip_prefix("urn:uuid:").unwrap_or_default()
    };
    if id.is_empty() {
        return skip(
            WarningKind::Other,
            format!("{resource_type}: no patient reference (Patient/ID or urn:uuid:ID)"),
        );
    }
    Ok(id)
}

/// The first of `fields` that is present, as a date.
fn first_date(resource_type: &str, v: &Value, fields: &[&str]) -> Result<Date, Skip> {
    for field in fields {
        if let Some(s) = text(v, field) {
            return fhir_date(s).ok_or_else(|| {
                (
                    WarningKind::BadDate,
                    format!("{resource_type}: {field} is not a date"),
                )
            });
        }
    }
    skip(WarningKind::BadDate, format!("{resource_type}: no date"))
}

fn codings(concept: Option<&Value>) -> &[Value] {
    concept
        .and_then(|c| c.get("coding"))
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The code of the first coding of `system`, as a positive integer.
fn first_code(
    resource_type: &str,
    concept: Option<&Value>,
    system: &str,
    system_name: &str,
) -> Result<Option<u64>, Skip> {
    let Some(coding) = codings(concept)
        .iter()
        .find(|c| c.get("system").and_then(Value::as_str) == Some(system))
    else {
        return Ok(None);
    };
    match coding
        .get("code")
        .and_then(Value::as_str)
        .map(|c| c.trim().parse::<u64>())
    {
        Some(Ok(code)) if code > 0 => Ok(Some(code)),
        _ => skip(
            WarningKind::UnmappableCode,
            format!("{resource_type}: {system_name} code is not a concept id"),
        ),
    }
}

/// Resources marked as recorded in error are left out.
fn entered_in_error(v: &Value) -> bool {
    v.get("status").and_then(Value::as_str) == Some("entered-in-error")
        || codings(v.get("verificationStatus"))
            .iter()
            .any(|c| c.get("code").and_then(Value::as_str) == Some("entered-in-error"))
}

/// The day after a whole date.
fn next_day(d: Date) -> Date {
    let (year, month, day) = if d.day < days_in_month(d.year, d.month) {
        (d.year, d.month, d.day + 1)
    } else if d.month < 12 {
        (d.year, d.month + 1, 1)
    } else {
        (d.year + 1, 1, 1)
    };
    Date::ymd(year, month, day).unwrap_or(d)
}

struct OpenFile {
    name: String,
    reader: BufReader<SourceFile>,
    line: u64,
    /// The coded table its resources map to, if any (by its file name).
    table: Option<Table>,
}

/// Whether a line may hold a resource with a wanted code: false only when
/// every `"code":"<value>"` in it is written plainly (no escapes), no
/// all-digit value among them is a wanted code, and none is a blood
/// pressure component code (LOINC `8480-6`, ...) whose model reading is
/// wanted (a panel's components may be coded in anything but the SNOMED CT
/// ids the request names). Skipping such lines before
/// parsing them is the FHIR form of the CSV rule "a line whose code the
/// request does not want is skipped before any other check"; it makes a
/// query's extraction several times faster, since most resources are not
/// wanted.
fn may_be_wanted(line: &[u8], filter: &CodeFilter) -> bool {
    const KEY: &[u8] = b"\"code\"";
    let mut rest = line;
    while let Some(at) = find(rest, KEY) {
        rest = &rest[at + KEY.len()..];
        let value = rest.trim_ascii_start();
        let Some(value) = value.strip_prefix(b":") else {
            continue;
        };
        let value = value.trim_ascii_start();
        let Some(value) = value.strip_prefix(b"\"") else {
            continue;
        };
        let Some(end) = value.iter().position(|&b| b == b'"' || b == b'\\') else {
            return true;
        };
        if value[end] == b'\\' {
            // An escape in a code: parse the line properly.
            return true;
        }
        let code = &value[..end];
        if BP_COMPONENTS
            .iter()
            .any(|(_, c, reading)| c.as_bytes() == code && filter.wants_code(*reading))
        {
            return true;
        }
        if !code.is_empty()
            && code.len() <= 20
            && code.iter().all(u8::is_ascii_digit)
            && std::str::from_utf8(code)
                .ok()
                .and_then(|c| c.parse::<u64>().ok())
                .is_some_and(|c| filter.wants_code(c))
        {
            return true;
        }
        rest = &value[end..];
    }
    false
}

/// The resource type a bulk-export file holds, from its name
/// (`<ResourceType>.<n>.ndjson`).
fn resource_type_of(name: &str) -> &str {
    name.split('.').next().unwrap_or("")
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

pub struct Extractor {
    /// Files still to read, in the data source's (sorted) order.
    pending: VecDeque<String>,
    current: Option<OpenFile>,
    source: Source,
    wanted: Wanted,
    /// Patients, held until every file has been read (README.md: a
    /// repeated id is resolved only then).
    patients: Patients,
    /// Patients to return once every file has been read.
    ready: Option<std::vec::IntoIter<Patient>>,
    /// Records of the last resource still to hand out (a panel's readings).
    queue: VecDeque<Record>,
    warnings: Warnings,
    buf: Vec<u8>,
    records_read: u64,
    records_mapped: u64,
}

impl Extractor {
    /// Lists the export and chooses the files the request needs; files of
    /// resource types the adapter does not use are not opened, and counted
    /// once per type.
    pub fn open(request: &Request, source: Source) -> Result<Extractor, ExtractError> {
        let mut extractor = Extractor {
            pending: VecDeque::new(),
            current: None,
            source,
            wanted: Wanted::from_request(request),
            patients: Patients::new("Patient: id"),
            ready: None,
            queue: VecDeque::new(),
            warnings: Warnings::default(),
            buf: Vec::new(),
            records_read: 0,
            records_mapped: 0,
        };
        let names = extractor.source.list().map_err(|e| {
            ExtractError::new(format!(
                "could not list the export's files: {}",
                match e {
                    SourceError::NotFound(m) | SourceError::Io(m) => m,
                }
            ))
        })?;
        // Files not used, by message: (first file, number of files).
        let mut unused: BTreeMap<String, (String, u64)> = BTreeMap::new();
        let mut patient_files = 0;
        for name in names {
            if !name.ends_with(".ndjson") {
                continue;
            }
            let resource_type = resource_type_of(&name);
            match kind_of(resource_type) {
                Some(kind) => {
                    if kind == Kind::Patient {
                        patient_files += 1;
                    }
                    if extractor.wants_kind(kind) {
                        extractor.pending.push_back(name);
                    }
                }
                None => {
                    let message = if resource_type.starts_with(|c: char| c.is_ascii_uppercase()) {
                        format!("{resource_type}: not used (file not opened)")
                    } else {
                        // Such as the export's own `log.ndjson`.
                        format!("{name}: not a FHIR resource file (not opened)")
                    };
                    unused
                        .entry(message)
                        .and_modify(|(_, n)| *n += 1)
                        .or_insert((name, 1));
                }
            }
        }
        if extractor.wanted.patients && patient_files == 0 {
            return Err(ExtractError::new(
                "the export has no Patient file (Patient.*.ndjson); a bulk export of a practice \
                 must hold its patients",
            ));
        }
        for (message, (file, count)) in unused {
            extractor
                .warnings
                .add_many(WarningKind::Other, &file, count, message);
        }
        Ok(extractor)
    }

    fn wants_kind(&self, kind: Kind) -> bool {
        self.wanted.needs(match kind {
            Kind::Patient => Table::Patients,
            Kind::Registration => Table::Registrations,
            Kind::Event => Table::Events,
            Kind::Medication => Table::Medications,
        })
    }

    /// The next record, reading on past resources that are filtered out
    /// or warned about.
    pub fn next_record(&mut self) -> Result<Option<Record>, ExtractError> {
        loop {
            if let Some(record) = self.queue.pop_front() {
                self.records_mapped += 1;
                return Ok(Some(record));
            }
            let Some(open) = self.current.as_mut() else {
                let Some(name) = self.pending.pop_front() else {
                    let warnings = &mut self.warnings;
                    let ready = self
                        .ready
                        .get_or_insert_with(|| self.patients.finish(warnings).into_iter());
                    let patient = ready.next();
                    self.records_mapped += u64::from(patient.is_some());
                    return Ok(patient.map(Record::Patient));
                };
                let file = self.source.open(&name).map_err(|e| match e {
                    SourceError::NotFound(_) => fail(&name, "was listed but is missing".into()),
                    SourceError::Io(m) => fail(&name, format!("could not be read: {m}")),
                })?;
                let table = match kind_of(resource_type_of(&name)) {
                    Some(Kind::Event) => Some(Table::Events),
                    Some(Kind::Medication) => Some(Table::Medications),
                    _ => None,
                };
                self.current = Some(OpenFile {
                    reader: BufReader::with_capacity(64 * 1024, file),
                    name,
                    line: 0,
                    table,
                });
                continue;
            };
            self.buf.clear();
            let n = (&mut open.reader)
                .take(MAX_LINE)
                .read_until(b'\n', &mut self.buf)
                .map_err(|e| fail(&open.name, format!("could not be read: {e}")))?;
            if n == 0 {
                self.current = None;
                continue;
            }
            open.line += 1;
            let line = open.line;
            let name = open.name.clone();
            if self.buf.last() != Some(&b'\n') && n as u64 == MAX_LINE {
                // Skip the rest of an over-long line.
                loop {
                    self.buf.clear();
                    let m = (&mut open.reader)
                        .take(MAX_LINE)
                        .read_until(b'\n', &mut self.buf)
                        .map_err(|e| fail(&name, format!("could not be read: {e}")))?;
                    if m == 0 || self.buf.last() == Some(&b'\n') {
                        break;
                    }
                }
                self.records_read += 1;
                self.warnings.add_for(
                    WarningKind::MalformedLine,
                    &name,
                    line,
                    "malformed line",
                    || format!("malformed line: longer than {MAX_LINE} bytes"),
                );
                continue;
            }
            if self.buf.trim_ascii().is_empty() {
                continue;
            }
            self.records_read += 1;
            let filter = match open.table {
                Some(Table::Events) => Some(&self.wanted.events),
                Some(Table::Medications) => Some(&self.wanted.medications),
                _ => None,
            };
            if let Some(filter) = filter
                && !filter.is_all()
                && !may_be_wanted(&self.buf, filter)
            {
                continue;
            }
            let value = match serde_json::from_slice::<Value>(&self.buf) {
                Ok(v) if v.is_object() => v,
                Ok(_) => {
                    self.warnings.add_for(
                        WarningKind::MalformedLine,
                        &name,
                        line,
                        "malformed line",
                        || "malformed line: not a JSON object".into(),
                    );
                    continue;
                }
                Err(e) => {
                    self.warnings.add_for(
                        WarningKind::MalformedLine,
                        &name,
                        line,
                        "malformed line",
                        || format!("malformed line: not valid JSON ({e})"),
                    );
                    continue;
                }
            };
            match self.map_resource(&name, line, &value) {
                Ok(Some(Record::Patient(patient))) => self.patients.add(patient, &name, line),
                Ok(Some(record)) => {
                    self.records_mapped += 1;
                    return Ok(Some(record));
                }
                Ok(None) => {}
                Err((kind, reason)) => {
                    self.warnings
                        .add_for(kind, &name, line, &reason, || reason.clone());
                }
            }
        }
    }

    fn map_resource(&mut self, file: &str, line: u64, v: &Value) -> Result<Option<Record>, Skip> {
        let Some(rt) = text(v, "resourceType") else {
            return skip(
                WarningKind::MalformedLine,
                "malformed line: no resourceType".into(),
            );
        };
        let Some(kind) = kind_of(rt) else {
            return skip(WarningKind::Other, format!("{rt}: not used"));
        };
        if !self.wants_kind(kind) {
            return Ok(None);
        }
        if entered_in_error(v) {
            return skip(WarningKind::Other, format!("{rt}: entered in error"));
        }
        match kind {
            Kind::Patient => self.patient(file, line, v).map(Some),
            Kind::Registration => registration(v).map(Some),
            Kind::Event if rt == "Observation" && !components(v).is_empty() => {
                self.observation_with_components(file, line, v)
            }
            Kind::Event => self.event(rt, v),
            Kind::Medication => self.medication(rt, v),
        }
    }

    /// A Patient. A bad NHS number, date or gender is dropped from the
    /// record with a warning, and the patient kept.
    fn patient(&mut self, file: &str, line: u64, v: &Value) -> Result<Record, Skip> {
        let Some(id) = text(v, "id") else {
            return skip(WarningKind::Other, "Patient: no id".into());
        };
        let mut warn = |kind, reason: &str| {
            self.warnings
                .add_for(kind, file, line, reason, || reason.to_owned())
        };
        let nhs = v
            .get("identifier")
            .and_then(Value::as_array)
            .and_then(|ids| {
                ids.iter()
                    .find(|i| i.get("system").and_then(Value::as_str) == Some(NHS_NUMBER))
            })
            .and_then(|i| text(i, "value"))
            .map(|n| n.replace(' ', ""));
        let nhs_number = match nhs {
            Some(n) if is_valid_nhs_number(&n) => Some(n),
            Some(_) => {
                warn(
                    WarningKind::BadNhsNumber,
                    "Patient: NHS number fails the modulus 11 check; left out",
                );
                None
            }
            None => None,
        };
        let date_of_birth = match text(v, "birthDate") {
            Some(s) => match Date::parse_iso(s) {
                Ok(d) => Some(d),
                Err(_) => {
                    warn(
                        WarningKind::BadDate,
                        "Patient: birthDate is not a date; left out",
                    );
                    None
                }
            },
            None => None,
        };
        // Dead without a usable date is dead all the same (README.md).
        let mut death_date_unknown = false;
        let date_of_death = match text(v, "deceasedDateTime") {
            Some(s) => match fhir_date(s) {
                Some(d) => Some(d),
                None => {
                    warn(
                        WarningKind::BadDate,
                        "Patient: deceasedDateTime is not a date; recorded as dead on an unknown date",
                    );
                    death_date_unknown = true;
                    None
                }
            },
            None => {
                match v.get("deceasedBoolean") {
                    Some(Value::Bool(true)) => {
                        warn(
                            WarningKind::BadDate,
                            "Patient: deceasedBoolean true without a date; recorded as dead on an unknown date",
                        );
                        death_date_unknown = true;
                    }
                    None | Some(Value::Null | Value::Bool(false)) => {}
                    Some(_) => warn(
                        WarningKind::BadValue,
                        "Patient: deceasedBoolean is not true or false; recorded as alive",
                    ),
                }
                None
            }
        };
        let sex = match text(v, "gender") {
            Some("male") => Sex::Male,
            Some("female") => Sex::Female,
            Some("other") => Sex::Other,
            Some("unknown") | None => Sex::Unknown,
            Some(_) => {
                warn(
                    WarningKind::BadValue,
                    "Patient: gender is not male, female, other or unknown; recorded as unknown",
                );
                Sex::Unknown
            }
        };
        let postcode = v
            .get("address")
            .and_then(Value::as_array)
            .and_then(|a| a.iter().find_map(|a| text(a, "postalCode")))
            .map(str::to_owned);
        Ok(Record::Patient(Patient {
            id: id.to_owned(),
            nhs_number,
            date_of_birth,
            sex,
            postcode,
            date_of_death,
            death_date_unknown,
        }))
    }

    /// A Condition, Observation or Immunization. Checked in this order:
    /// SNOMED CT code, then patient, then date.
    fn event(&self, rt: &str, v: &Value) -> Result<Option<Record>, Skip> {
        let (concept, patient_field, dates): (_, _, &[&str]) = match rt {
            "Condition" => (
                v.get("code"),
                "subject",
                &["onsetDateTime", "onsetPeriod.start", "recordedDate"],
            ),
            "Observation" => (v.get("code"), "subject", OBSERVATION_DATES),
            _ => (
                v.get("vaccineCode"),
                "patient",
                &["occurrenceDateTime", "recorded"],
            ),
        };
        if rt == "Immunization" && text(v, "status") == Some("not-done") {
            return skip(WarningKind::Other, "Immunization: not done".into());
        }
        let Some(code) = first_code(rt, concept, SNOMED_CT, "SNOMED CT")? else {
            return skip(
                WarningKind::UnknownCodeSystem,
                format!("{rt}: no SNOMED CT coding"),
            );
        };
        // Filtering at the source: a code the request does not want at any
        // date is skipped before any other work.
        if !self.wanted.events.wants_code(code) {
            return Ok(None);
        }
        if rt == "Condition" {
            condition_status(v)?;
        }
        let patient_id = patient_id(rt, v, patient_field)?;
        let date = first_date(rt, v, dates)?;
        if !self.wanted.events.wants(code, date) {
            return Ok(None);
        }
        let (value, unit) = if rt == "Observation" {
            quantity(v)
        } else {
            (None, None)
        };
        Ok(Some(Record::Event(Event {
            patient_id: patient_id.to_owned(),
            date,
            code,
            value,
            unit,
        })))
    }

    /// An Observation with components (a blood pressure panel): each
    /// component is its own event on the Observation's date; the
    /// Observation itself is an event only when it has a value of its own.
    /// Checked in this order: each code (a component of unknown code is
    /// warned about and the others go on), filtering by code, then patient
    /// and date once for all, then per reading the window and its value.
    fn observation_with_components(
        &mut self,
        file: &str,
        line: u64,
        v: &Value,
    ) -> Result<Option<Record>, Skip> {
        const RT: &str = "Observation";
        // (code, value, unit, is a component)
        let mut readings = Vec::new();
        let mut warn = |(kind, reason): Skip| {
            self.warnings
                .add_for(kind, file, line, &reason, || reason.clone())
        };
        if v.get("valueQuantity").is_some() {
            match first_code(RT, v.get("code"), SNOMED_CT, "SNOMED CT") {
                Ok(Some(code)) => {
                    let (value, unit) = quantity(v);
                    readings.push((code, value, unit, false));
                }
                Ok(None) => warn((
                    WarningKind::UnknownCodeSystem,
                    format!("{RT}: no SNOMED CT coding"),
                )),
                Err(skip) => warn(skip),
            }
        }
        for c in components(v) {
            match component_code(c) {
                Ok(Some(code)) => {
                    let (value, unit) = quantity(c);
                    readings.push((code, value, unit, true));
                }
                Ok(None) => warn((
                    WarningKind::UnknownCodeSystem,
                    format!(
                        "{RT}: component with no SNOMED CT coding and not a known blood pressure reading"
                    ),
                )),
                Err(skip) => warn(skip),
            }
        }
        readings.retain(|r| self.wanted.events.wants_code(r.0));
        if readings.is_empty() {
            return Ok(None);
        }
        let patient_id = patient_id(RT, v, "subject")?;
        let date = first_date(RT, v, OBSERVATION_DATES)?;
        for (code, value, unit, is_component) in readings {
            if !self.wanted.events.wants(code, date) {
                continue;
            }
            if is_component && value.is_none() {
                let reason = format!("{RT}: component without a value");
                self.warnings
                    .add_for(WarningKind::BadValue, file, line, &reason, || {
                        reason.clone()
                    });
                continue;
            }
            self.queue.push_back(Record::Event(Event {
                patient_id: patient_id.to_owned(),
                date,
                code,
                value,
                unit,
            }));
        }
        // The first now; the rest from the queue, counted as handed out.
        Ok(self.queue.pop_front())
    }

    /// A MedicationRequest or MedicationStatement. Checked in this order:
    /// dm+d code, then patient, then date.
    fn medication(&self, rt: &str, v: &Value) -> Result<Option<Record>, Skip> {
        let concept = v.get("medicationCodeableConcept");
        // UK Core codes dm+d under the SNOMED CT system (dm+d concepts are
        // SNOMED CT identifiers); an explicit dm+d coding comes first.
        let code = match first_code(rt, concept, DMD, "dm+d")? {
            Some(code) => Some(code),
            None => first_code(rt, concept, SNOMED_CT, "SNOMED CT")?,
        };
        let Some(code) = code else {
            let all = codings(concept);
            let reason = if !all.is_empty()
                && all
                    .iter()
                    .all(|c| c.get("system").and_then(Value::as_str) == Some(RXNORM))
            {
                format!("{rt}: no dm+d coding (RxNorm only)")
            } else if concept.is_none() && v.get("medicationReference").is_some() {
                format!("{rt}: medication given by reference (not followed)")
            } else {
                format!("{rt}: no dm+d coding")
            };
            return skip(WarningKind::UnknownCodeSystem, reason);
        };
        if !self.wanted.medications.wants_code(code) {
            return Ok(None);
        }
        medication_status(rt, v)?;
        let (dates, quantity): (&[&str], _) = if rt == "MedicationRequest" {
            (
                &["authoredOn"],
                at(v, "dispenseRequest.quantity.value").and_then(Value::as_f64),
            )
        } else {
            (
                &["effectiveDateTime", "effectivePeriod.start", "dateAsserted"],
                None,
            )
        };
        let patient_id = patient_id(rt, v, "subject")?;
        let date = first_date(rt, v, dates)?;
        if !self.wanted.medications.wants(code, date) {
            return Ok(None);
        }
        Ok(Some(Record::Medication(Medication {
            patient_id: patient_id.to_owned(),
            date,
            code,
            quantity,
        })))
    }

    pub fn summary(&self) -> Summary {
        Summary {
            records_read: self.records_read,
            records_mapped: self.records_mapped,
            warnings: self.warnings.to_vec(),
        }
    }
}

/// The code of a status concept (the coding of `system`, else the first
/// coding); none when absent.
fn status_code<'a>(concept: Option<&'a Value>, system: &str) -> Option<&'a str> {
    let all = codings(concept);
    all.iter()
        .find(|c| c.get("system").and_then(Value::as_str) == Some(system))
        .or(all.first())
        .map(|c| c.get("code").and_then(Value::as_str).unwrap_or("").trim())
}

/// Whether a Condition is a confirmed, current diagnosis: see README.md.
/// (entered-in-error is left out before, for every resource type.)
fn condition_status(v: &Value) -> Result<(), Skip> {
    const RT: &str = "Condition";
    const VERIFICATION: &str = "http://terminology.hl7.org/CodeSystem/condition-ver-status";
    const CLINICAL: &str = "http://terminology.hl7.org/CodeSystem/condition-clinical";
    match status_code(v.get("verificationStatus"), VERIFICATION) {
        None | Some("confirmed") => {}
        Some(code @ ("refuted" | "entered-in-error")) => {
            return skip(
                WarningKind::Other,
                format!("{RT}: verificationStatus {code}"),
            );
        }
        Some(code @ ("unconfirmed" | "provisional" | "differential")) => {
            return skip(
                WarningKind::Other,
                format!("{RT}: verificationStatus {code}, not a confirmed diagnosis"),
            );
        }
        Some(_) => {
            return skip(
                WarningKind::BadValue,
                format!("{RT}: verificationStatus is not a condition-ver-status code"),
            );
        }
    }
    match status_code(v.get("clinicalStatus"), CLINICAL) {
        None | Some("active" | "recurrence" | "relapse") => Ok(()),
        Some(code @ ("inactive" | "resolved" | "remission")) => skip(
            WarningKind::Other,
            format!("{RT}: clinicalStatus {code} (the model has no resolution event)"),
        ),
        Some(_) => skip(
            WarningKind::BadValue,
            format!("{RT}: clinicalStatus is not a condition-clinical code"),
        ),
    }
}

/// Whether a MedicationRequest is an issue, and a MedicationStatement a
/// medication taken: see README.md. (entered-in-error is left out before,
/// for every resource type.)
fn medication_status(rt: &str, v: &Value) -> Result<(), Skip> {
    let status = text(v, "status");
    if rt == "MedicationStatement" {
        return match status {
            Some("not-taken") => skip(WarningKind::Other, format!("{rt}: status not-taken")),
            Some("intended") => skip(
                WarningKind::Other,
                format!("{rt}: status intended, not yet taken"),
            ),
            _ => Ok(()),
        };
    }
    match status {
        Some("active" | "completed" | "stopped") => {}
        Some("on-hold") => {
            return skip(
                WarningKind::Other,
                format!("{rt}: status on-hold, not known to have been issued"),
            );
        }
        Some(s @ ("cancelled" | "draft" | "unknown")) => {
            return skip(
                WarningKind::Other,
                format!("{rt}: status {s}, not an issue"),
            );
        }
        _ => {
            return skip(
                WarningKind::BadValue,
                format!("{rt}: no status, or not a medicationrequest-status code"),
            );
        }
    }
    match text(v, "intent") {
        Some("order" | "original-order" | "reflex-order" | "filler-order" | "instance-order") => {
            Ok(())
        }
        Some(i @ ("plan" | "proposal" | "option")) => skip(
            WarningKind::Other,
            format!("{rt}: intent {i}, not an issue"),
        ),
        _ => skip(
            WarningKind::BadValue,
            format!("{rt}: no intent, or not a medicationrequest-intent code"),
        ),
    }
}

/// An Observation's components (none: an empty slice).
fn components(v: &Value) -> &[Value] {
    v.get("component")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// `valueQuantity.value` and its unit (`unit`, else `code`).
fn quantity(v: &Value) -> (Option<f64>, Option<String>) {
    match v.get("valueQuantity") {
        Some(q) => (
            q.get("value").and_then(Value::as_f64),
            text(q, "unit")
                .or_else(|| text(q, "code"))
                .map(str::to_owned),
        ),
        None => (None, None),
    }
}

/// The model code of a component: the blood pressure reading its coding
/// names (LOINC or SNOMED CT, see `BP_COMPONENTS`), else its first SNOMED
/// CT coding; none if it has neither.
fn component_code(c: &Value) -> Result<Option<u64>, Skip> {
    let concept = c.get("code");
    let reading = codings(concept).iter().find_map(|coding| {
        let system = coding.get("system").and_then(Value::as_str)?;
        let code = coding.get("code").and_then(Value::as_str)?.trim();
        BP_COMPONENTS
            .iter()
            .find(|(s, c, _)| *s == system && *c == code)
            .map(|b| b.2)
    });
    match reading {
        Some(code) => Ok(Some(code)),
        None => first_code("Observation", concept, SNOMED_CT, "component's SNOMED CT"),
    }
}

/// An EpisodeOfCare as a registration: see README.md.
fn registration(v: &Value) -> Result<Record, Skip> {
    const RT: &str = "EpisodeOfCare";
    let status = text(v, "status").unwrap_or("");
    if matches!(status, "planned" | "waitlist" | "cancelled") {
        return skip(
            WarningKind::Other,
            format!("{RT}: status {status}, not a registration"),
        );
    }
    let patient_id = patient_id(RT, v, "patient")?;
    let Some(practice) = text(v, "managingOrganization.identifier.value") else {
        return skip(
            WarningKind::Other,
            format!("{RT}: no managingOrganization identifier (practice code)"),
        );
    };
    let whole = |field: &str| -> Result<Option<Date>, Skip> {
        match text(v, field) {
            None => Ok(None),
            Some(s) => match fhir_date(s) {
                Some(d) if d.precision == Precision::Day => Ok(Some(d)),
                _ => skip(
                    WarningKind::BadDate,
                    format!("{RT}: {field} is not a whole date"),
                ),
            },
        }
    };
    let Some(start) = whole("period.start")? else {
        return skip(WarningKind::BadDate, format!("{RT}: no period.start"));
    };
    let last = whole("period.end")?;
    if status == "finished" && last.is_none() {
        return skip(
            WarningKind::BadDate,
            format!("{RT}: finished with no period.end"),
        );
    }
    if let Some(last) = last
        && last < start
    {
        return skip(
            WarningKind::BadDate,
            format!("{RT}: period ends before it starts"),
        );
    }
    let temporary = v
        .get("type")
        .and_then(Value::as_array)
        .is_some_and(|types| {
            types.iter().any(|t| {
                codings(Some(t)).iter().any(|c| {
                    ["code", "display"].iter().any(|k| {
                        c.get(*k)
                            .and_then(Value::as_str)
                            .is_some_and(|s| s.to_ascii_lowercase().contains("temporary"))
                    })
                })
            })
        });
    Ok(Record::Registration(Registration {
        patient_id: patient_id.to_owned(),
        practice: practice.to_owned(),
        start,
        // FHIR's period end is the last day registered; the model's end is
        // the first day no longer registered.
        end: last.map(next_day),
        kind: if temporary {
            RegistrationType::Temporary
        } else {
            RegistrationType::Regular
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use gpes_plugin_sdk::CodeSet;

    fn wanting(codes: &[u64]) -> Wanted {
        Wanted::from_request(&Request {
            practice: "A81001".into(),
            tables: Vec::new(),
            code_sets: vec![CodeSet {
                table: Table::Events,
                codes: codes.to_vec(),
                earliest: None,
                latest: None,
                policy: false,
            }],
        })
    }

    #[test]
    fn a_line_is_skipped_unparsed_only_when_no_plain_code_is_wanted() {
        let w = wanting(&[44054006]);
        let f = &w.events;
        let wanted = br#"{"code":{"coding":[{"system":"x","code":"E11"},{"code" : "44054006"}]}}"#;
        let other = br#"{"code":{"coding":[{"code":"38341003"}]},"status":"final"}"#;
        let escaped = br#"{"code":{"coding":[{"code":"4405\u00340006"}]}}"#;
        let cut = br#"{"code":{"coding":[{"code":"4405"#;
        assert!(may_be_wanted(wanted, f));
        assert!(!may_be_wanted(other, f));
        assert!(may_be_wanted(escaped, f), "an escape means: parse it");
        assert!(
            may_be_wanted(cut, f),
            "a cut line goes on to be warned about"
        );
        assert!(!may_be_wanted(b"{}", f));
    }

    #[test]
    fn a_blood_pressure_panel_is_parsed_when_a_reading_is_wanted() {
        // The request names the model's readings (SNOMED CT); a panel may
        // code its components in LOINC, or in other SNOMED CT concepts.
        let w = wanting(&[271649006]);
        let loinc = br#"{"code":{"coding":[{"code":"85354-9"}]},"component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]}}]}"#;
        let snomed = br#"{"code":{"coding":[{"code":"163020007"}]},"component":[{"code":{"coding":[{"code":"72313002"}]}}]}"#;
        let diastolic_only = br#"{"component":[{"code":{"coding":[{"code":"8462-4"}]}}]}"#;
        assert!(may_be_wanted(loinc, &w.events));
        assert!(may_be_wanted(snomed, &w.events));
        assert!(!may_be_wanted(diastolic_only, &w.events));
        assert!(may_be_wanted(diastolic_only, &wanting(&[271650006]).events));
    }
}
