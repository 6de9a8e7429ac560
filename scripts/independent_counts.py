#!/usr/bin/env python3
"""Counts the example indicators over a practice in the csv-export format
with DuckDB, written from the business rules and sdk/query/SPEC.md, sharing
no code with the engine (only the published code lists, read from
examples/queries/codelists/). Prints JSON: each population's count
{"DM_REG": n, "HYP_REG": n, ...} and, for each indicator with ordered
rules, the rule that decided each patient, counted: {"DM020_RULES":
{"r1": n, "s2": n, ..., "s_end": n}, ...} ("rN" rejected at rule N, "sN"
selected at rule N, "s_end" selected by the last rule's else).

With --patients, also "PATIENTS": {population: [patient ids, sorted]}, for
a check patient by patient.

usage: independent_counts.py PRACTICE_DIR ODS_CODE PPED(YYYY-MM-DD) [--patients]
"""
import calendar
import csv
import datetime
import json
import pathlib
import sys
import time

import duckdb

CODELISTS = pathlib.Path(__file__).resolve().parent.parent / "examples/queries/codelists"


def add_months(d, n):
    """SPEC.md 5: keep the day, clamped to the end of the resulting month."""
    m = d.month - 1 + n
    y = d.year + m // 12
    m = m % 12 + 1
    return datetime.date(y, m, min(d.day, calendar.monthrange(y, m)[1]))


