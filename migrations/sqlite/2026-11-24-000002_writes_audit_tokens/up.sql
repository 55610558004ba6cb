-- One row, bumped first by every write transaction: it serialises writers (so an If-Match check
-- and its update are atomic, and audit ids follow commit order) and versions the whole data set.
CREATE TABLE data_version (
    id INTEGER PRIMARY KEY NOT NULL,
    version BIGINT NOT NULL
);
INSERT INTO data_version (id, version) VALUES (1, 1);

-- Append-only record of every write, and the source of the public change feed.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    subject TEXT NOT NULL,
    jti TEXT NOT NULL,
    method TEXT NOT NULL,
    resource TEXT NOT NULL,
    record_id BIGINT NOT NULL,
    operation TEXT NOT NULL,
    before_json TEXT,
    after_json TEXT
);
CREATE INDEX audit_log_record ON audit_log (resource, record_id);
CREATE INDEX audit_log_subject ON audit_log (subject);
CREATE INDEX audit_log_occurred ON audit_log (occurred_at);

-- Tokens issued by `strategy-api token issue`, and revocations (also of tokens issued elsewhere).
CREATE TABLE api_tokens (
    jti TEXT PRIMARY KEY NOT NULL,
    subject TEXT NOT NULL,
    scopes TEXT NOT NULL,
    department_id BIGINT,
    issued_at TIMESTAMP,
    expires_at TIMESTAMP,
    revoked_at TIMESTAMP
);
