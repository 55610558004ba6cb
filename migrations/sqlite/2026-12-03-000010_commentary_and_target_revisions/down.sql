ALTER TABLE evaluation_items DROP COLUMN original_achievement;
ALTER TABLE evaluation_items DROP COLUMN original_target_year;
ALTER TABLE evaluation_items DROP COLUMN original_target_value;
ALTER TABLE evaluation_items DROP COLUMN target_year;
DROP TABLE kpi_target_revisions;
ALTER TABLE kpi_results DROP COLUMN next_steps;
ALTER TABLE kpi_results DROP COLUMN analysis;
