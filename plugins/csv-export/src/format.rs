//! The csv-export format (see FORMAT.md): which file holds which table, its
//! header, and how each line becomes a record.

use crate::bindings::gpes::plugin::data_source::{self, SourceError};
use crate::bindings::gpes::plugin::types::{
    CodeSet, Date as WitDate, Event, ExtractError, Medication, Patient, Precision as WitPrecision,
    Record, Registration, RegistrationType, Request, Sex, Summary, Table, WarningKind,
};
use crate::reader::HostFile;
use crate::warnings::Warnings;
use gpes_model::{Date, Precision, is_valid_nhs_number};
use std::collections::{HashMap, HashSet, VecDeque};

pub fn file_name(table: Table) -> &'static str {
    match table {
        Table::Patients => "patients.csv",
        Table::Registrations => "registrations.csv",
        Table::Events => "events.csv",
        Table::Medications => "medications.csv",
    }
}

fn header(table: Table) -> &'static [&'static str] {
    match table {
        Table::Patients => &[
            "patient_id",
            "nhs_number",
            "date_of_birth",
            "sex",
            "postcode",
            "date_of_death",
        ],
        Table::Registrations => &[
            "patient_id",
            "practice_code",
            "start_date",
            "end_date",
            "type",
        ],
        Table::Events => &["patient_id", "date", "snomed_code", "value", "unit"],
        Table::Medications => &["patient_id", "date", "dmd_code", "quantity"],
    }
}

/// A date window, bounds inclusive; `None` is unbounded.
type Window = (Option<Date>, Option<Date>);

/// Codes wanted from one table, each with the date windows asked for it.
#[derive(Default)]
struct CodeFilter {
    /// Whole table wanted.
    all: bool,
    windows: HashMap<u64, Vec<Window>>,
}

impl CodeFilter {
    fn wants(&self, code: u64, date: Date) -> bool {
        self.all
            || self.windows.get(&code).is_some_and(|ws| {
                ws.iter().any(|(from, to)| {
                    from.is_none_or(|f| date >= f) && to.is_none_or(|t| date <= t)
                })
            })
    }

    fn is_empty(&self) -> bool {
        !self.all && self.windows.is_empty()
    }
}

struct OpenTable {
    table: Table,
    reader: csv::Reader<HostFile>,
}

pub struct Extractor {
    pending: VecDeque<OpenTable>,
    events: CodeFilter,
    medications: CodeFilter,
    seen_patients: HashSet<String>,
    warnings: Warnings,
    row: csv::ByteRecord,
    records_read: u64,
    records_mapped: u64,
}

fn fail(file: &str, message: String) -> ExtractError {
    ExtractError {
        message: format!("{file}: {message}"),
        file: Some(file.to_owned()),
    }
}

fn from_wit(d: &WitDate) -> Option<Date> {
    let precision = match d.precision {
        WitPrecision::Day => Precision::Day,
        WitPrecision::Month => Precision::Month,
        WitPrecision::Year => Precision::Year,
    };
    Date::new(d.year, d.month, d.day, precision).ok()
}

fn to_wit(d: Date) -> WitDate {
    WitDate {
        year: d.year,
        month: d.month,
        day: d.day,
        precision: match d.precision {
            Precision::Day => WitPrecision::Day,
            Precision::Month => WitPrecision::Month,
            Precision::Year => WitPrecision::Year,
        },
    }
}

fn add_code_set(filter: &mut CodeFilter, set: &CodeSet) -> Result<(), ExtractError> {
    let bound = |d: &Option<WitDate>| -> Result<Option<Date>, ExtractError> {
        d.as_ref()
            .map(|d| {
                from_wit(d).ok_or_else(|| ExtractError {
                    message: format!(
                        "the request has a code set with an impossible date bound {}-{}-{}",
                        d.year, d.month, d.day
                    ),
                    file: None,
                })
            })
            .transpose()
    };
    let window = (bound(&set.earliest)?, bound(&set.latest)?);
    for code in &set.codes {
        filter.windows.entry(*code).or_default().push(window);
    }
    Ok(())
}

/// A line that could not be used, and why.
type Skip = (WarningKind, String);

fn text<'a>(field: &'a [u8], column: &str) -> Result<&'a str, Skip> {
    std::str::from_utf8(field).map_err(|_| {
        (
            WarningKind::MalformedLine,
            format!("column {column} is not UTF-8 text"),
        )
    })
}

fn optional(s: &str) -> Option<&str> {
    let s = s.trim();
    (!s.is_empty()).then_some(s)
}

fn date(s: &str, column: &str) -> Result<Date, Skip> {
    Date::parse_iso(s.trim()).map_err(|e| (WarningKind::BadDate, format!("column {column}: {e}")))
}

fn code(s: &str, column: &str) -> Result<u64, Skip> {
    match s.trim().parse::<u64>() {
        Ok(c) if c > 0 => Ok(c),
        _ => Err((
            WarningKind::UnmappableCode,
            format!("column {column}: '{s}' is not a concept id"),
        )),
    }
}

