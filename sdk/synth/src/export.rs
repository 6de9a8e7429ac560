//! Writing a practice in the csv-export format (`plugins/csv-export/FORMAT.md`).

use crate::Practice;
use gpes_model::{Date, Precision, RegistrationType, Sex};
use std::fmt::{self, Write as _};
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// Each file of the export and its header, as FORMAT.md has them.
pub const HEADERS: [(&str, &[&str]); 4] = [
    (
        "Patient.csv",
        &[
            "PatientGuid",
            "NhsNumber",
            "DateOfBirth",
            "Gender",
            "Postcode",
            "DateOfDeath",
        ],
    ),
    (
        "Registration.csv",
        &[
            "PatientGuid",
            "OrganisationOds",
            "RegisteredDate",
            "DeregisteredDate",
            "RegistrationType",
        ],
    ),
    (
        "Observation.csv",
        &[
            "PatientGuid",
            "EffectiveDate",
            "CodeSystem",
            "Code",
            "NumericValue",
            "NumericUnit",
        ],
    ),
    (
        "Medication.csv",
        &["PatientGuid", "IssueDate", "CodeSystem", "Code", "Quantity"],
    ),
];

fn sex(s: Sex) -> &'static str {
    match s {
        Sex::Male => "M",
        Sex::Female => "F",
        Sex::Other => "I",
        Sex::Unknown => "U",
    }
}

fn kind(k: RegistrationType) -> &'static str {
    match k {
        RegistrationType::Regular => "GMS",
        RegistrationType::Temporary => "TEMP",
    }
}

/// Writes a date as FORMAT.md reads it: `DD/MM/YYYY`, or `MM/YYYY` /
/// `YYYY` for a date known only to the month or year.
fn date(out: &mut String, d: Option<Date>) {
    let Some(d) = d else { return };
    let _ = match d.precision {
        Precision::Day => write!(out, "{:02}/{:02}/{:04}", d.day, d.month, d.year),
        Precision::Month => write!(out, "{:02}/{:04}", d.month, d.year),
        Precision::Year => write!(out, "{:04}", d.year),
    };
}

/// Writes a decimal number as FORMAT.md reads it (`52`, `7.5`): Rust's
/// shortest round-trip form, the same on every platform.
fn number(out: &mut String, v: Option<f64>) {
    if let Some(v) = v {
        let _ = write!(out, "{v}");
    }
}

fn show(out: &mut String, v: Option<impl fmt::Display>) {
    if let Some(v) = v {
        let _ = write!(out, "{v}");
    }
}

/// Writes one table, streaming its rows through a buffer; `row` fills the
/// (cleared) fields of one line, reused from line to line.
fn table<T>(
    dir: &Path,
    index: usize,
    rows: &[T],
    mut row: impl FnMut(&T, &mut [String; 6]),
) -> io::Result<()> {
    let (name, header) = HEADERS[index];
    let file = File::create(dir.join(name))?;
    let mut out = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(BufWriter::with_capacity(1 << 16, file));
    out.write_record(header)?;
    let mut fields: [String; 6] = Default::default();
    for r in rows {
        for f in &mut fields {
            f.clear();
        }
        row(r, &mut fields);
        out.write_record(&fields[..header.len()])?;
    }
    let mut inner = out.into_inner().map_err(|e| e.into_error())?;
    inner.flush()
}

/// Writes `Patient.csv`, `Registration.csv`, `Observation.csv` and
/// `Medication.csv` into `dir` (made if missing), exactly as FORMAT.md
/// describes: header line, columns in order, `\n` line ends, empty fields
/// for what is not recorded, quoting only where a field needs it, dates day
/// first, observations coded in `SNOMED` and medications in `DMD`. Rows are
/// streamed to the files; nothing is built in memory first.
///
/// The format has no way to say "died, date unknown": a practice with such a
/// patient is refused (`InvalidInput`) rather than written as alive. The
/// generator makes none.
pub fn write_csv_export(practice: &Practice, dir: &Path) -> io::Result<()> {
    if let Some(p) = practice.patients.iter().find(|p| p.death_date_unknown) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "patient {} is recorded as dead on an unknown date, which the csv-export format cannot hold",
                p.id
            ),
        ));
    }
    fs::create_dir_all(dir)?;
    table(dir, 0, &practice.patients, |p, f| {
        f[0].push_str(&p.id);
        show(&mut f[1], p.nhs_number.as_deref());
        date(&mut f[2], p.date_of_birth);
        f[3].push_str(sex(p.sex));
        show(&mut f[4], p.postcode.as_deref());
        date(&mut f[5], p.date_of_death);
    })?;
    table(dir, 1, &practice.registrations, |r, f| {
        f[0].push_str(&r.patient_id);
        f[1].push_str(&r.practice);
        date(&mut f[2], Some(r.start));
        date(&mut f[3], r.end);
        f[4].push_str(kind(r.kind));
    })?;
    table(dir, 2, &practice.events, |e, f| {
        f[0].push_str(&e.patient_id);
        date(&mut f[1], Some(e.date));
        f[2].push_str("SNOMED");
        show(&mut f[3], Some(e.code));
        number(&mut f[4], e.value);
        show(&mut f[5], e.unit.as_deref());
    })?;
    table(dir, 3, &practice.medications, |m, f| {
        f[0].push_str(&m.patient_id);
        date(&mut f[1], Some(m.date));
        f[2].push_str("DMD");
        show(&mut f[3], Some(m.code));
        number(&mut f[4], m.quantity);
    })
}
