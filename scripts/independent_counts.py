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
    out["seconds"] = round(time.perf_counter() - started, 4)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
