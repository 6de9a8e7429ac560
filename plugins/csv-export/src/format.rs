//! The csv-export format (see FORMAT.md): which file holds which table, its
//! header, and how each line becomes a record.

use gpes_plugin_sdk::{
    Date, Event, ExtractError, Medication, Patient, Patients, Precision, Record, Registration,
    RegistrationType, Request, Sex, Source, SourceError, SourceFile, Summary, Table, Wanted,
    WarningKind, Warnings, model::is_valid_nhs_number,
};
use std::collections::VecDeque;

pub fn file_name(table: Table) -> &'static str {
    match table {
        Table::Patients => "Patient.csv",
        Table::Registrations => "Registration.csv",
        Table::Events => "Observation.csv",
        Table::Medications => "Medication.csv",
    }
}

fn header(table: Table) -> &'static [&'static str] {
    match table {
        Table::Patients => &[
            "PatientGuid",
            "NhsNumber",
            "DateOfBirth",
            "Gender",
            "Postcode",
            "DateOfDeath",
        ],
        Table::Registrations => &[
            "PatientGuid",
            "OrganisationOds",
            "RegisteredDate",
            "DeregisteredDate",
            "RegistrationType",
        ],
        Table::Events => &[
            "PatientGuid",
            "EffectiveDate",
            "CodeSystem",
            "Code",
            "NumericValue",
            "NumericUnit",
        ],
        Table::Medications => &["PatientGuid", "IssueDate", "CodeSystem", "Code", "Quantity"],
    }
}

/// The code system a coded table's lines must use, and the name of what
/// its codes are, for warnings.
fn code_system(table: Table) -> Option<(&'static str, &'static str)> {
    match table {
        Table::Events => Some(("SNOMED", "SNOMED CT")),
        Table::Medications => Some(("DMD", "dm+d")),
        Table::Patients | Table::Registrations => None,
    }
}

/// Code systems the supplier uses that have no map to the data model's.
const UNMAPPABLE_SYSTEMS: [&str; 3] = ["READ2", "CTV3", "EMIS"];

struct OpenTable {
    table: Table,
    reader: csv::Reader<SourceFile>,
}

pub struct Extractor {
    pending: VecDeque<OpenTable>,
    wanted: Wanted,
    /// Patient lines, held until `Patient.csv` has been read whole.
    patients: Patients,
    /// Patients to return once their file has been read.
    ready: std::vec::IntoIter<Patient>,
    warnings: Warnings,
    row: csv::ByteRecord,
    records_read: u64,
    records_mapped: u64,
}