fn number(s: &str, column: &str) -> Result<Option<f64>, Skip> {
    optional(s)
        .map(|v| match v.parse::<f64>() {
            Ok(x) if x.is_finite() => Ok(x),
            _ => Err((
                WarningKind::BadValue,
                format!("column {column}: '{v}' is not a number"),
            )),
        })
        .transpose()
}

impl Extractor {
    /// Opens every file the request needs; a missing or unusable one fails
    /// the extraction here, before any record is returned.
    pub fn open(request: &Request) -> Result<Extractor, ExtractError> {
        let mut events = CodeFilter::default();
        let mut medications = CodeFilter::default();
        for t in &request.tables {
            match t {
                Table::Events => events.all = true,
                Table::Medications => medications.all = true,
                Table::Patients | Table::Registrations => {}
            }
        }
        for set in &request.code_sets {
            match set.table {
                Table::Events => add_code_set(&mut events, set)?,
                Table::Medications => add_code_set(&mut medications, set)?,
                Table::Patients | Table::Registrations => {}
            }
        }
        let wanted = [
            (Table::Patients, request.tables.contains(&Table::Patients)),
            (
                Table::Registrations,
                request.tables.contains(&Table::Registrations),
            ),
            (Table::Events, !events.is_empty()),
            (Table::Medications, !medications.is_empty()),
        ];
        let mut pending = VecDeque::new();
        for (table, needed) in wanted {
            if needed {
                pending.push_back(Self::open_table(table)?);
            }
        }
        Ok(Extractor {
            pending,
            events,
            medications,
            seen_patients: HashSet::new(),
            warnings: Warnings::default(),
            row: csv::ByteRecord::new(),
            records_read: 0,
            records_mapped: 0,
        })
    }

    fn open_table(table: Table) -> Result<OpenTable, ExtractError> {
        let name = file_name(table);
        let file = data_source::open(name).map_err(|e| match e {
            SourceError::NotFound(_) => fail(
                name,
                "the file is missing; the export must hold one file per table named in FORMAT.md"
                    .into(),
            ),
            SourceError::Io(m) => fail(name, format!("could not be read: {m}")),
        })?;
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .has_headers(true)
            .buffer_capacity(64 * 1024)
            .from_reader(HostFile::new(file));
        let got = reader
            .byte_headers()
            .map_err(|e| fail(name, format!("could not read the header line: {e}")))?;
        let expected = header(table);
        if got.is_empty() || got.as_slice().is_empty() {
            return Err(fail(
                name,
                format!(
                    "the file is empty; expected a header line '{}'",
                    expected.join(",")
                ),
            ));
        }
        let Ok(got_text) = got
            .iter()
            .map(std::str::from_utf8)
            .collect::<Result<Vec<_>, _>>()
        else {
            return Err(fail(
                name,
                "the header line is not UTF-8; the export must be UTF-8 text".into(),
            ));
        };
        if got_text != expected {
            return Err(fail(
                name,
                format!(
                    "the header line is '{}'; expected '{}'",
                    got_text.join(","),
                    expected.join(",")
                ),
            ));
        }
        Ok(OpenTable { table, reader })
    }

    pub fn next_batch(&mut self, max: usize) -> Result<Option<Vec<Record>>, ExtractError> {
        let mut batch = Vec::with_capacity(max);
        while batch.len() < max {
            let Some(open) = self.pending.front_mut() else {
                break;
            };
            let table = open.table;
            let name = file_name(table);
            let mut row = std::mem::take(&mut self.row);
            let more = open
                .reader
                .read_byte_record(&mut row)
                .map_err(|e| fail(name, format!("could not be read: {e}")))?;
            if !more {
                self.row = row;
                self.pending.pop_front();
                continue;
            }
            self.records_read += 1;
            let line = row.position().map_or(0, |p| p.line());
            let mapped = self.map_row(table, &row, line);
            self.row = row;
            match mapped {
                Ok(Some(record)) => {
                    self.records_mapped += 1;
                    batch.push(record);
                }
                Ok(None) => {}
                Err((kind, message)) => self.warnings.add(kind, name, line, || message),
            }
        }
        Ok(if batch.is_empty() && self.pending.is_empty() {
            None
        } else {
            Some(batch)
        })
    }

