"""A running extraction (the WIT resource `extractor.extraction`): opens the
files the request needs through the host's `data-source`, checks their
headers, and reads them one after the other as CSV, handing each line to
the format's `Mapper`. componentize-py looks for the exported resource's
class in the module named after its interface, hence this module's name.

This module knows CSV (RFC 4180, as Rust's `csv` crate reads it: blank
lines skipped, a UTF-8 byte order mark dropped, line numbers counting the
header as line 1) but not the supplier's file names, headers or fields:
those are `csv_export_format.py`'s.
"""

import csv
import io
import sys

from componentize_py_types import Err
from wit_world.exports import extractor
from wit_world.imports import data_source, types

import csv_export_format as fmt
from model import CodeFilter, Patients, Warnings

Table = types.Table

# Records returned in one batch: enough to amortise the call, small enough
# to keep the guest's memory flat (as the Rust plugin's).
BATCH = 1024
# Largest chunk asked of the host at once.
CHUNK = 64 * 1024
_BOM = b"\xef\xbb\xbf"

# A field may be as long as the file (Rust's csv crate has no limit either).
csv.field_size_limit(sys.maxsize)


def fail(file, message):
    return Err(types.ExtractError(message=f"{file}: {message}", file=file))


class SourceFailure(Exception):
    """The host could not hand over a file's bytes."""


class HostFile(io.RawIOBase):
    """A raw byte stream over a file handed out by the host's data source.
    A UTF-8 byte order mark at its very start is dropped."""

    def __init__(self, file):
        super().__init__()
        self._file = file
        self._first = True

    def readable(self):
        return True

    def readinto(self, buffer):
        want = min(len(buffer), CHUNK)
        try:
            chunk = self._file.read(want)
        except Err as e:
            raise SourceFailure(e.value.value) from None
        if len(chunk) > want:
            raise SourceFailure("host returned more bytes than asked")
        if self._first:
            self._first = False
            if chunk.startswith(_BOM):
                chunk = chunk[len(_BOM) :]
                if not chunk:
                    return self.readinto(buffer)
        buffer[: len(chunk)] = chunk
        return len(chunk)


class OpenTable:
    """One file being read: its CSV reader, positioned after the header."""

    def __init__(self, table, name, reader):
        self.table = table
        self.name = name
        self.reader = reader

    def next_row(self):
        """(line, fields) of the next non-blank line, or None at the end.
        `line` is where the line starts, counting from 1."""
        reader = self.reader
        while True:
            start = reader.line_num + 1
            row = next(reader, None)
            if row is None:
                return None
            if row:
                return start, row


def open_table(table):
    """Opens a table's file and checks its header; raises `Err` when the
    file is missing, unreadable, empty or has another header."""
    name = fmt.FILE_NAMES[table]
    try:
        file = data_source.open(name)
    except Err as e:
        if isinstance(e.value, data_source.SourceError_NotFound):
            raise fail(
                name,
                "the file is missing; the export must hold one file per table "
                "named in FORMAT.md",
            ) from None
        raise fail(name, f"could not be read: {e.value.value}") from None
    text = io.TextIOWrapper(
        io.BufferedReader(HostFile(file), CHUNK),
        encoding="utf-8",
        errors="surrogateescape",
        newline="",
    )
    opened = OpenTable(table, name, csv.reader(text, strict=False))
    expected = fmt.HEADERS[table]
    try:
        first = opened.next_row()
    except (SourceFailure, csv.Error) as e:
        raise fail(name, f"could not read the header line: {e}") from None
    got = [] if first is None else first[1]
    if not "".join(got):
        raise fail(
            name,
            f"the file is empty; expected a header line '{','.join(expected)}'",
        )
    if not all(fmt.is_text(h) for h in got):
        raise fail(name, "the header line is not UTF-8; the export must be UTF-8 text")
    if tuple(got) != expected:
        raise fail(
            name,
            f"the header line is '{','.join(got)}'; expected '{','.join(expected)}'",
        )
    return opened


class State:
    """What one extraction knows: the files still to read, the request's
    filters, the counts and the warnings."""

    def __init__(self, request):
        filters = {Table.EVENTS: CodeFilter(), Table.MEDICATIONS: CodeFilter()}
        for t in request.tables:
            if t in filters:
                filters[t].all = True
        for code_set in request.code_sets:
            f = filters.get(code_set.table)
            if f is not None:
                problem = f.add(code_set)
                if problem is not None:
                    raise Err(types.ExtractError(message=problem, file=None))
        wanted = [
            (Table.PATIENTS, Table.PATIENTS in request.tables),
            (Table.REGISTRATIONS, Table.REGISTRATIONS in request.tables),
            (Table.EVENTS, not filters[Table.EVENTS].is_empty()),
            (Table.MEDICATIONS, not filters[Table.MEDICATIONS].is_empty()),
        ]
        # Every file the request needs is opened (and its header checked)
        # before any record is returned; the others are never opened.
        self.pending = [open_table(t) for t, needed in wanted if needed]
        self.pending.reverse()
        self.warnings = Warnings()
        self.mapper = fmt.Mapper(filters, self.warnings.add)
        # Patient lines are held until Patient.csv has been read whole (a
        # repeated id is resolved only then), then returned from `ready`.
        self.patients = Patients("PatientGuid")
        self.ready = []
        self.records_read = 0
        self.records_mapped = 0

    def next_batch(self):
        batch = []
        map_row = self.mapper.map_row
        while len(batch) < BATCH and (self.ready or self.pending):
            if self.ready:
                batch.append(types.Record_Patient(self.ready.pop()))
                self.records_mapped += 1
                continue
            open_ = self.pending[-1]
            try:
                got = open_.next_row()
            except (SourceFailure, csv.Error) as e:
                raise fail(open_.name, f"could not be read: {e}") from None
            if got is None:
                self.pending.pop()
                if open_.table == Table.PATIENTS:
                    self.ready = self.patients.finish(self.warnings)
                    self.ready.reverse()
                continue
            line, fields = got
            self.records_read += 1
            try:
                record = map_row(open_.table, fields, line)
            except fmt.Skip as skip:
                self.warnings.add(skip.kind, open_.name, line, skip.message)
                continue
            if isinstance(record, types.Record_Patient):
                self.patients.add(record.value, open_.name, line)
            elif record is not None:
                self.records_mapped += 1
                batch.append(record)
        if not batch and not self.pending and not self.ready:
            return None
        return batch

    def summary(self):
        return types.Summary(
            records_read=self.records_read,
            records_mapped=self.records_mapped,
            warnings=self.warnings.to_list(),
        )


def internal_error(e):
    """A fault in this plugin's own code, reported as a failed extraction
    rather than a trap."""
    return Err(
        types.ExtractError(
            message=f"the python-example plugin failed: {type(e).__name__}: {e}",
            file=None,
        )
    )


class Extraction(extractor.Extraction):
    def __init__(self, state):
        self._state = state

    def next_batch(self):
        try:
            return self._state.next_batch()
        except Err:
            raise
        except Exception as e:
            raise internal_error(e) from None

    def finish(self):
        return self._state.summary()
