-- SQLite already compares text by code point (BINARY); the Postgres migration of the same name
-- makes Postgres do the same.
SELECT 1;
