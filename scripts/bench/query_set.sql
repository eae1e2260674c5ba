-- The cohort queries of `renkei bench query`, run as written by renkei (a
-- permit's workspace, DataFusion) and by DuckDB (scripts/bench/duckdb_query.py)
-- over the same extract-shaped Parquet: person, condition, observation,
-- medication_request, each keyed by `pseudonym`.
--
-- Each query starts with `-- query: NAME`. A count query also says how its
-- result becomes a table for disclosure control:
-- `-- disclosure: DIM[,DIM] count=COLUMN [total=DIM[,DIM]]`, where a total is
-- only asked along a dimension every person falls in once (age band, sex),
-- so that the margin is the sum of its cells.
--
-- Written in the SQL both engines accept: no ordinal GROUP BY, integer
-- results cast explicitly (DuckDB's `/` is float division), timestamps
-- read in UTC (the peer sets TimeZone to UTC).

-- query: age_band_disease
-- disclosure: age_band,disease count=persons total=age_band
SELECT age_band, disease, COUNT(DISTINCT pseudonym) AS persons
FROM (
    SELECT CAST(floor((2026 - CAST(extract(year FROM p.birth_date) AS INTEGER)) / 10.0) * 10 AS INTEGER) AS age_band,
           substr(c.icd10, 1, 3) AS disease,
           c.pseudonym
    FROM condition c JOIN person p ON p.pseudonym = c.pseudonym
) t
GROUP BY age_band, disease
ORDER BY age_band, disease;

-- query: lab_trend
SELECT code, year, COUNT(*) AS results, AVG(value_number) AS mean_value,
       MIN(value_number) AS min_value, MAX(value_number) AS max_value
FROM (
    SELECT o.code, CAST(extract(year FROM o.effective_at) AS INTEGER) AS year, o.value_number
    FROM observation o
    WHERE o.value_number IS NOT NULL
) t
GROUP BY code, year
ORDER BY code, year;

-- query: drug_prevalence
-- disclosure: drug_class,sex count=persons total=sex
SELECT drug_class, sex, COUNT(DISTINCT pseudonym) AS persons
FROM (
    SELECT substr(m.code, 1, 4) AS drug_class, p.sex, m.pseudonym
    FROM medication_request m JOIN person p ON p.pseudonym = m.pseudonym
    WHERE CAST(extract(year FROM m.authored_at) AS INTEGER) = 2024
) t
GROUP BY drug_class, sex
ORDER BY drug_class, sex;

-- query: diabetes_drugs_after_diagnosis
-- disclosure: drug_class count=persons
SELECT drug_class, COUNT(DISTINCT pseudonym) AS persons
FROM (
    SELECT substr(m.code, 1, 4) AS drug_class, m.pseudonym
    FROM condition c JOIN medication_request m ON m.pseudonym = c.pseudonym
    WHERE c.icd10 LIKE 'E11%' AND CAST(m.authored_at AS DATE) >= c.onset_date
) t
GROUP BY drug_class
ORDER BY drug_class;

-- query: high_hba1c_by_age_sex
-- disclosure: age_band,sex count=persons total=age_band,sex
SELECT age_band, sex, COUNT(DISTINCT pseudonym) AS persons
FROM (
    SELECT CAST(floor((2026 - CAST(extract(year FROM p.birth_date) AS INTEGER)) / 10.0) * 10 AS INTEGER) AS age_band,
           p.sex,
           o.pseudonym
    FROM observation o JOIN person p ON p.pseudonym = o.pseudonym
    WHERE o.code = '3D046000001906202' AND o.value_number >= 6.5
) t
GROUP BY age_band, sex
ORDER BY age_band, sex;
