-- The responsible division's commentary on a year's result: 要因分析 and 今後の方向性.
ALTER TABLE kpi_results ADD COLUMN analysis TEXT;
ALTER TABLE kpi_results ADD COLUMN next_steps TEXT;

-- Each revision of a KPI's target (目標値の見直し), oldest first: the first one's previous value
-- and year are the original target, so past achievement can still be reported against it.
CREATE TABLE kpi_target_revisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    kpi_id BIGINT NOT NULL REFERENCES kpis (id),
    previous_value TEXT,
    previous_year INTEGER NOT NULL,
    value TEXT,
    year INTEGER NOT NULL,
    reason TEXT NOT NULL,
    revised_by TEXT NOT NULL,
    revised_at TIMESTAMP NOT NULL
);
CREATE INDEX kpi_target_revisions_kpi ON kpi_target_revisions (kpi_id, id);

-- Which target an evaluation judged each KPI against, and how it stood against the original one.
ALTER TABLE evaluation_items ADD COLUMN target_year INTEGER;
ALTER TABLE evaluation_items ADD COLUMN original_target_value TEXT;
ALTER TABLE evaluation_items ADD COLUMN original_target_year INTEGER;
ALTER TABLE evaluation_items ADD COLUMN original_achievement DOUBLE;
