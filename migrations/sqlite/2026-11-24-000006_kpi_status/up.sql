-- The KPI's progress status, kept current by every write of the KPI or its results (it depends on
-- nothing else, not even the date), so that `?status=` is an indexed filter at any scale.
ALTER TABLE kpis ADD COLUMN progress_status TEXT NOT NULL DEFAULT 'no_data';
CREATE INDEX kpis_progress_status ON kpis (progress_status);
