#!/usr/bin/env python3
"""Counts the example indicators over a practice in the csv-export format
with DuckDB, written from the business rules and sdk/query/SPEC.md, sharing
no code with the engine. Prints JSON: {"DM_REG": n, "HYP_REG": n, ...}.

usage: independent_counts.py PRACTICE_DIR ODS_CODE PPED(YYYY-MM-DD)
"""
import calendar
import datetime
import json
import sys
import time

import duckdb


def add_months(d, n):
    """SPEC.md 5: keep the day, clamped to the end of the resulting month."""
    m = d.month - 1 + n
    y = d.year + m // 12
    m = m % 12 + 1
    return datetime.date(y, m, min(d.day, calendar.monthrange(y, m)[1]))


HYP_CODES = "('38341003','59621000')"
INVITES = "('310427004','185719002')"


def hypertension(db, params):
    """HYP008 and HYP009 (examples/queries/hyp008.yaml, hyp009.yaml): the
    register, then each denominator rule in order, recording the rule that
    decided each patient: {"HYP008_DEN": n, "HYP008_NUM": n,
    "HYP008_RULES": {"r1": n, "s2": n, ..., "s_end": n}, ...}."""
    sql = f"""
    WITH pat AS (
      SELECT PatientGuid AS patient_id, d(nullif(DateOfBirth, '')) AS dob,
             d(nullif(DateOfDeath, '')) AS dod
      FROM p),
    reg AS (
      SELECT PatientGuid AS patient_id, max(d(RegisteredDate)) AS reg_dat
      FROM r
      WHERE RegistrationType = 'GMS' AND OrganisationOds = $practice
        AND d(RegisteredDate) <= $pped
        AND (coalesce(DeregisteredDate, '') = '' OR d(DeregisteredDate) > $pped)
      GROUP BY PatientGuid),
    ev AS (SELECT PatientGuid AS patient_id, d(EffectiveDate) AS dt, Code AS code,
                  TRY_CAST(nullif(NumericValue, '') AS DOUBLE) AS val
           FROM e WHERE CodeSystem = 'SNOMED' AND d(EffectiveDate) <= $pped),
    lat AS (
      SELECT patient_id,
        max(dt) FILTER (WHERE code IN {HYP_CODES}) AS hyplat,
        min(dt) FILTER (WHERE code IN {HYP_CODES}) AS hypfirst,
        max(dt) FILTER (WHERE code = '162659009') AS hypres,
        max(dt) FILTER (WHERE code = '407567007') AS htmax,
        max(dt) FILTER (WHERE code = '716821000000100') AS pcapu,
        max(dt) FILTER (WHERE code = '413123006') AS bpdec,
        max(dt) FILTER (WHERE code = '716771000000106') AS pcadec,
        min(dt) FILTER (WHERE code IN {INVITES} AND dt >= $year_ago) AS inv1
      FROM ev GROUP BY patient_id),
    inv2 AS (
      SELECT lat.patient_id, min(ev.dt) AS inv2
      FROM lat JOIN ev ON ev.patient_id = lat.patient_id
      WHERE ev.code IN {INVITES} AND ev.dt >= lat.inv1 + INTERVAL 7 DAY
      GROUP BY lat.patient_id),
    -- Days with both a systolic and a diastolic value; the lowest of each.
    bpdays AS (
      SELECT patient_id, dt,
        min(val) FILTER (WHERE code = '271649006') AS sys,
        min(val) FILTER (WHERE code = '271650006') AS dia
      FROM ev WHERE code IN ('271649006', '271650006') AND val IS NOT NULL
      GROUP BY patient_id, dt),
    bp AS (
      SELECT patient_id, dt AS bp_dat, sys, dia FROM (
        SELECT *, row_number() OVER (PARTITION BY patient_id ORDER BY dt DESC) AS n
        FROM bpdays WHERE sys IS NOT NULL AND dia IS NOT NULL)
      WHERE n = 1),
    base AS (
      SELECT pat.patient_id, reg.reg_dat,
        CASE WHEN pat.dob IS NULL OR pat.dob > $pped THEN NULL ELSE
          year($pped) - year(pat.dob)
          - CASE WHEN (month($pped), day($pped)) < (month(pat.dob), day(pat.dob)) THEN 1 ELSE 0 END
        END AS age,
        lat.*, inv2.inv2, bp.bp_dat, bp.sys, bp.dia
      FROM pat
      JOIN reg USING (patient_id)
      LEFT JOIN lat USING (patient_id)
      LEFT JOIN inv2 USING (patient_id)
      LEFT JOIN bp USING (patient_id)
      WHERE (pat.dod IS NULL OR pat.dod > $pped)
        AND lat.hyplat IS NOT NULL AND (lat.hypres IS NULL OR lat.hypres < lat.hyplat))
    SELECT * FROM base
    """
    db.execute(
        f"CREATE TEMP TABLE hyp AS {sql}",
        {k: params[k] for k in ("pped", "practice", "year_ago")},
    )
    out = {}
    for name, age_out, sys_max in [("HYP008", "age > 79", 140), ("HYP009", "age < 80", 150)]:
        target = f"bp_dat > $twelve AND sys <= {sys_max} AND dia <= 90"
        rule = f"""CASE
          WHEN {age_out} THEN 'r1'
          WHEN {target} THEN 's2'
          WHEN htmax > $twelve THEN 'r3'
          WHEN pcapu > $twelve THEN 'r4'
          WHEN bpdec > $twelve THEN 'r5'
          WHEN pcadec > $twelve THEN 'r6'
          WHEN (bp_dat > $twelve AND (sys > {sys_max} OR dia > 90)
                 AND inv1 > bp_dat AND inv2 IS NOT NULL)
            OR (inv1 IS NOT NULL AND inv2 IS NOT NULL
                 AND (bp_dat IS NULL OR bp_dat <= $twelve)) THEN 'r7'
          WHEN hypfirst > $nine_months THEN 'r8'
          WHEN reg_dat > $nine_months THEN 'r9'
          ELSE 's_end' END"""
        rows = db.execute(
            f"SELECT {rule} AS decided, count(*), "
            f"count(*) FILTER (WHERE {target}) FROM hyp GROUP BY decided",
            {"twelve": params["twelve"], "nine_months": params["nine_months"]},
        ).fetchall()
        rules = {decided: n for decided, n, _ in rows}
        den = [r for r in rows if r[0].startswith("s")]
        out[f"{name}_DEN"] = sum(n for _, n, _ in den)
        out[f"{name}_NUM"] = sum(m for _, _, m in den)
        out[f"{name}_RULES"] = rules
    return out


