DROP TABLE kpi_results;
ALTER TABLE plans DROP COLUMN grading_scheme;
