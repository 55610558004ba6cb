DROP INDEX api_tokens_by_id;
-- One row per id is kept, a revoked one first.
DELETE FROM api_tokens a USING api_tokens b
    WHERE a.jti = b.jti AND (a.revoked_at IS NULL, a.issuer) > (b.revoked_at IS NULL, b.issuer);
ALTER TABLE api_tokens DROP CONSTRAINT api_tokens_pkey;
ALTER TABLE api_tokens ADD PRIMARY KEY (jti);
ALTER TABLE api_tokens DROP COLUMN plan;
ALTER TABLE api_tokens DROP COLUMN issuer;
