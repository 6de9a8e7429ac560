"""Writes the small demo practices and prints, per practice, the patients
registered on 2025-03-31 by the rules of sdk/query/src/registered.rs,
computed here independently of the engine. Deterministic (fixed seeds)."""
import datetime
import os
import random

REF = datetime.date(2025, 3, 31)
HERE = os.path.dirname(os.path.abspath(__file__))


def nhs(rng):
    while True:
        p = "".join(str(rng.randrange(10)) for _ in range(9))
        if p[0] == "0":
            continue
        t = sum(int(d) * w for d, w in zip(p, range(10, 1, -1)))
        r = 11 - t % 11
        if r == 10:
            continue
        return p + str(0 if r == 11 else r)


def d(x):
    """A date as the csv-export format (version 1) writes it."""
    return x.strftime("%d/%m/%Y")


def parse(s):
    return datetime.datetime.strptime(s, "%d/%m/%Y").date()


summary = []
for code, n, seed in [("A81001", 60, 1), ("B82002", 45, 2), ("C83003", 30, 3)]:
    rng = random.Random(seed)
    os.makedirs(os.path.join(HERE, code), exist_ok=True)
    P, R, count = [], [], 0
    for i in range(1, n + 1):
        pid = f"{code[0].lower()}{i:04d}"
        dob = datetime.date(1930, 1, 1) + datetime.timedelta(days=rng.randrange(0, 34000))
        sex = rng.choice(
            ["M", "F", "F", "M", "I", "U"]
            if rng.random() < 0.02
            else ["M", "F"]
        )
        death = ""
        if rng.random() < 0.06:
            death = d(datetime.date(2020, 1, 1) + datetime.timedelta(days=rng.randrange(0, 2200)))
        P.append((pid, nhs(rng), d(dob), sex, f"LS{rng.randrange(1, 30)} {rng.randrange(1, 9)}AB", death))
        start = max(dob, datetime.date(1990, 1, 1)) + datetime.timedelta(days=rng.randrange(0, 12000))
        if start > datetime.date(2025, 12, 31):
            start = datetime.date(2025, 6, 1)
        end = ""
        if rng.random() < 0.12:
            end = d(start + datetime.timedelta(days=rng.randrange(1, 4000)))
        kind = "TEMP" if rng.random() < 0.05 else "GMS"
        prac = code if rng.random() > 0.04 else "Z99999"
        R.append((pid, prac, d(start), end, kind))
        covers = (
            kind == "GMS"
            and prac == code
            and start <= REF
            and (end == "" or REF < parse(end))
        )
        dead = death != "" and parse(death) <= REF
        if covers and not dead:
            count += 1
    with open(os.path.join(HERE, code, "Patient.csv"), "w") as f:
        f.write("PatientGuid,NhsNumber,DateOfBirth,Gender,Postcode,DateOfDeath\n")
        for p in P:
            f.write(",".join(p) + "\n")
    with open(os.path.join(HERE, code, "Registration.csv"), "w") as f:
        f.write("PatientGuid,OrganisationOds,RegisteredDate,DeregisteredDate,RegistrationType\n")
        for r in R:
            f.write(",".join(r) + "\n")
    # No clinical events in these small practices; the files are there
    # (header only) because a whole export has all four tables.
    with open(os.path.join(HERE, code, "Observation.csv"), "w") as f:
        f.write("PatientGuid,EffectiveDate,CodeSystem,Code,NumericValue,NumericUnit\n")
    with open(os.path.join(HERE, code, "Medication.csv"), "w") as f:
        f.write("PatientGuid,IssueDate,CodeSystem,Code,Quantity\n")
    summary.append((code, n, count))
for code, n, count in summary:
    print(f"{code}: {n} patients, {count} registered on {REF}")
