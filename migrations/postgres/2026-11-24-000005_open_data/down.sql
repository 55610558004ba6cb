ALTER TABLE data_version DROP COLUMN changed_at;
