#!/usr/bin/env python3
"""A conformance writer (gpes-plugin conformance --writer): reads the kit's
practice as JSON lines of model records (sdk/MODEL.md) and writes it in the
csv-export format (plugins/csv-export/FORMAT.md), so the csv-export plugin
can be proved through --writer as a supplier would prove their own format.

usage: jsonl_to_csv_export.py [--lossy] IN.jsonl OUTDIR

--lossy drops every observation's value: a writer (or a format) that loses
data, which the kit must catch.
"""
import csv
import json
import os
import sys

SEX = {"male": "M", "female": "F", "other": "I", "unknown": "U"}
KIND = {"regular": "GMS", "temporary": "TEMP"}


def date(d):
    if d is None:
        return ""
    if d["precision"] == "day":
        return "%02d/%02d/%04d" % (d["day"], d["month"], d["year"])
    if d["precision"] == "month":
        return "%02d/%04d" % (d["month"], d["year"])
    return "%04d" % d["year"]


def number(x):
    if x is None:
        return ""
    return repr(int(x)) if float(x).is_integer() else repr(x)


def main():
    args = sys.argv[1:]
    lossy = "--lossy" in args
    args = [a for a in args if a != "--lossy"]
    if len(args) != 2:
        sys.exit("usage: jsonl_to_csv_export.py [--lossy] IN.jsonl OUTDIR")
    source, out = args
    files = {
        "patient": ("Patient.csv", ["PatientGuid", "NhsNumber", "DateOfBirth", "Gender", "Postcode", "DateOfDeath"]),
        "registration": ("Registration.csv", ["PatientGuid", "OrganisationOds", "RegisteredDate", "DeregisteredDate", "RegistrationType"]),
        "event": ("Observation.csv", ["PatientGuid", "EffectiveDate", "CodeSystem", "Code", "NumericValue", "NumericUnit"]),
        "medication": ("Medication.csv", ["PatientGuid", "IssueDate", "CodeSystem", "Code", "Quantity"]),
    }
    handles = {}
    writers = {}
    for table, (name, header) in files.items():
        handles[table] = open(os.path.join(out, name), "w", newline="", encoding="utf-8")
        writers[table] = csv.writer(handles[table], lineterminator="\n")
        writers[table].writerow(header)
    with open(source, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            r = json.loads(line)
            table = r["table"]
            if table == "patient":
                if r.get("death_date_unknown"):
                    sys.exit(f"line {n}: a death on an unknown date cannot be written")
                row = [r["id"], r["nhs_number"] or "", date(r["date_of_birth"]), SEX[r["sex"]],
                       r["postcode"] or "", date(r["date_of_death"])]
            elif table == "registration":
                row = [r["patient_id"], r["practice"], date(r["start"]), date(r["end"]), KIND[r["kind"]]]
            elif table == "event":
                value = None if lossy else r["value"]
                row = [r["patient_id"], date(r["date"]), "SNOMED", str(r["code"]), number(value), r["unit"] or ""]
            elif table == "medication":
                row = [r["patient_id"], date(r["date"]), "DMD", str(r["code"]), number(r["quantity"])]
            else:
                sys.exit(f"line {n}: unknown table {table!r}")
            writers[table].writerow(row)
    for h in handles.values():
        h.close()


if __name__ == "__main__":
    main()
