-- A token is named by its issuer and its id (jti, or Entra ID's uti): two identity providers may
-- hand out the same id. Rows from before carry the issuer '' and revoke that id from any issuer,
-- so that no revocation made earlier stops applying.
CREATE TABLE api_tokens_by_issuer (
    issuer TEXT NOT NULL DEFAULT '',
    jti TEXT NOT NULL,
    subject TEXT NOT NULL,
    scopes TEXT NOT NULL,
    department_id BIGINT,
    issued_at TIMESTAMP,
    expires_at TIMESTAMP,
    revoked_at TIMESTAMP,
    plan TEXT,
    PRIMARY KEY (issuer, jti)
);
INSERT INTO api_tokens_by_issuer (issuer, jti, subject, scopes, department_id, issued_at, expires_at, revoked_at)
    SELECT '', jti, subject, scopes, department_id, issued_at, expires_at, revoked_at FROM api_tokens;
DROP TABLE api_tokens;
ALTER TABLE api_tokens_by_issuer RENAME TO api_tokens;
CREATE INDEX api_tokens_by_id ON api_tokens (jti);
