"""A running extraction (the WIT resource `extractor.extraction`): opens
`patients.jsonl` through the host's `data-source` and reads it one line,
one patient, at a time, handing out the records of the tables the request
needs. componentize-py looks for the exported resource's class in the
module named after its interface, hence this module's name."""

import io
import json

from componentize_py_types import Err
from wit_world.exports import extractor
from wit_world.imports import data_source, types

import patient_json_format as fmt
from model import CodeFilter, Warnings

Table = types.Table
BATCH = 1024
CHUNK = 64 * 1024


def fail(file, message):
    return Err(types.ExtractError(message=f"{file}: {message}", file=file))


class SourceFailure(Exception):
    """The host could not hand over the file's bytes."""


class HostFile(io.RawIOBase):
    """A raw byte stream over a file handed out by the host."""

    def __init__(self, file):
        super().__init__()
        self._file = file

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
        buffer[: len(chunk)] = chunk
        return len(chunk)


class State:
    def __init__(self, request):
        self.filters = {Table.EVENTS: CodeFilter(), Table.MEDICATIONS: CodeFilter()}
        for t in request.tables:
            if t in self.filters:
                self.filters[t].all = True
        for code_set in request.code_sets:
            f = self.filters.get(code_set.table)
            if f is not None:
                problem = f.add(code_set)
                if problem is not None:
                    raise Err(types.ExtractError(message=problem, file=None))
        self.patients = Table.PATIENTS in request.tables
        self.registrations = Table.REGISTRATIONS in request.tables
        self.warnings = Warnings()
        self.records_read = 0
        self.records_mapped = 0
        self.seen = set()
        self.line = 0
        try:
            file = data_source.open(fmt.FILE_NAME)
        except Err as e:
            if isinstance(e.value, data_source.SourceError_NotFound):
                raise fail(fmt.FILE_NAME, "the file is missing; the export is one file, patients.jsonl") from None
            raise fail(fmt.FILE_NAME, f"could not be read: {e.value.value}") from None
        # Bytes, a line at a time, each decoded on its own: a byte that is
        # not UTF-8 is then reported on its own line (a text wrapper decodes
        # whole chunks ahead of the lines, and would name the wrong one).
        self.raw = io.BufferedReader(HostFile(file), CHUNK)
        self.done = False

    def warn(self, kind, message):
        self.warnings.add(kind, fmt.FILE_NAME, self.line, message)

    def records_of(self, obj):
        """The records of one patient's line the request asks for."""
        pid, patient = fmt.patient(obj, self.warn)
        if pid in self.seen:
            raise fmt.Skip(types.WarningKind.DUPLICATE_PATIENT, f"patient {pid} is on an earlier line too")
        self.seen.add(pid)
        out = []
        if self.patients:
            out.append(patient)
        nested = [
            ("registrations", self.registrations, lambda r: fmt.registration(pid, r)),
            ("observations", not self.filters[Table.EVENTS].is_empty(),
             lambda o: fmt.observation(pid, o, self.filters[Table.EVENTS])),
            ("prescriptions", not self.filters[Table.MEDICATIONS].is_empty(),
             lambda m: fmt.prescription(pid, m, self.filters[Table.MEDICATIONS])),
        ]
        for key, wanted, make in nested:
            items = obj.get(key) or []
            if not isinstance(items, list):
                self.warn(types.WarningKind.MALFORMED_LINE, f"'{key}' is not a list; left out")
                continue
            if not wanted:
                continue
            for item in items:
                self.records_read += 1
                try:
                    r = make(item if isinstance(item, dict) else {})
                except fmt.Skip as skip:
                    self.warn(skip.kind, skip.message)
                    continue
                if r is not None:
                    out.append(r)
        return out

    def next_batch(self):
        batch = []
        while len(batch) < BATCH and not self.done:
            try:
                raw = self.raw.readline()
            except SourceFailure as e:
                raise fail(fmt.FILE_NAME, f"could not be read: {e}") from None
            if not raw:
                self.done = True
                break
            self.line += 1
            try:
                line = raw.decode("utf-8", errors="strict")
            except UnicodeDecodeError as e:
                raise fail(
                    fmt.FILE_NAME,
                    f"line {self.line} is not UTF-8 (byte {e.start + 1} of the line: {e.reason})",
                ) from None
            if self.line == 1:
                line = line.removeprefix("\ufeff")
            if not line.strip():
                continue
            self.records_read += 1
            try:
                obj = json.loads(line)
                if not isinstance(obj, dict):
                    raise fmt.Skip(types.WarningKind.MALFORMED_LINE, "the line is not a JSON object")
                records = self.records_of(obj)
            except json.JSONDecodeError as e:
                self.warn(types.WarningKind.MALFORMED_LINE, f"not JSON: {e}")
                continue
            except fmt.Skip as skip:
                self.warn(skip.kind, skip.message)
                continue
            self.records_mapped += len(records)
            batch.extend(records)
        if not batch and self.done:
            return None
        return batch

    def summary(self):
        return types.Summary(
            records_read=self.records_read,
            records_mapped=self.records_mapped,
            warnings=self.warnings.to_list(),
        )


def internal_error(e):
    return Err(
        types.ExtractError(
            message=f"the python-patient-json plugin failed: {type(e).__name__}: {e}",
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
