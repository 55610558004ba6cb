-- When the data last changed: every read's Last-Modified, the same on every instance.
ALTER TABLE data_version ADD COLUMN changed_at TIMESTAMP NOT NULL DEFAULT '1970-01-01 00:00:00';
UPDATE data_version SET changed_at = (now() AT TIME ZONE 'utc');
