ALTER TABLE kpis DROP COLUMN source;
ALTER TABLE plans DROP COLUMN licence_url;
ALTER TABLE plans DROP COLUMN licence;
ALTER TABLE plans DROP COLUMN published_on;
ALTER TABLE plans DROP COLUMN source_url;
ALTER TABLE plans DROP COLUMN publisher;
