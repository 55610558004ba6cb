ALTER TABLE plans DROP COLUMN contact_url;
ALTER TABLE plans DROP COLUMN contact_email;
ALTER TABLE plans DROP COLUMN contact_name;
ALTER TABLE plans DROP COLUMN keywords;
ALTER TABLE plans DROP COLUMN description;
