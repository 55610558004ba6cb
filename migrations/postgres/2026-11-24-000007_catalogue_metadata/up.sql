-- What open-data catalogues (CKAN, DCAT) need to describe the data set, and where a KPI's figure comes from.
ALTER TABLE plans ADD COLUMN publisher TEXT;
ALTER TABLE plans ADD COLUMN source_url TEXT;
ALTER TABLE plans ADD COLUMN published_on TEXT;
ALTER TABLE plans ADD COLUMN licence TEXT;
ALTER TABLE plans ADD COLUMN licence_url TEXT;
ALTER TABLE kpis ADD COLUMN source TEXT;
