#!/usr/bin/env python3
"""Writes the patient-JSON format (FORMAT.md) from the conformance kit's
JSON lines of model records (sdk/MODEL.md): the supplier's side of

    gpes-plugin conformance PLUGIN --writer "python3 writer.py"

usage: writer.py [--lossy] IN.jsonl OUTDIR

--lossy leaves out every observation's value, as a careless export would;
the kit must report it.
"""
import json
import os
import sys

GENDER = {"male": "M", "female": "F", "other": "I", "unknown": "U"}


def iso(d):
    if d is None:
        return None
    if d["precision"] == "day":
        return "%04d-%02d-%02d" % (d["year"], d["month"], d["day"])
    if d["precision"] == "month":
        return "%04d-%02d" % (d["year"], d["month"])
    return "%04d" % d["year"]


def main():
    args = sys.argv[1:]
    lossy = "--lossy" in args
    args = [a for a in args if a != "--lossy"]
    if len(args) != 2:
        sys.exit("usage: writer.py [--lossy] IN.jsonl OUTDIR")
    source, out = args
    patients = {}
    order = []
    with open(source, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            r = json.loads(line)
            table = r["table"]
            if table == "patient":
                died = "unknown" if r.get("death_date_unknown") else iso(r["date_of_death"])
                patients[r["id"]] = {
                    "guid": r["id"],
                    "nhs": r["nhs_number"],
                    "born": iso(r["date_of_birth"]),
                    "gender": GENDER[r["sex"]],
                    "postcode": r["postcode"],
                    "died": died,
                    "registrations": [],
                    "observations": [],
                    "prescriptions": [],
                }
                order.append(r["id"])
                continue
            p = patients.get(r["patient_id"])
            if p is None:
                sys.exit(f"line {n}: a {table} for patient {r['patient_id']}, who has no patient record")
            if table == "registration":
                p["registrations"].append(
                    {"ods": r["practice"], "from": iso(r["start"]), "to": iso(r["end"]), "type": r["kind"]}
                )
            elif table == "event":
                p["observations"].append(
                    {"when": iso(r["date"]), "snomed": str(r["code"]),
                     "value": None if lossy else r["value"], "unit": r["unit"]}
                )
            elif table == "medication":
                p["prescriptions"].append(
                    {"when": iso(r["date"]), "dmd": str(r["code"]), "qty": r["quantity"]}
                )
            else:
                sys.exit(f"line {n}: unknown table {table!r}")
    with open(os.path.join(out, "patients.jsonl"), "w", encoding="utf-8") as f:
        for pid in order:
            f.write(json.dumps(patients[pid], separators=(",", ":")))
            f.write("\n")


if __name__ == "__main__":
    main()
