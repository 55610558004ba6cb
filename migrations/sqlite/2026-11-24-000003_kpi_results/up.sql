-- A KPI's yearly results (実績値). `value` is the exact decimal as TEXT; a year recorded as not
-- measurable has no value and says why in `note`.
CREATE TABLE kpi_results (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    kpi_id BIGINT NOT NULL REFERENCES kpis (id),
    year INTEGER NOT NULL,
    value TEXT,
    status TEXT NOT NULL,
    note TEXT,
    source TEXT,
    version BIGINT NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (kpi_id, year)
);

-- The plan's grading scheme as JSON ([{grade, min}], descending); NULL means the default A–D.
ALTER TABLE plans ADD COLUMN grading_scheme TEXT;