def codes(name):
    """A code list (codelists/NAME.csv, OpenCodelists layout) as a SQL list."""
    with open(CODELISTS / f"{name}.csv", newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    assert rows[0][:2] == ["code", "term"], name
    got = sorted({r[0].strip() for r in rows[1:] if r and r[0].strip()})
    assert got, name
    return "(" + ",".join(f"'{c}'" for c in got) + ")"


# Who is in each population (filled as the populations are worked out).
MEMBERS = {}


def members(db, name, table, where="true"):
    """Records `name`'s patients (those of `table` meeting `where`) and
    returns how many there are."""
    ids = sorted(r[0] for r in db.execute(f"SELECT patient_id FROM {table} WHERE {where}").fetchall())
    MEMBERS[name] = ids
    return len(ids)


def rule_counts(db, table, rule, numerator, params=None, name=None):
    """{decided: count} of `rule` (a CASE giving 'rN', 'sN' or 's_end') over
    `table`, and the denominator (selected) and numerator counts; with
    `name`, the patients of NAME_DEN and NAME_NUM are recorded."""
    sql = f"SELECT patient_id, {rule} AS decided, coalesce({numerator}, false) FROM {table}"
    given = {k: v for k, v in (params or {}).items() if f"${k}" in sql}
    rules, den, num = {}, [], []
    for pid, decided, met in db.execute(sql, given).fetchall():
        rules[decided] = rules.get(decided, 0) + 1
        if decided.startswith("s"):
            den.append(pid)
            if met:
                num.append(pid)
    if name:
        MEMBERS[f"{name}_DEN"], MEMBERS[f"{name}_NUM"] = sorted(den), sorted(num)
    return rules, len(den), len(num)


def main():
    folder, practice, pped_text = sys.argv[1], sys.argv[2], sys.argv[3]
    pped = datetime.date.fromisoformat(pped_text)
    params = {
        "pped": pped,
        "practice": practice,
        "year_ago": add_months(pped, -12) + datetime.timedelta(days=1),
        "twelve": add_months(pped, -12),
        "three": add_months(pped, -3),
        "nine": add_months(pped, -9),
        "season_start": datetime.date(pped.year - 1, 9, 1),
    }
    started = time.perf_counter()
    db = duckdb.connect()
    # FORMAT.md dates: DD/MM/YYYY, or a partial date (MM/YYYY or YYYY),
    # which is the first day of its period.
    db.execute(
        """CREATE MACRO d(s) AS CASE length(s)
             WHEN 10 THEN CAST(strptime(s, '%d/%m/%Y') AS DATE)
             WHEN 7 THEN CAST(strptime('01/' || s, '%d/%m/%Y') AS DATE)
             WHEN 4 THEN CAST(strptime('01/01/' || s, '%d/%m/%Y') AS DATE) END"""
    )
    opts = "header = true, all_varchar = true"
    for t, f in [("p", "Patient"), ("r", "Registration"), ("e", "Observation"), ("m", "Medication")]:
        db.execute(f"CREATE TABLE {t} AS SELECT * FROM read_csv('{folder}/{f}.csv', {opts})")
    db.execute(
        "CREATE TABLE ev AS SELECT PatientGuid AS patient_id, d(EffectiveDate) AS dt, "
        "Code AS code, TRY_CAST(nullif(NumericValue, '') AS DOUBLE) AS val "
        "FROM e WHERE CodeSystem = 'SNOMED' AND d(EffectiveDate) <= $pped",
        {"pped": pped},
    )
    db.execute(
        "CREATE TABLE med AS SELECT PatientGuid AS patient_id, d(IssueDate) AS dt, "
        "Code AS code FROM m WHERE CodeSystem = 'DMD' AND d(IssueDate) <= $pped",
        {"pped": pped},
    )

    def latest(cluster, lo=None):
        w = f" AND dt >= {lo}" if lo else ""
        return f"max(dt) FILTER (WHERE code IN {codes(cluster)}{w})"

    def earliest(cluster, lo=None):
        w = f" AND dt >= {lo}" if lo else ""
        return f"min(dt) FILTER (WHERE code IN {codes(cluster)}{w})"

    # Per patient, every date the rules read (everything up to PPED).
    db.execute(
        f"""CREATE TABLE lat AS SELECT patient_id,
          {latest('dm_cod')} AS dmlat, {earliest('dm_cod')} AS dmfirst,
          {latest('dmres_cod')} AS dmres,
          {latest('hyp_cod')} AS hyplat, {earliest('hyp_cod')} AS hypfirst,
          {latest('hypres_cod')} AS hypres,
          {latest('htmax_cod')} AS htmax, {latest('hyppcapu_cod')} AS hyppcapu,
          {latest('bpdec_cod')} AS bpdec, {latest('hyppcadec_cod')} AS hyppcadec,
          {earliest('hypinvite_cod', '$year_ago')} AS hypinv1,
          {latest('ast_cod')} AS astlat, {earliest('ast_cod')} AS astfirst,
          {latest('astres_cod')} AS astres,
          {latest('rev_cod', '$year_ago')} AS rev,
          {latest('astpcapu_cod')} AS astpcapu, {latest('astmondec_cod')} AS astmondec,
          {latest('astpcadec_cod')} AS astpcadec,
          {earliest('astinvite_cod', '$year_ago')} AS astinv1,
          {earliest('chd_cod')} AS chdfirst,
          {latest('afib_cod')} AS aflat, {latest('afibres_cod')} AS afres,
          {latest('mildfrail_cod')} AS mild, {latest('modfrail_cod')} AS moderate,
          {latest('sevfrail_cod')} AS severe,
          {latest('serfruc_cod', '$year_ago')} AS serfruc,
          {latest('dmmax_cod')} AS dmmax, {latest('dmpcapu_cod')} AS dmpcapu,
          {latest('bldtestdec_cod')} AS bldtestdec, {latest('dmpcadec_cod')} AS dmpcadec,
          {earliest('dminvite_cod', '$year_ago')} AS dminv1,
          {latest('lsmok_cod')} AS lsmok, {latest('exsmok_cod')} AS exsmok,
          {latest('nsmok_cod')} AS nsmok,
          {latest('flu_cod', '$season_start')} AS flu
        FROM ev GROUP BY patient_id""",
        {"year_ago": params["year_ago"], "season_start": params["season_start"]},
    )
    # Second invitations: the earliest at least 7 days after the first.
    for name, cluster in [("hypinv", "hypinvite_cod"), ("astinv", "astinvite_cod"), ("dminv", "dminvite_cod")]:
        db.execute(
            f"""CREATE TABLE {name}2 AS SELECT lat.patient_id, min(ev.dt) AS {name}2
            FROM lat JOIN ev USING (patient_id)
            WHERE ev.code IN {codes(cluster)} AND ev.dt >= lat.{name}1 + INTERVAL 7 DAY
            GROUP BY lat.patient_id"""
        )
    sys_codes, dia_codes = codes("sysbp_cod"), codes("diabp_cod")
    db.execute(
        f"""CREATE TABLE bp AS
        WITH bpdays AS (  -- days with both a systolic and a diastolic value
          SELECT patient_id, dt,
            min(val) FILTER (WHERE code IN {sys_codes}) AS sys,
            min(val) FILTER (WHERE code IN {dia_codes}) AS dia
          FROM ev WHERE (code IN {sys_codes} OR code IN {dia_codes}) AND val IS NOT NULL
          GROUP BY patient_id, dt)
        SELECT patient_id, dt AS bp_dat, sys, dia FROM (
          SELECT *, row_number() OVER (PARTITION BY patient_id ORDER BY dt DESC) AS n
          FROM bpdays WHERE sys IS NOT NULL AND dia IS NOT NULL)
        WHERE n = 1"""
    )
    db.execute(
        f"""CREATE TABLE hba AS  -- latest HbA1c with a value in the year; lowest on a tie
        SELECT patient_id, max(dt) AS ifcc_dat, min(val) AS ifcc_val FROM (
          SELECT patient_id, dt, val, max(dt) OVER (PARTITION BY patient_id) AS last_dt
          FROM ev WHERE code IN {codes('ifcchbam_cod')} AND val IS NOT NULL AND dt >= $year_ago)
        WHERE dt = last_dt GROUP BY patient_id""",
        {"year_ago": params["year_ago"]},
    )
    db.execute(
        f"""CREATE TABLE review AS  -- what was recorded with the latest review
        SELECT lat.patient_id,
          bool_or(ev.code IN {codes('writpastp_cod')} AND ev.dt = lat.rev) AS plan,
          bool_or(ev.code IN {codes('astcontass_cod')}
                  AND ev.dt BETWEEN lat.rev - INTERVAL 1 MONTH AND lat.rev) AS control,
          bool_or(ev.code IN {codes('astexacb_cod')}
                  AND ev.dt BETWEEN lat.rev - INTERVAL 1 MONTH AND lat.rev) AS exac
        FROM lat JOIN ev USING (patient_id) WHERE lat.rev IS NOT NULL
        GROUP BY lat.patient_id"""
    )
    db.execute(
        f"""CREATE TABLE trt AS SELECT DISTINCT patient_id FROM med
        WHERE code IN {codes('asttrt_cod')} AND dt >= $year_ago""",
        {"year_ago": params["year_ago"]},
    )
    db.execute(
        """CREATE TABLE base AS
        WITH pat AS (
          SELECT PatientGuid AS patient_id, d(nullif(DateOfBirth, '')) AS dob,
                 d(nullif(DateOfDeath, '')) AS dod
          FROM p),
        reg AS (  -- regular registrations at the practice covering PPED
          SELECT PatientGuid AS patient_id, max(d(RegisteredDate)) AS reg_dat
          FROM r
          WHERE RegistrationType = 'GMS' AND OrganisationOds = $practice
            AND d(RegisteredDate) <= $pped
            AND (coalesce(DeregisteredDate, '') = '' OR d(DeregisteredDate) > $pped)
          GROUP BY PatientGuid)
        SELECT pat.patient_id, reg.reg_dat,
          CASE WHEN pat.dob IS NULL OR pat.dob > $pped THEN NULL ELSE
            year($pped) - year(pat.dob)
            - CASE WHEN (month($pped), day($pped)) < (month(pat.dob), day(pat.dob)) THEN 1 ELSE 0 END
          END AS age,
          lat.*, hypinv2.hypinv2, astinv2.astinv2, dminv2.dminv2,
          bp.bp_dat, bp.sys, bp.dia, hba.ifcc_dat, hba.ifcc_val,
          coalesce(review.plan, false) AS plan, coalesce(review.control, false) AS control,
          coalesce(review.exac, false) AS exac,
          trt.patient_id IS NOT NULL AS treated
        FROM pat
        JOIN reg USING (patient_id)
        LEFT JOIN lat USING (patient_id)
        LEFT JOIN hypinv2 USING (patient_id)
        LEFT JOIN astinv2 USING (patient_id)
        LEFT JOIN dminv2 USING (patient_id)
        LEFT JOIN bp USING (patient_id)
        LEFT JOIN hba USING (patient_id)
        LEFT JOIN review USING (patient_id)
        LEFT JOIN trt USING (patient_id)
        WHERE pat.dod IS NULL OR pat.dod > $pped""",
        {"pped": pped, "practice": practice},
    )
    db.execute(
        """CREATE TABLE flags AS SELECT *,
          coalesce(dmlat IS NOT NULL AND (dmres IS NULL OR dmres < dmlat), false)
            AND NOT coalesce(age < 17, false) AS dm_reg,
          coalesce(hyplat IS NOT NULL AND (hypres IS NULL OR hypres < hyplat), false) AS hyp_reg,
          coalesce(astlat IS NOT NULL AND (astres IS NULL OR astres < astlat), false)
            AND NOT coalesce(age < 6, false) AND treated AS ast_reg,
          chdfirst IS NOT NULL AS chd_reg,
          coalesce(aflat IS NOT NULL AND (afres IS NULL OR afres < aflat), false) AS af_reg,
          coalesce((moderate IS NOT NULL AND (mild IS NULL OR mild <= moderate))
            OR (severe IS NOT NULL AND (mild IS NULL OR mild <= severe)), false) AS frail
        FROM base"""
    )
    out = {}
    for name, flag in [
        ("REGISTERED", "true"),
        ("DM_REG", "dm_reg"),
        ("HYP_REG", "hyp_reg"),
        ("AST_REG", "ast_reg"),
        ("CHD_REG", "chd_reg"),
        ("AF_REG", "af_reg"),
    ]:
        out[name] = members(db, name, "flags", flag)
    rp = {k: params[k] for k in ("twelve", "three", "nine")}

    # HYP008 and HYP009 (hyp008.yaml, hyp009.yaml).
    for name, age_out, sys_max in [("HYP008", "age > 79", 140), ("HYP009", "age < 80", 150)]:
        target = f"bp_dat > $twelve AND sys <= {sys_max} AND dia <= 90"
        rule = f"""CASE
          WHEN {age_out} THEN 'r1'
          WHEN {target} THEN 's2'
          WHEN htmax > $twelve THEN 'r3'
          WHEN hyppcapu > $twelve THEN 'r4'
          WHEN bpdec > $twelve THEN 'r5'
          WHEN hyppcadec > $twelve THEN 'r6'
          WHEN (bp_dat > $twelve AND (sys > {sys_max} OR dia > 90)
                 AND hypinv1 > bp_dat AND hypinv2 IS NOT NULL)
            OR (hypinv1 IS NOT NULL AND hypinv2 IS NOT NULL
                 AND (bp_dat IS NULL OR bp_dat <= $twelve)) THEN 'r7'
          WHEN hypfirst > $nine THEN 'r8'
          WHEN reg_dat > $nine THEN 'r9'
          ELSE 's_end' END"""
        rules, den, num = rule_counts(db, "(SELECT * FROM flags WHERE hyp_reg)", rule, target, rp, name)
        out[f"{name}_DEN"], out[f"{name}_NUM"], out[f"{name}_RULES"] = den, num, rules

    # DM020 and DM021 (dm020.yaml, dm021.yaml): the ten v46 rules.
    for name, frail_out, target in [("DM020", "frail", 58), ("DM021", "NOT frail", 75)]:
        met = f"ifcc_val <= {target}"
        rule = f"""CASE
          WHEN {frail_out} THEN 'r1'
          WHEN {met} THEN 's2'
          WHEN ifcc_dat IS NULL AND serfruc IS NOT NULL THEN 'r3'
          WHEN dmmax > $twelve THEN 'r4'
          WHEN dmpcapu > $twelve THEN 'r5'
          WHEN bldtestdec > $twelve THEN 'r6'
          WHEN dmpcadec > $twelve THEN 'r7'
          WHEN (ifcc_val > {target} AND dminv1 > ifcc_dat AND dminv2 IS NOT NULL)
            OR (dminv1 IS NOT NULL AND dminv2 IS NOT NULL AND ifcc_dat IS NULL) THEN 'r8'
          WHEN dmfirst > $nine THEN 'r9'
          WHEN reg_dat > $nine THEN 'r10'
          ELSE 's_end' END"""
        rules, den, num = rule_counts(db, "(SELECT * FROM flags WHERE dm_reg)", rule, met, rp, name)
        out[f"{name}_DEN"], out[f"{name}_NUM"], out[f"{name}_RULES"] = den, num, rules

    # AST007 (ast007.yaml).
    met = "rev IS NOT NULL AND plan AND control AND exac"
    rule = f"""CASE
      WHEN {met} THEN 's1'
      WHEN astpcapu > $twelve THEN 'r2'
      WHEN astmondec > $twelve THEN 'r3'
      WHEN astpcadec > $twelve THEN 'r4'
      WHEN astinv1 IS NOT NULL AND astinv2 IS NOT NULL THEN 'r5'
      WHEN astfirst > $three THEN 'r6'
      WHEN reg_dat > $three THEN 'r7'
      ELSE 's_end' END"""
    rules, den, num = rule_counts(db, "(SELECT * FROM flags WHERE ast_reg)", rule, met, rp, "AST007")
    out["AST007_DEN"], out["AST007_NUM"], out["AST007_RULES"] = den, num, rules

    # SMOK002 (smok002.yaml): the registers here, then three rules.
    met = "lsmok > $twelve OR exsmok > $twelve OR nsmok > $twelve"
    rule = f"""CASE
      WHEN {met} THEN 's1'
      WHEN (NOT dm_reg OR dmfirst > $three) AND (NOT hyp_reg OR hypfirst > $three)
        AND (NOT chd_reg OR chdfirst > $three) AND (NOT ast_reg OR astfirst > $three) THEN 'r2'
      WHEN reg_dat > $three THEN 'r3'
      ELSE 's_end' END"""
    smok = "(SELECT * FROM flags WHERE dm_reg OR hyp_reg OR chd_reg OR ast_reg)"
    out["SMOK_REG"] = members(db, "SMOK_REG", smok)
    rules, den, num = rule_counts(db, smok, rule, met, rp, "SMOK002")
    out["SMOK002_DEN"], out["SMOK002_NUM"], out["SMOK002_RULES"] = den, num, rules

    # Seasonal flu (flu.yaml, flu65.yaml): PPED is the season's end.
    out["AGED_65_PLUS"] = members(db, "AGED_65_PLUS", "flags", "age >= 65")
    out["VACCINATED_65_PLUS"] = members(db, "VACCINATED_65_PLUS", "flags", "age >= 65 AND flu IS NOT NULL")
    rule = """CASE
      WHEN age >= 65 THEN 'r1'
      WHEN dmlat IS NOT NULL AND (dmres IS NULL OR dmres < dmlat) THEN 's2'
      WHEN chdfirst IS NOT NULL THEN 's3'
      WHEN astfirst IS NOT NULL AND treated THEN 's4'
      ELSE 'r4' END"""
    rules, den, num = rule_counts(db, "flags", rule, "flu IS NOT NULL", name="AT_RISK")
    out["AT_RISK_UNDER_65"], out["VACCINATED_AT_RISK"], out["AT_RISK_UNDER_65_RULES"] = den, num, rules
    MEMBERS["AT_RISK_UNDER_65"] = MEMBERS.pop("AT_RISK_DEN")
    MEMBERS["VACCINATED_AT_RISK"] = MEMBERS.pop("AT_RISK_NUM")
    out["seconds"] = round(time.perf_counter() - started, 4)
    if "--patients" in sys.argv[4:]:
        out["PATIENTS"] = MEMBERS
    print(json.dumps(out))


if __name__ == "__main__":
    main()