    fn map_row(
        &mut self,
        table: Table,
        row: &csv::ByteRecord,
        line: u64,
    ) -> Result<Option<Record>, Skip> {
        let columns = header(table);
        if row.len() != columns.len() {
            return Err((
                WarningKind::MalformedLine,
                format!(
                    "{} fields where the header has {}",
                    row.len(),
                    columns.len()
                ),
            ));
        }
        // Filtering at the source: an event or medication whose code the
        // request does not want at any date is skipped before any other
        // work (most lines of a real export are such).
        let filter = match table {
            Table::Events => Some(&self.events),
            Table::Medications => Some(&self.medications),
            Table::Patients | Table::Registrations => None,
        };
        if let Some(filter) = filter
            && !filter.all
        {
            let code = std::str::from_utf8(&row[2])
                .ok()
                .and_then(|c| c.trim().parse::<u64>().ok());
            if let Some(code) = code
                && !filter.windows.contains_key(&code)
            {
                return Ok(None);
            }
        }
        let mut fields = [""; 6];
        for (i, (raw, column)) in row.iter().zip(columns).enumerate() {
            fields[i] = text(raw, column)?;
        }
        let id = fields[0].trim();
        if id.is_empty() {
            return Err((
                WarningKind::MalformedLine,
                "column patient_id is empty".into(),
            ));
        }
        match table {
            Table::Patients => self.patient(id, &fields, line).map(Some),
            Table::Registrations => registration(id, &fields).map(Some),
            Table::Events => {
                let date = date(fields[1], "date")?;
                let code = code(fields[2], "snomed_code")?;
                if !self.events.wants(code, date) {
                    return Ok(None);
                }
                Ok(Some(Record::Event(Event {
                    patient_id: id.to_owned(),
                    date: to_wit(date),
                    code,
                    value: number(fields[3], "value")?,
                    unit: optional(fields[4]).map(str::to_owned),
                })))
            }
            Table::Medications => {
                let date = date(fields[1], "date")?;
                let code = code(fields[2], "dmd_code")?;
                if !self.medications.wants(code, date) {
                    return Ok(None);
                }
                Ok(Some(Record::Medication(Medication {
                    patient_id: id.to_owned(),
                    date: to_wit(date),
                    code,
                    quantity: number(fields[3], "quantity")?,
                })))
            }
        }
    }

    /// A patient line. A bad NHS number or date is dropped from the record
    /// with a warning, and the patient kept, so that counts do not move.
    fn patient(&mut self, id: &str, f: &[&str], line: u64) -> Result<Record, Skip> {
        if !self.seen_patients.insert(id.to_owned()) {
            return Err((
                WarningKind::DuplicatePatient,
                format!("patient_id '{id}' appeared on an earlier line; this line is left out"),
            ));
        }
        let mut warn = |kind, message: String| {
            self.warnings
                .add(kind, file_name(Table::Patients), line, || message)
        };
        let nhs_number = match optional(f[1]) {
            Some(n) if is_valid_nhs_number(n) => Some(n.to_owned()),
            Some(n) => {
                warn(
                    WarningKind::BadNhsNumber,
                    format!("'{n}' fails the NHS number check; the number is left out"),
                );
                None
            }
            None => None,
        };
        let mut optional_date = |s: &str, column: &str| match optional(s).map(|s| date(s, column)) {
            Some(Ok(d)) => Some(to_wit(d)),
            Some(Err((kind, m))) => {
                warn(kind, format!("{m}; the date is left out"));
                None
            }
            None => None,
        };
        let date_of_birth = optional_date(f[2], "date_of_birth");
        let date_of_death = optional_date(f[5], "date_of_death");
        let sex = match f[3].trim() {
            "male" => Sex::Male,
            "female" => Sex::Female,
            "other" => Sex::Other,
            "unknown" | "" => Sex::Unknown,
            s => {
                warn(
                    WarningKind::BadValue,
                    format!(
                        "column sex: '{s}' is not male, female, other or unknown; recorded as unknown"
                    ),
                );
                Sex::Unknown
            }
        };
        Ok(Record::Patient(Patient {
            id: id.to_owned(),
            nhs_number,
            date_of_birth,
            sex,
            postcode: optional(f[4]).map(str::to_owned),
            date_of_death,
        }))
    }

    pub fn summary(&self) -> Summary {
        Summary {
            records_read: self.records_read,
            records_mapped: self.records_mapped,
            warnings: self.warnings.to_vec(),
        }
    }
}

fn registration(id: &str, f: &[&str]) -> Result<Record, Skip> {
    let practice = f[1].trim();
    if practice.is_empty() {
        return Err((
            WarningKind::MalformedLine,
            "column practice_code is empty".into(),
        ));
    }
    let start = date(f[2], "start_date")?;
    let end = optional(f[3]).map(|s| date(s, "end_date")).transpose()?;
    let whole = |d: Date, column: &str| {
        if d.precision == Precision::Day {
            Ok(())
        } else {
            Err((
                WarningKind::BadDate,
                format!("column {column}: '{d}' is not a whole date"),
            ))
        }
    };
    whole(start, "start_date")?;
    if let Some(end) = end {
        whole(end, "end_date")?;
        if end < start {
            return Err((
                WarningKind::BadDate,
                format!("end_date {end} is before start_date {start}"),
            ));
        }
    }
    let kind = match f[4].trim() {
        "regular" => RegistrationType::Regular,
        "temporary" => RegistrationType::Temporary,
        other => {
            return Err((
                WarningKind::BadValue,
                format!("column type: '{other}' is not regular or temporary"),
            ));
        }
    };
    Ok(Record::Registration(Registration {
        patient_id: id.to_owned(),
        practice: practice.to_owned(),
        start: to_wit(start),
        end: end.map(to_wit),
        kind,
    }))
}
