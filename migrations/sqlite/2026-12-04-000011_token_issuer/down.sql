CREATE TABLE api_tokens_by_id (
    jti TEXT PRIMARY KEY NOT NULL,
    subject TEXT NOT NULL,
    scopes TEXT NOT NULL,
    department_id BIGINT,
    issued_at TIMESTAMP,
    expires_at TIMESTAMP,
    revoked_at TIMESTAMP
);
INSERT OR IGNORE INTO api_tokens_by_id (jti, subject, scopes, department_id, issued_at, expires_at, revoked_at)
    SELECT jti, subject, scopes, department_id, issued_at, expires_at, revoked_at FROM api_tokens
    ORDER BY revoked_at IS NULL;
DROP TABLE api_tokens;
ALTER TABLE api_tokens_by_id RENAME TO api_tokens;