def dm021(db, params):
    """DM021 (examples/queries/dm021.yaml), rule by rule as hypertension()."""
    sql = """
    WITH pat AS (
      SELECT PatientGuid AS patient_id, d(nullif(DateOfBirth, '')) AS dob,
             d(nullif(DateOfDeath, '')) AS dod
      FROM p),
    reg AS (
      SELECT PatientGuid AS patient_id, max(d(RegisteredDate)) AS reg_dat
      FROM r
      WHERE RegistrationType = 'GMS' AND OrganisationOds = $practice
        AND d(RegisteredDate) <= $pped
        AND (coalesce(DeregisteredDate, '') = '' OR d(DeregisteredDate) > $pped)
      GROUP BY PatientGuid),
    ev AS (SELECT PatientGuid AS patient_id, d(EffectiveDate) AS dt, Code AS code,
                  TRY_CAST(nullif(NumericValue, '') AS DOUBLE) AS val
           FROM e WHERE CodeSystem = 'SNOMED' AND d(EffectiveDate) <= $pped),
    lat AS (
      SELECT patient_id,
        max(dt) FILTER (WHERE code IN ('73211009','44054006','46635009')) AS dmlat,
        min(dt) FILTER (WHERE code IN ('73211009','44054006','46635009')) AS dmfirst,
        max(dt) FILTER (WHERE code = '315051004') AS dmres,
        max(dt) FILTER (WHERE code IN ('925831000000107','925861000000102')) AS modsev,
        max(dt) FILTER (WHERE code = '925791000000100') AS mild
      FROM ev GROUP BY patient_id),
    hba AS (
      SELECT patient_id, min(val) AS ifcc FROM (
        SELECT patient_id, dt, val, max(dt) OVER (PARTITION BY patient_id) AS last_dt
        FROM ev WHERE code = '999791000000106' AND val IS NOT NULL AND dt >= $year_ago)
      WHERE dt = last_dt GROUP BY patient_id)
    SELECT reg.reg_dat, lat.*, hba.ifcc,
      CASE WHEN pat.dob IS NULL OR pat.dob > $pped THEN NULL ELSE
        year($pped) - year(pat.dob)
        - CASE WHEN (month($pped), day($pped)) < (month(pat.dob), day(pat.dob)) THEN 1 ELSE 0 END
      END AS age
    FROM pat JOIN reg USING (patient_id)
    LEFT JOIN lat USING (patient_id) LEFT JOIN hba USING (patient_id)
    WHERE (pat.dod IS NULL OR pat.dod > $pped)
      AND lat.dmlat IS NOT NULL AND (lat.dmres IS NULL OR lat.dmres < lat.dmlat)
      AND NOT coalesce(age < 17, false)
    """
    db.execute(
        f"CREATE TEMP TABLE dm AS {sql}",
        {k: params[k] for k in ("pped", "practice", "year_ago")},
    )
    rule = """CASE
      WHEN NOT coalesce(modsev IS NOT NULL AND (mild IS NULL OR mild <= modsev), false) THEN 'r1'
      WHEN ifcc <= 75 THEN 's2'
      WHEN reg_dat > $three_months THEN 'r3'
      WHEN dmfirst > $nine_months THEN 'r4'
      ELSE 's_end' END"""
    rows = db.execute(
        f"SELECT {rule} AS decided, count(*), count(*) FILTER (WHERE ifcc <= 75) "
        "FROM dm GROUP BY decided",
        {k: params[k] for k in ("three_months", "nine_months")},
    ).fetchall()
    den = [r for r in rows if r[0].startswith("s")]
    return {
        "DM021_DEN": sum(n for _, n, _ in den),
        "DM021_NUM": sum(m for _, _, m in den),
        "DM021_RULES": {decided: n for decided, n, _ in rows},
    }


