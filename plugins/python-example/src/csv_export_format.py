"""The csv-export format (plugins/csv-export/FORMAT.md): which file holds
which table, its header, and how each line's fields become a record.

Everything that is particular to this supplier's format is in this module;
`extractor.py` reads CSV files through the host and calls `map_row` for
each line, and `model.py` holds the common data model's rules. The Rust
csv-export plugin (plugins/csv-export/src/format.rs) is the reference: the
same line gives the same record or the same warning (kind and message).
"""

import math
import re

from wit_world.imports import types

from model import (
    DAY,
    MONTH,
    WHITESPACE,
    YEAR,
    DateError,
    is_valid_nhs_number,
    make_date,
    to_wit,
    U64_MAX,
)

Table = types.Table
Kind = types.WarningKind

FILE_NAMES = {
    Table.PATIENTS: "Patient.csv",
    Table.REGISTRATIONS: "Registration.csv",
    Table.EVENTS: "Observation.csv",
    Table.MEDICATIONS: "Medication.csv",
}

HEADERS = {
    Table.PATIENTS: (
        "PatientGuid",
        "NhsNumber",
        "DateOfBirth",
        "Gender",
        "Postcode",
        "DateOfDeath",
    ),
    Table.REGISTRATIONS: (
        "PatientGuid",
        "OrganisationOds",
        "RegisteredDate",
        "DeregisteredDate",
        "RegistrationType",
    ),
    Table.EVENTS: (
        "PatientGuid",
        "EffectiveDate",
        "CodeSystem",
        "Code",
        "NumericValue",
        "NumericUnit",
    ),
    Table.MEDICATIONS: ("PatientGuid", "IssueDate", "CodeSystem", "Code", "Quantity"),
}

# The columns holding the code system and the code, for tables filtered by
# the request's codes.
SYSTEM_COLUMN = {Table.EVENTS: 2, Table.MEDICATIONS: 2}
CODE_COLUMN = {Table.EVENTS: 3, Table.MEDICATIONS: 3}

# The code system a coded table's lines must use, and the name of what its
# codes are, for warnings.
CODE_SYSTEMS = {Table.EVENTS: ("SNOMED", "SNOMED CT"), Table.MEDICATIONS: ("DMD", "dm+d")}

# Code systems the supplier uses that have no map to the data model's.
UNMAPPABLE_SYSTEMS = ("READ2", "CTV3", "EMIS")

_SEXES = {
    "M": types.Sex.MALE,
    "F": types.Sex.FEMALE,
    "I": types.Sex.OTHER,
    "U": types.Sex.UNKNOWN,
    "": types.Sex.UNKNOWN,
}

_REGISTRATION_TYPES = {
    "GMS": types.RegistrationType.REGULAR,
    "TEMP": types.RegistrationType.TEMPORARY,
}

# What Rust's `f64::from_str` accepts, less inf and nan (never finite).
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


class Skip(Exception):
    """A line that could not be used: its warning kind and message."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind
        self.message = message


def trim(s):
    return s.strip(WHITESPACE)


def optional(s):
    s = s.strip(WHITESPACE)
    return s if s else None


def is_text(field):
    """False when the field held bytes that are not UTF-8 (decoded as lone
    surrogates)."""
    if field.isascii():
        return True
    try:
        field.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_date(s):
    """`DD/MM/YYYY`, `MM/YYYY` (month precision) or `YYYY` (year
    precision), as format.rs's `parse_date`."""
    parts = s.split("/")
    sizes = {1: (4,), 2: (2, 4), 3: (2, 2, 4)}.get(len(parts))
    if sizes is None or not all(_digits(part, n) for part, n in zip(parts, sizes)):
        raise DateError(f"'{s}' is not a date in the form DD/MM/YYYY, MM/YYYY or YYYY")
    numbers = [int(part) for part in parts]
    if len(parts) == 1:
        return make_date(numbers[0], 1, 1, YEAR)
    if len(parts) == 2:
        return make_date(numbers[1], numbers[0], 1, MONTH)
    return make_date(numbers[2], numbers[1], numbers[0], DAY)


def _digits(part, n):
    return len(part) == n and part.isascii() and part.isdigit()


def date(s, column):
    try:
        return parse_date(trim(s))
    except DateError as e:
        raise Skip(Kind.BAD_DATE, f"column {column}: {e}") from None


def check_system(table, s):
    """A coded line's code system: the one the table's codes are in, a
    supplier system with no map to it, or one the format does not have."""
    system, target = CODE_SYSTEMS[table]
    s = trim(s)
    if s == system:
        return
    if s in UNMAPPABLE_SYSTEMS:
        raise Skip(Kind.UNMAPPABLE_CODE, f"no map from {s} to {target}")
    raise Skip(
        Kind.UNKNOWN_CODE_SYSTEM,
        f"column CodeSystem: '{s}' is not one of {system}, {', '.join(UNMAPPABLE_SYSTEMS)}",
    )


def concept_id(s):
    """A concept id as SNOMED CT and dm+d write their identifiers (ASCII
    digits, the first not 0, no sign, within 64 bits), or None: format.rs's
    `concept_id`."""
    if not s or not s.isascii() or not s.isdigit() or s[0] == "0":
        return None
    value = int(s)
    return value if value <= U64_MAX else None


def code(s, column):
    c = concept_id(trim(s))
    if c is None:
        raise Skip(Kind.UNMAPPABLE_CODE, f"column {column}: '{s}' is not a concept id")
    return c


def number(s, column):
    v = optional(s)
    if v is None:
        return None
    if _NUMBER.fullmatch(v):
        x = float(v)
        if math.isfinite(x):
            return x
    raise Skip(Kind.BAD_VALUE, f"column {column}: '{v}' is not a number")


