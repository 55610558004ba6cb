-- What a data catalogue (DCAT) says of each plan beyond the document itself, kept by admins:
-- a description, keywords (a JSON array of strings) and whom to contact about the data.
ALTER TABLE plans ADD COLUMN description TEXT;
ALTER TABLE plans ADD COLUMN keywords TEXT NOT NULL DEFAULT '[]';
ALTER TABLE plans ADD COLUMN contact_name TEXT;
ALTER TABLE plans ADD COLUMN contact_email TEXT;
ALTER TABLE plans ADD COLUMN contact_url TEXT;
