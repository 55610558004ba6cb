DROP TABLE api_tokens;
DROP TABLE audit_log;
DROP TABLE data_version;