def main():
    folder, practice, pped_text = sys.argv[1], sys.argv[2], sys.argv[3]
    pped = datetime.date.fromisoformat(pped_text)
    year_ago = add_months(pped, -12) + datetime.timedelta(days=1)
    three_months = add_months(pped, -3)
    nine_months = add_months(pped, -9)
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
    db.execute(f"CREATE TABLE p AS SELECT * FROM read_csv('{folder}/Patient.csv', {opts})")
    db.execute(f"CREATE TABLE r AS SELECT * FROM read_csv('{folder}/Registration.csv', {opts})")
    db.execute(f"CREATE TABLE e AS SELECT * FROM read_csv('{folder}/Observation.csv', {opts})")
    db.execute(f"CREATE TABLE m AS SELECT * FROM read_csv('{folder}/Medication.csv', {opts})")
    params = {
        "pped": pped,
        "practice": practice,
        "year_ago": year_ago,
        "three_months": three_months,
        "nine_months": nine_months,
    }
    hyp_params = dict(params, twelve=add_months(pped, -12))
    sql = """
    WITH pat AS (
      SELECT PatientGuid AS patient_id,
             d(nullif(DateOfBirth, '')) AS dob,
             d(nullif(DateOfDeath, '')) AS dod
      FROM p),
    reg AS (  -- regular registrations at the practice covering PPED
      SELECT PatientGuid AS patient_id, max(d(RegisteredDate)) AS reg_dat
      FROM r
      WHERE RegistrationType = 'GMS' AND OrganisationOds = $practice
        AND d(RegisteredDate) <= $pped
        AND (coalesce(DeregisteredDate, '') = '' OR d(DeregisteredDate) > $pped)
      GROUP BY PatientGuid),
    ev AS (SELECT PatientGuid AS patient_id, d(EffectiveDate) AS dt, Code AS code,
                  TRY_CAST(nullif(NumericValue, '') AS DOUBLE) AS val
           FROM e WHERE CodeSystem = 'SNOMED'),
    lat AS (
      SELECT patient_id,
        max(dt) FILTER (WHERE code IN ('73211009','44054006','46635009') AND dt <= $pped) AS dmlat,
        min(dt) FILTER (WHERE code IN ('73211009','44054006','46635009') AND dt <= $pped) AS dmfirst,
        max(dt) FILTER (WHERE code = '315051004' AND dt <= $pped) AS dmres,
        max(dt) FILTER (WHERE code IN ('38341003','59621000') AND dt <= $pped) AS hyplat,
        max(dt) FILTER (WHERE code = '162659009' AND dt <= $pped) AS hypres,
        max(dt) FILTER (WHERE code = '195967001' AND dt <= $pped) AS astlat,
        max(dt) FILTER (WHERE code = '162660004' AND dt <= $pped) AS astres
      FROM ev GROUP BY patient_id),
    hba AS (  -- latest HbA1c with a value in the year; lowest on a tie
      SELECT patient_id, min(val) AS ifcc_val FROM (
        SELECT patient_id, dt, val,
               max(dt) OVER (PARTITION BY patient_id) AS last_dt
        FROM ev
        WHERE code = '999791000000106' AND val IS NOT NULL
          AND dt BETWEEN $year_ago AND $pped)
      WHERE dt = last_dt GROUP BY patient_id),
    trt AS (
      SELECT DISTINCT PatientGuid AS patient_id FROM m
      WHERE CodeSystem = 'DMD' AND Code = '39113611000001102'
        AND d(IssueDate) BETWEEN $year_ago AND $pped),
    base AS (
      SELECT pat.patient_id, reg.reg_dat,
        CASE WHEN pat.dob IS NULL OR pat.dob > $pped THEN NULL ELSE
          year($pped) - year(pat.dob)
          - CASE WHEN (month($pped), day($pped)) < (month(pat.dob), day(pat.dob)) THEN 1 ELSE 0 END
        END AS age,
        lat.*, hba.ifcc_val, trt.patient_id IS NOT NULL AS treated
      FROM pat
      JOIN reg USING (patient_id)
      LEFT JOIN lat USING (patient_id)
      LEFT JOIN hba USING (patient_id)
      LEFT JOIN trt USING (patient_id)
      WHERE pat.dod IS NULL OR pat.dod > $pped),
    flags AS (
      SELECT *,
        dmlat IS NOT NULL AND (dmres IS NULL OR dmres < dmlat)
          AND NOT coalesce(age < 17, false) AS dm_reg,
        hyplat IS NOT NULL AND (hypres IS NULL OR hypres < hyplat) AS hyp_reg,
        astlat IS NOT NULL AND (astres IS NULL OR astres < astlat)
          AND NOT coalesce(age < 6, false) AND treated AS ast_reg
      FROM base),
    dm020 AS (
      SELECT *,
        dm_reg AND (coalesce(ifcc_val <= 58, false)
          OR (NOT coalesce(reg_dat > $three_months, false)
              AND NOT coalesce(dmfirst > $nine_months, false))) AS den
      FROM flags)
    SELECT
      count(*) FILTER (WHERE dm_reg),
      count(*) FILTER (WHERE hyp_reg),
      count(*) FILTER (WHERE ast_reg),
      count(*) FILTER (WHERE den),
      count(*) FILTER (WHERE den AND coalesce(ifcc_val <= 58, false)),
      count(*)
    FROM dm020
    """
    row = db.execute(sql, params).fetchone()
    names = ["DM_REG", "HYP_REG", "AST_REG", "DM020_DEN", "DM020_NUM", "REGISTERED"]
    out = dict(zip(names, row))
    out.update(hypertension(db, hyp_params))
    out.update(dm021(db, params))
    out["seconds"] = round(time.perf_counter() - started, 4)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