fn fail(file: &str, message: String) -> ExtractError {
    ExtractError::in_file(file, message)
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

/// `str::trim` (Unicode whitespace), with a fast path for the usual field
/// that has nothing to trim: `trim` costs several times more in WebAssembly
/// than natively, and every field goes through it.
fn trim(s: &str) -> &str {
    match (s.as_bytes().first(), s.as_bytes().last()) {
        (Some(first), Some(last)) if first.is_ascii_graphic() && last.is_ascii_graphic() => s,
        (None, _) => s,
        _ => s.trim(),
    }
}

fn optional(s: &str) -> Option<&str> {
    let s = trim(s);
    (!s.is_empty()).then_some(s)
}

/// Parses `DD/MM/YYYY`, `MM/YYYY` (month precision) or `YYYY` (year
/// precision).
fn parse_date(s: &str) -> Result<Date, String> {
    let syntax = || format!("'{s}' is not a date in the form DD/MM/YYYY, MM/YYYY or YYYY");
    let num = |part: &str, len: usize| {
        if part.len() == len && part.bytes().all(|b| b.is_ascii_digit()) {
            part.parse::<u16>().map_err(|_| syntax())
        } else {
            Err(syntax())
        }
    };
    // By length, so no field is split into pieces: DD/MM/YYYY, MM/YYYY, YYYY.
    let slash = |i: usize| s.as_bytes().get(i) == Some(&b'/');
    let (year, month, day, precision) = match s.len() {
        4 => (num(s, 4)?, 1, 1, Precision::Year),
        7 if slash(2) => (num(&s[3..], 4)?, num(&s[..2], 2)?, 1, Precision::Month),
        10 if slash(2) && slash(5) => (
            num(&s[6..], 4)?,
            num(&s[3..5], 2)?,
            num(&s[..2], 2)?,
            Precision::Day,
        ),
        _ => return Err(syntax()),
    };
    // Two digits fit in a u8.
    Date::new(i32::from(year), month as u8, day as u8, precision).map_err(|e| e.to_string())
}

fn date(s: &str, column: &str) -> Result<Date, Skip> {
    parse_date(trim(s)).map_err(|e| (WarningKind::BadDate, format!("column {column}: {e}")))
}

/// Checks a coded line's code system: the one the table's codes are in, a
/// supplier system with no map to it, or one the format does not have.
fn check_system(table: Table, s: &str) -> Result<(), Skip> {
    let Some((system, target)) = code_system(table) else {
        return Ok(());
    };
    match trim(s) {
        s if s == system => Ok(()),
        s if UNMAPPABLE_SYSTEMS.contains(&s) => Err((
            WarningKind::UnmappableCode,
            format!("no map from {s} to {target}"),
        )),
        s => Err((
            WarningKind::UnknownCodeSystem,
            format!(
                "column CodeSystem: '{s}' is not one of {system}, {}",
                UNMAPPABLE_SYSTEMS.join(", ")
            ),
        )),
    }
}

/// A concept id as SNOMED CT and dm+d write their identifiers: ASCII
/// digits, the first not `0`, no sign, within 64 bits. Anything else (a
/// leading zero or a `+` included) is not read as some other number.
fn concept_id(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.first().is_some_and(|&d| d != b'0') && b.iter().all(u8::is_ascii_digit) {
        s.parse().ok()
    } else {
        None
    }
}

fn code(s: &str, column: &str) -> Result<u64, Skip> {
    match concept_id(trim(s)) {
        Some(c) => Ok(c),
        None => Err((
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
    pub fn open(request: &Request, source: Source) -> Result<Extractor, ExtractError> {
        let wanted = Wanted::from_request(request);
        let mut pending = VecDeque::new();
        for table in Table::ALL {
            if wanted.needs(table) {
                pending.push_back(Self::open_table(&source, table)?);
            }
        }
        Ok(Extractor {
            pending,
            wanted,
            patients: Patients::new("PatientGuid"),
            ready: Vec::new().into_iter(),
            warnings: Warnings::default(),
            row: csv::ByteRecord::new(),
            records_read: 0,
            records_mapped: 0,
        })
    }

    fn open_table(source: &Source, table: Table) -> Result<OpenTable, ExtractError> {
        let name = file_name(table);
        let file = source.open(name).map_err(|e| match e {
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
            .from_reader(file);
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

    /// The next record, reading on past lines that are filtered out or
    /// warned about. Patients are returned once `Patient.csv` has been read
    /// whole (a repeated id is resolved only then: see FORMAT.md).
    pub fn next_record(&mut self) -> Result<Option<Record>, ExtractError> {
        loop {
            if let Some(patient) = self.ready.next() {
                self.records_mapped += 1;
                return Ok(Some(Record::Patient(patient)));
            }
            let Some(open) = self.pending.front_mut() else {
                return Ok(None);
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
                if table == Table::Patients {
                    self.ready = self.patients.finish(&mut self.warnings).into_iter();
                }
                continue;
            }
            self.records_read += 1;
            let line = row.position().map_or(0, |p| p.line());
            let mapped = self.map_row(table, &row, line);
            self.row = row;
            match mapped {
                Ok(Some(Record::Patient(patient))) => self.patients.add(patient, name, line),
                Ok(Some(record)) => {
                    self.records_mapped += 1;
                    return Ok(Some(record));
                }
                Ok(None) => {}
                Err((kind, message)) => self.warnings.add(kind, name, line, || message),
            }
        }
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
        // Filtering at the source: an event or medication in the table's
        // own code system whose code the request does not want at any date
        // is skipped before any other work (most lines of a real export
        // are such). Lines in another system cannot be filtered.
        let filter = match table {
            Table::Events => Some(&self.wanted.events),
            Table::Medications => Some(&self.wanted.medications),
            Table::Patients | Table::Registrations => None,
        };
        if let (Some(filter), Some((system, _))) = (filter, code_system(table))
            && std::str::from_utf8(&row[2]).is_ok_and(|s| trim(s) == system)
        {
            let code = std::str::from_utf8(&row[3])
                .ok()
                .and_then(|c| concept_id(trim(c)));
            if let Some(code) = code
                && !filter.wants_code(code)
            {
                return Ok(None);
            }
        }
        let mut fields = [""; 6];
        for (i, (raw, column)) in row.iter().zip(columns).enumerate() {
            fields[i] = text(raw, column)?;
        }
        let id = trim(fields[0]);
        if id.is_empty() {
            return Err((
                WarningKind::MalformedLine,
                "column PatientGuid is empty".into(),
            ));
        }
        // What two files joined into one look like: the second's
        // byte-order mark, or its header, at the start of a line.
        if id.contains('\u{feff}') {
            return Err((
                WarningKind::MalformedLine,
                "column PatientGuid holds a byte-order mark, which is allowed only at the start \
                 of the file (two files joined?)"
                    .into(),
            ));
        }
        if id == columns[0] {
            return Err((
                WarningKind::MalformedLine,
                "the header line again, inside the file (two files joined?)".into(),
            ));
        }
        match table {
            Table::Patients => self.patient(id, &fields, line).map(Some),
            Table::Registrations => registration(id, &fields).map(Some),
            Table::Events => {
                check_system(table, fields[2])?;
                let date = date(fields[1], "EffectiveDate")?;
                let code = code(fields[3], "Code")?;
                if !self.wanted.events.wants(code, date) {
                    return Ok(None);
                }
                Ok(Some(Record::Event(Event {
                    patient_id: id.to_owned(),
                    date,
                    code,
                    value: number(fields[4], "NumericValue")?,
                    unit: optional(fields[5]).map(str::to_owned),
                })))
            }
            Table::Medications => {
                check_system(table, fields[2])?;
                let date = date(fields[1], "IssueDate")?;
                let code = code(fields[3], "Code")?;
                if !self.wanted.medications.wants(code, date) {
                    return Ok(None);
                }
                Ok(Some(Record::Medication(Medication {
                    patient_id: id.to_owned(),
                    date,
                    code,
                    quantity: number(fields[4], "Quantity")?,
                })))
            }
        }
    }

    /// A patient line. A bad NHS number or date is dropped from the record
    /// with a warning, and the patient kept, so that counts do not move. A
    /// repeated id is `Patients`' to resolve, once the file is read.
    fn patient(&mut self, id: &str, f: &[&str], line: u64) -> Result<Record, Skip> {
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
            Some(Ok(d)) => Some(d),
            Some(Err((kind, m))) => {
                warn(kind, format!("{m}; the date is left out"));
                None
            }
            None => None,
        };
        let date_of_birth = optional_date(f[2], "DateOfBirth");
        let date_of_death = optional_date(f[5], "DateOfDeath");
        let sex = match trim(f[3]) {
            "M" => Sex::Male,
            "F" => Sex::Female,
            "I" => Sex::Other,
            "U" | "" => Sex::Unknown,
            s => {
                warn(
                    WarningKind::BadValue,
                    format!("column Gender: '{s}' is not M, F, I or U; recorded as unknown"),
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
            death_date_unknown: false,
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
    let practice = trim(f[1]);
    if practice.is_empty() {
        return Err((
            WarningKind::MalformedLine,
            "column OrganisationOds is empty".into(),
        ));
    }
    let start = date(f[2], "RegisteredDate")?;
    let end = optional(f[3])
        .map(|s| date(s, "DeregisteredDate"))
        .transpose()?;
    let whole = |d: Date, column: &str, s: &str| {
        if d.precision == Precision::Day {
            Ok(())
        } else {
            Err((
                WarningKind::BadDate,
                format!("column {column}: '{}' is not a whole date", trim(s)),
            ))
        }
    };
    whole(start, "RegisteredDate", f[2])?;
    if let Some(end) = end {
        whole(end, "DeregisteredDate", f[3])?;
        if end < start {
            return Err((
                WarningKind::BadDate,
                format!(
                    "DeregisteredDate {} is before RegisteredDate {}",
                    trim(f[3]),
                    trim(f[2])
                ),
            ));
        }
    }
    let kind = match trim(f[4]) {
        "GMS" => RegistrationType::Regular,
        "TEMP" => RegistrationType::Temporary,
        other => {
            return Err((
                WarningKind::BadValue,
                format!("column RegistrationType: '{other}' is not GMS or TEMP"),
            ));
        }
    };
    Ok(Record::Registration(Registration {
        patient_id: id.to_owned(),
        practice: practice.to_owned(),
        start,
        end,
        kind,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_day_first_or_partial() {
        let ok =
            |s: &str, y, m, d, p| assert_eq!(parse_date(s), Ok(Date::new(y, m, d, p).unwrap()));
        ok("31/01/2024", 2024, 1, 31, Precision::Day);
        ok("29/02/2024", 2024, 2, 29, Precision::Day);
        ok("07/1950", 1950, 7, 1, Precision::Month);
        ok("2025", 2025, 1, 1, Precision::Year);
        let bad = |s: &str, why: &str| assert_eq!(parse_date(s).unwrap_err(), why);
        let syntax = "is not a date in the form DD/MM/YYYY, MM/YYYY or YYYY";
        for s in [
            "2024-01-31",
            "1/2/2024",
            "31/01/24",
            "",
            "31/01/2024/1",
            "+1/01/2024",
        ] {
            bad(s, &format!("'{s}' {syntax}"));
        }
        bad("29/02/2023", "2023-02 has no day 29");
        bad("01/13/2024", "month 13 is outside 1 to 12");
        bad("00/01/2024", "2024-01 has no day 0");
        bad("01/01/0000", "year 0 is outside 1 to 9999");
    }

    #[test]
    fn code_systems_are_the_tables_own_unmappable_or_unknown() {
        assert_eq!(check_system(Table::Events, " SNOMED "), Ok(()));
        assert_eq!(check_system(Table::Medications, "DMD"), Ok(()));
        assert_eq!(
            check_system(Table::Events, "READ2"),
            Err((
                WarningKind::UnmappableCode,
                "no map from READ2 to SNOMED CT".into()
            ))
        );
        assert_eq!(
            check_system(Table::Medications, "CTV3"),
            Err((
                WarningKind::UnmappableCode,
                "no map from CTV3 to dm+d".into()
            ))
        );
        for (table, s) in [
            (Table::Events, "XYZ"),
            (Table::Events, "DMD"),
            (Table::Medications, "SNOMED"),
            (Table::Medications, ""),
        ] {
            assert_eq!(
                check_system(table, s).unwrap_err().0,
                WarningKind::UnknownCodeSystem,
                "{s}"
            );
        }
    }
}
