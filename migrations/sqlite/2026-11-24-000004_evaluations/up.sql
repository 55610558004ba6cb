-- A frozen yearly evaluation: every KPI as it stood when the committee's snapshot was taken.
-- Rows are only ever inserted: nothing updates or deletes them.
CREATE TABLE evaluations (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    plan_id BIGINT NOT NULL REFERENCES plans (id),
    fiscal_year INTEGER NOT NULL,
    title TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX evaluations_plan ON evaluations (plan_id);

CREATE TABLE evaluation_items (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    evaluation_id BIGINT NOT NULL REFERENCES evaluations (id),
    kpi_id BIGINT NOT NULL,
    kpi_code TEXT NOT NULL,
    kpi_name TEXT NOT NULL,
    unit TEXT NOT NULL,
    direction TEXT NOT NULL,
    baseline_value TEXT,
    target_value TEXT,
    result_year INTEGER,
    result_value TEXT,
    achievement DOUBLE PRECISION,
    expected DOUBLE PRECISION,
    status TEXT NOT NULL,
    grade TEXT
);
CREATE INDEX evaluation_items_evaluation ON evaluation_items (evaluation_id);