class Mapper:
    """Turns the lines of each table into records. `filters` maps the events
    and medications tables to the request's `CodeFilter`; `warn(kind, file,
    line, message)` counts a warning for a line that is kept all the same."""

    def __init__(self, filters, warn):
        self.filters = filters
        self.warn = warn

    def map_row(self, table, fields, line):
        """A record, None for a line filtered out, or `Skip`. `fields` are
        the line's fields as `extractor.py` decodes them: a byte that is not
        part of UTF-8 text stands as a lone surrogate (Python's
        `surrogateescape`)."""
        columns = HEADERS[table]
        if len(fields) != len(columns):
            raise Skip(
                Kind.MALFORMED_LINE,
                f"{len(fields)} fields where the header has {len(columns)}",
            )
        # Filtering at the source: an event or medication in the table's
        # own code system whose code the request does not want at any date
        # is skipped before any other work (most lines of a real export
        # are such). Lines in another system cannot be filtered.
        wanted = self.filters.get(table)
        if (
            wanted is not None
            and not wanted.all
            and is_text(fields[SYSTEM_COLUMN[table]])
            and trim(fields[SYSTEM_COLUMN[table]]) == CODE_SYSTEMS[table][0]
        ):
            c = concept_id(trim(fields[CODE_COLUMN[table]]))
            if c is not None and c not in wanted.windows:
                return None
        for field, column in zip(fields, columns):
            if not is_text(field):
                raise Skip(Kind.MALFORMED_LINE, f"column {column} is not UTF-8 text")
        pid = trim(fields[0])
        if not pid:
            raise Skip(Kind.MALFORMED_LINE, "column PatientGuid is empty")
        # What two files joined into one look like: the second's byte-order
        # mark, or its header, at the start of a line.
        if "\ufeff" in pid:
            raise Skip(
                Kind.MALFORMED_LINE,
                "column PatientGuid holds a byte-order mark, which is allowed only at "
                "the start of the file (two files joined?)",
            )
        if pid == columns[0]:
            raise Skip(
                Kind.MALFORMED_LINE,
                "the header line again, inside the file (two files joined?)",
            )
        if table == Table.EVENTS:
            check_system(table, fields[2])
            d = date(fields[1], "EffectiveDate")
            c = code(fields[3], "Code")
            if not self.filters[table].wants(c, d):
                return None
            return types.Record_Event(
                types.Event(
                    patient_id=pid,
                    date=to_wit(d),
                    code=c,
                    value=number(fields[4], "NumericValue"),
                    unit=optional(fields[5]),
                )
            )
        if table == Table.MEDICATIONS:
            check_system(table, fields[2])
            d = date(fields[1], "IssueDate")
            c = code(fields[3], "Code")
            if not self.filters[table].wants(c, d):
                return None
            return types.Record_Medication(
                types.Medication(
                    patient_id=pid,
                    date=to_wit(d),
                    code=c,
                    quantity=number(fields[4], "Quantity"),
                )
            )
        if table == Table.PATIENTS:
            return self.patient(pid, fields, line)
        return registration(pid, fields)

    def patient(self, pid, f, line):
        """A bad NHS number, date or sex is dropped from the record with a
        warning, and the patient kept, so that counts do not move. A
        repeated id is `model.Patients`' to resolve, once the file is read."""
        file = FILE_NAMES[Table.PATIENTS]
        nhs_number = optional(f[1])
        if nhs_number is not None and not is_valid_nhs_number(nhs_number):
            self.warn(
                Kind.BAD_NHS_NUMBER,
                file,
                line,
                f"'{nhs_number}' fails the NHS number check; the number is left out",
            )
            nhs_number = None

        def optional_date(s, column):
            s = optional(s)
            if s is None:
                return None
            try:
                return to_wit(date(s, column))
            except Skip as e:
                self.warn(e.kind, file, line, f"{e.message}; the date is left out")
                return None

        date_of_birth = optional_date(f[2], "DateOfBirth")
        date_of_death = optional_date(f[5], "DateOfDeath")
        s = trim(f[3])
        sex = _SEXES.get(s)
        if sex is None:
            self.warn(
                Kind.BAD_VALUE,
                file,
                line,
                f"column Gender: '{s}' is not M, F, I or U; recorded as unknown",
            )
            sex = types.Sex.UNKNOWN
        return types.Record_Patient(
            types.Patient(
                id=pid,
                nhs_number=nhs_number,
                date_of_birth=date_of_birth,
                sex=sex,
                postcode=optional(f[4]),
                date_of_death=date_of_death,
                death_date_unknown=False,
            )
        )


def registration(pid, f):
    practice = trim(f[1])
    if not practice:
        raise Skip(Kind.MALFORMED_LINE, "column OrganisationOds is empty")
    start = date(f[2], "RegisteredDate")
    end = optional(f[3])
    if end is not None:
        end = date(end, "DeregisteredDate")
    _whole(start, "RegisteredDate", f[2])
    if end is not None:
        _whole(end, "DeregisteredDate", f[3])
        if end < start:
            raise Skip(
                Kind.BAD_DATE,
                f"DeregisteredDate {trim(f[3])} is before RegisteredDate {trim(f[2])}",
            )
    t = trim(f[4])
    kind = _REGISTRATION_TYPES.get(t)
    if kind is None:
        raise Skip(Kind.BAD_VALUE, f"column RegistrationType: '{t}' is not GMS or TEMP")
    return types.Record_Registration(
        types.Registration(
            patient_id=pid,
            practice=practice,
            start=to_wit(start),
            end=None if end is None else to_wit(end),
            kind=kind,
        )
    )


def _whole(d, column, s):
    if d[3] != DAY:
        raise Skip(Kind.BAD_DATE, f"column {column}: '{trim(s)}' is not a whole date")
