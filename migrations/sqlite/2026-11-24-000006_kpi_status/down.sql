DROP INDEX kpis_progress_status;
ALTER TABLE kpis DROP COLUMN progress_status;
