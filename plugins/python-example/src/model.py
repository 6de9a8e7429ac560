"""The common data model's rules, as `sdk/model` (gpes-model) states them:
checked calendar dates with a precision, the NHS number check, counted
warnings, and the request's code filters. Nothing here knows a supplier's
format; `csv_export_format.py` does.

A date is kept as a tuple `(year, month, day, precision)` with precision
0 (day), 1 (month) or 2 (year), the order of the WIT enum: tuples then
compare as gpes-model's `Date` does (by year, month, day, then precision).
"""

from wit_world.imports import types

DAY, MONTH, YEAR = 0, 1, 2

_PRECISIONS = (types.Precision.DAY, types.Precision.MONTH, types.Precision.YEAR)

# What Rust's `str::trim` removes: characters with the Unicode White_Space
# property. Python's own `str.strip()` also removes U+001C..U+001F, so it is
# never called without this argument.
WHITESPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)

U64_MAX = (1 << 64) - 1


class DateError(ValueError):
    """Why a date is not a calendar date; the message is gpes-model's."""


def days_in_month(year, month):
    if month in (1, 3, 5, 7, 8, 10, 12):
        return 31
    if month in (4, 6, 9, 11):
        return 30
    leap = (year % 4 == 0 and year % 100 != 0) or year % 400 == 0
    return 29 if leap else 28


def make_date(year, month, day, precision):
    """A checked date, or `DateError` with gpes-model's message."""
    if not 1 <= year <= 9999:
        raise DateError(f"year {year} is outside 1 to 9999")
    if not 1 <= month <= 12:
        raise DateError(f"month {month} is outside 1 to 12")
    if day < 1 or day > days_in_month(year, month):
        raise DateError(f"{year:04}-{month:02} has no day {day}")
    if precision == MONTH and day != 1:
        raise DateError("a date of month precision must have day 1")
    if precision == YEAR and (month != 1 or day != 1):
        raise DateError("a date of year precision must have month and day 1")
    return (year, month, day, precision)


def show_date(d):
    """A date as gpes-model displays it: YYYY-MM-DD, YYYY-MM or YYYY."""
    year, month, day, precision = d
    if precision == DAY:
        return f"{year:04}-{month:02}-{day:02}"
    if precision == MONTH:
        return f"{year:04}-{month:02}"
    return f"{year:04}"


def to_wit(d):
    return types.Date(year=d[0], month=d[1], day=d[2], precision=_PRECISIONS[d[3]])


def from_wit(d):
    """A request's date bound as a date, or None when it is impossible."""
    try:
        return make_date(d.year, d.month, d.day, d.precision.value)
    except DateError:
        return None


def is_valid_nhs_number(s):
    """Ten ASCII digits whose last is the modulus 11 check digit of the
    first nine (weights 10 down to 2; 10 is never valid, 11 means 0)."""
    if len(s) != 10 or not s.isascii() or not s.isdigit():
        return False
    total = sum(int(c) * w for c, w in zip(s[:9], range(10, 1, -1)))
    check = 11 - total % 11
    if check == 11:
        check = 0
    elif check == 10:
        return False
    return int(s[9]) == check


class Warnings:
    """Counted data-quality warnings: one per kind, file and reason (as the
    Rust SDK's `Warnings`), with the line and message of the first
    occurrence. `message` may be a function, called only for the first."""

    def __init__(self):
        self._by_key = {}

    def add(self, kind, file, line, message, reason=""):
        key = (kind.value, file, reason)
        w = self._by_key.get(key)
        if w is None:
            if callable(message):
                message = message()
            self._by_key[key] = types.Warning(
                kind=kind, count=1, file=file, line=line, message=message
            )
        else:
            w.count += 1

    def to_list(self):
        return [self._by_key[k] for k in sorted(self._by_key)]


# Lines named in a duplicate-patient warning's message; the count says how
# many in all.
_NAMED = 5
# Reasons duplicate-patient warnings are counted under, as the Rust SDK's.
_AGREE = "duplicate patient, lines agree"
_DIFFER = "duplicate patient, lines differ"


class _Entry:
    __slots__ = ("patient", "places", "differ")

    def __init__(self, patient, place):
        self.patient = patient
        self.places = [place]
        self.differ = False


class Patients:
    """The patient records of one table, held until it has been read whole
    (the Rust SDK's `Patients`, message for message). An id on more than
    one line is a duplicate-patient warning for every such line; if all its
    lines map to the same record the patient is kept once, else its patient
    record is left out."""

    def __init__(self, label):
        self.label = label
        self.files = []
        self.entries = {}

    def add(self, patient, file, line):
        """Collects a `types.Patient` mapped from `line` of `file`."""
        if file in self.files:
            f = self.files.index(file)
        else:
            self.files.append(file)
            f = len(self.files) - 1
        entry = self.entries.get(patient.id)
        if entry is None:
            self.entries[patient.id] = _Entry(patient, (f, line))
        else:
            if entry.patient != patient:
                entry.differ = True
            entry.places.append((f, line))

    def finish(self, warnings):
        """Counts a warning for every line of a repeated id and returns the
        patients to emit, in the order their ids were first read."""
        entries = list(self.entries.values())
        files = self.files
        self.entries = {}
        self.files = []
        repeated = sorted(
            (place, i)
            for i, e in enumerate(entries)
            if len(e.places) > 1
            for place in e.places
        )
        for (f, line), i in repeated:
            e = entries[i]
            warnings.add(
                types.WarningKind.DUPLICATE_PATIENT,
                files[f],
                line,
                lambda e=e: self._message(e, files),
                _DIFFER if e.differ else _AGREE,
            )
        return [e.patient for e in entries if not e.differ]

    def _message(self, e, files):
        one_file = all(f == e.places[0][0] for f, _ in e.places)
        named = [
            str(line) if one_file else f"{files[f]} line {line}"
            for f, line in e.places[:_NAMED]
        ]
        if len(e.places) > _NAMED:
            named.append(f"{len(e.places) - _NAMED} more")
        last = named.pop()
        listed = f"{', '.join(named)} and {last}" if named else last
        lines = f"lines {listed}" if one_file else listed
        if e.differ:
            outcome = "which differ: neither is used, so the patient has no patient record"
        else:
            outcome = "which agree: the patient is kept once"
        return (
            f"{self.label} '{e.patient.id}' is on {lines}, {outcome} "
            "(every line of a repeated id is counted)"
        )



class CodeFilter:
    """Codes wanted from one table, each with the date windows asked for it
    (bounds inclusive, None unbounded); `all` means the whole table."""

    def __init__(self):
        self.all = False
        self.windows = {}

    def add(self, code_set):
        """Adds a request's code set; an impossible date bound is an error
        message, else None."""
        bounds = []
        for bound in (code_set.earliest, code_set.latest):
            if bound is None:
                bounds.append(None)
                continue
            d = from_wit(bound)
            if d is None:
                return (
                    "the request has a code set with an impossible date bound "
                    f"{bound.year}-{bound.month}-{bound.day}"
                )
            bounds.append(d)
        window = (bounds[0], bounds[1])
        for code in code_set.codes:
            self.windows.setdefault(code, []).append(window)
        return None

    def wants(self, code, date):
        if self.all:
            return True
        for earliest, latest in self.windows.get(code, ()):
            if (earliest is None or date >= earliest) and (
                latest is None or date <= latest
            ):
                return True
        return False

    def is_empty(self):
        return not self.all and not self.windows
