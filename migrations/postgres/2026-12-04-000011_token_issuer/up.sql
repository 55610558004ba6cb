-- A token is named by its issuer and its id (jti, or Entra ID's uti): two identity providers may
-- hand out the same id. Rows from before carry the issuer '' and revoke that id from any issuer,
-- so that no revocation made earlier stops applying.
ALTER TABLE api_tokens ADD COLUMN issuer TEXT NOT NULL DEFAULT '';
ALTER TABLE api_tokens ADD COLUMN plan TEXT;
ALTER TABLE api_tokens DROP CONSTRAINT api_tokens_pkey;
ALTER TABLE api_tokens ADD PRIMARY KEY (issuer, jti);
CREATE INDEX api_tokens_by_id ON api_tokens (jti);
