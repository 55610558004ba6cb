-- AUTOINCREMENT: an id is never handed out twice, so ids stay stable for other systems even after deletes.

CREATE TABLE plans (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    document_title TEXT NOT NULL,
    municipality_code TEXT NOT NULL,
    municipality_name TEXT NOT NULL,
    prefecture TEXT NOT NULL,
    period_start_year INTEGER NOT NULL,
    period_end_year INTEGER NOT NULL,
    version BIGINT NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE source_corrections (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    plan_id BIGINT NOT NULL REFERENCES plans (id),
    record TEXT NOT NULL,
    field TEXT NOT NULL,
    published TEXT NOT NULL,
    normalised TEXT NOT NULL,
    reason TEXT NOT NULL
);
CREATE INDEX source_corrections_plan ON source_corrections (plan_id);

CREATE TABLE departments (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    plan_id BIGINT NOT NULL REFERENCES plans (id),
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    UNIQUE (plan_id, code)
);

CREATE TABLE divisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    plan_id BIGINT NOT NULL REFERENCES plans (id),
    department_id BIGINT NOT NULL REFERENCES departments (id),
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    UNIQUE (plan_id, code)
);
CREATE INDEX divisions_department ON divisions (department_id);

CREATE TABLE goals (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    plan_id BIGINT NOT NULL REFERENCES plans (id),
    code TEXT NOT NULL,
    number INTEGER NOT NULL,
    category TEXT NOT NULL,
    title TEXT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    UNIQUE (plan_id, code)
);

CREATE TABLE measures (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    plan_id BIGINT NOT NULL REFERENCES plans (id),
    goal_id BIGINT NOT NULL REFERENCES goals (id),
    code TEXT NOT NULL,
    number INTEGER NOT NULL,
    title TEXT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    UNIQUE (plan_id, code)
);
CREATE INDEX measures_goal ON measures (goal_id);

CREATE TABLE initiatives (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    plan_id BIGINT NOT NULL REFERENCES plans (id),
    measure_id BIGINT NOT NULL REFERENCES measures (id),
    code TEXT NOT NULL,
    number INTEGER NOT NULL,
    title TEXT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    UNIQUE (plan_id, code)
);
CREATE INDEX initiatives_measure ON initiatives (measure_id);

-- Decimals are TEXT so that "99.10" keeps its published places on both backends.
CREATE TABLE kpis (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    plan_id BIGINT NOT NULL REFERENCES plans (id),
    initiative_id BIGINT NOT NULL REFERENCES initiatives (id),
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    unit TEXT NOT NULL,
    cumulative BOOLEAN NOT NULL,
    direction TEXT NOT NULL,
    baseline_value TEXT,
    baseline_year INTEGER NOT NULL,
    baseline_year_type TEXT NOT NULL,
    target_value TEXT,
    target_year INTEGER NOT NULL,
    target_year_type TEXT NOT NULL,
    search_text TEXT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    UNIQUE (plan_id, code)
);
CREATE INDEX kpis_initiative ON kpis (initiative_id);

CREATE TABLE projects (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    plan_id BIGINT NOT NULL REFERENCES plans (id),
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    account TEXT,
    search_text TEXT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    UNIQUE (plan_id, code),
    UNIQUE (plan_id, name)
);

CREATE TABLE project_appearances (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    project_id BIGINT NOT NULL REFERENCES projects (id),
    initiative_id BIGINT NOT NULL REFERENCES initiatives (id),
    position INTEGER NOT NULL,
    description TEXT NOT NULL,
    search_text TEXT NOT NULL,
    UNIQUE (project_id, initiative_id)
);
CREATE INDEX project_appearances_initiative ON project_appearances (initiative_id, position);

CREATE TABLE project_divisions (
    project_id BIGINT NOT NULL REFERENCES projects (id),
    division_id BIGINT NOT NULL REFERENCES divisions (id),
    position INTEGER NOT NULL,
    PRIMARY KEY (project_id, division_id)
);
CREATE INDEX project_divisions_division ON project_divisions (division_id);
