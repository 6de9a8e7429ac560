"""Everything particular to the patient-JSON format (FORMAT.md): the file's
name, and how one patient's line becomes records of the common data model.
A field that cannot be used is a `Skip` (the record is left out and counted)
or, on the patient, left out with a warning."""

from wit_world.imports import types

from model import DAY, MONTH, YEAR, DateError, is_valid_nhs_number, make_date, to_wit

Kind = types.WarningKind
FILE_NAME = "patients.jsonl"

_SEXES = {
    "M": types.Sex.MALE,
    "F": types.Sex.FEMALE,
    "I": types.Sex.OTHER,
    "U": types.Sex.UNKNOWN,
}
_KINDS = {"regular": types.RegistrationType.REGULAR, "temporary": types.RegistrationType.TEMPORARY}


class Skip(Exception):
    """A record left out, counted as a warning of `kind`."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind
        self.message = message


def iso_date(s, field):
    """`YYYY-MM-DD`, `YYYY-MM` or `YYYY` as a checked date."""
    if not isinstance(s, str):
        raise Skip(Kind.BAD_DATE, f"{field}: expected a date as text, found {s!r}")
    parts = s.split("-")
    try:
        if len(parts) == 3 and [len(p) for p in parts] == [4, 2, 2]:
            return make_date(int(parts[0]), int(parts[1]), int(parts[2]), DAY)
        if len(parts) == 2 and [len(p) for p in parts] == [4, 2]:
            return make_date(int(parts[0]), int(parts[1]), 1, MONTH)
        if len(parts) == 1 and len(parts[0]) == 4:
            return make_date(int(parts[0]), 1, 1, YEAR)
    except (ValueError, DateError) as e:
        raise Skip(Kind.BAD_DATE, f"{field}: '{s}' is not a date: {e}") from None
    raise Skip(Kind.BAD_DATE, f"{field}: '{s}' is not YYYY-MM-DD, YYYY-MM or YYYY")


def concept(s, field):
    if isinstance(s, str) and s.isascii() and s.isdigit() and 6 <= len(s) <= 18 and s[0] != "0":
        return int(s)
    raise Skip(Kind.UNMAPPABLE_CODE, f"{field}: {s!r} is not a concept id")


def number(x, field):
    if x is None:
        return None
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise Skip(Kind.BAD_VALUE, f"{field}: {x!r} is not a number")
    return float(x)


def text(x):
    return x if isinstance(x, str) and x.strip() else None


def patient(obj, warn):
    """The patient record of one line; bad optional fields are left out
    with a warning (`warn(kind, message)`)."""
    pid = text(obj.get("guid"))
    if pid is None:
        raise Skip(Kind.MALFORMED_LINE, "the line has no 'guid'")
    nhs = text(obj.get("nhs"))
    if nhs is not None and not is_valid_nhs_number(nhs):
        warn(Kind.BAD_NHS_NUMBER, f"'{nhs}' fails the NHS number check; the number is left out")
        nhs = None

    def optional_date(field):
        v = obj.get(field)
        if v is None:
            return None
        try:
            return to_wit(iso_date(v, field))
        except Skip as e:
            warn(e.kind, f"{e.message}; the date is left out")
            return None

    unknown_death = obj.get("died") == "unknown"
    sex = _SEXES.get(obj.get("gender"))
    if sex is None:
        warn(Kind.BAD_VALUE, f"gender: {obj.get('gender')!r} is not M, F, I or U; recorded as unknown")
        sex = types.Sex.UNKNOWN
    return pid, types.Record_Patient(
        types.Patient(
            id=pid,
            nhs_number=nhs,
            date_of_birth=optional_date("born"),
            sex=sex,
            postcode=text(obj.get("postcode")),
            date_of_death=None if unknown_death else optional_date("died"),
            death_date_unknown=unknown_death,
        )
    )


def registration(pid, r):
    ods = text(r.get("ods"))
    if ods is None:
        raise Skip(Kind.MALFORMED_LINE, "a registration has no 'ods'")
    start = iso_date(r.get("from"), "registrations.from")
    end = r.get("to")
    end = None if end is None else iso_date(end, "registrations.to")
    if start[3] != DAY or (end is not None and end[3] != DAY):
        raise Skip(Kind.BAD_DATE, "a registration's dates must be whole dates")
    if end is not None and end < start:
        raise Skip(Kind.BAD_DATE, "a registration ends before it starts")
    kind = _KINDS.get(r.get("type"))
    if kind is None:
        raise Skip(Kind.BAD_VALUE, f"registrations.type: {r.get('type')!r} is not regular or temporary")
    return types.Record_Registration(
        types.Registration(
            patient_id=pid,
            practice=ods,
            start=to_wit(start),
            end=None if end is None else to_wit(end),
            kind=kind,
        )
    )


def observation(pid, o, wanted):
    code = concept(o.get("snomed"), "observations.snomed")
    if not wanted.all and code not in wanted.windows:
        return None
    d = iso_date(o.get("when"), "observations.when")
    if not wanted.wants(code, d):
        return None
    return types.Record_Event(
        types.Event(
            patient_id=pid,
            date=to_wit(d),
            code=code,
            value=number(o.get("value"), "observations.value"),
            unit=text(o.get("unit")),
        )
    )


def prescription(pid, m, wanted):
    code = concept(m.get("dmd"), "prescriptions.dmd")
    if not wanted.all and code not in wanted.windows:
        return None
    d = iso_date(m.get("when"), "prescriptions.when")
    if not wanted.wants(code, d):
        return None
    return types.Record_Medication(
        types.Medication(
            patient_id=pid,
            date=to_wit(d),
            code=code,
            quantity=number(m.get("qty"), "prescriptions.qty"),
        )
    )
