//! API tokens: JWT validation with an explicit algorithm allow-list, scopes, and token issuance.

use std::time::Duration;

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::error::ApiError;

/// Shortest accepted HS256 secret: anything shorter can be brute-forced from one token.
pub const MIN_SECRET_BYTES: usize = 32;

/// What a token allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Everything, including plans, goals, measures, initiatives, departments and divisions.
    Admin,
    /// KPI records and their yearly results.
    KpisWrite,
    /// Projects (restricted to one department by a `dept` claim).
    ProjectsWrite,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Admin, Scope::KpisWrite, Scope::ProjectsWrite];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Admin => "admin",
            Scope::KpisWrite => "kpis:write",
            Scope::ProjectsWrite => "projects:write",
        }
    }

    pub fn parse(text: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|scope| scope.as_str() == text)
    }
}

/// The claims of an API token. `scope` is space-separated, as in OAuth 2.0.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dept: Option<i64>,
    pub jti: String,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    pub exp: i64,
}

/// Who is writing, from a valid token.
#[derive(Debug, Clone)]
pub struct Principal {
    pub subject: String,
    pub jti: String,
    pub scopes: Vec<Scope>,
    /// Restricts `projects:write` to projects with a responsible division in this department.
    pub department: Option<i64>,
}

impl Principal {
    /// The department a token is limited to; an admin's token reaches everything.
    pub fn limited_to_department(&self) -> Option<i64> {
        self.department.filter(|_| !self.is_admin())
    }

    /// Refuses a KPI (by its initiative) outside the department the token is limited to.
    pub fn check_kpi_reach(
        &self,
        conn: &mut crate::db::DbConnection,
        initiative_id: i64,
    ) -> Result<(), crate::error::ApiError> {
        let Some(department) = self.limited_to_department() else {
            return Ok(());
        };
        if crate::db::projects::initiative_in_department(conn, initiative_id, department)? {
            return Ok(());
        }
        Err(crate::error::ApiError::Forbidden(format!(
            "this token reaches only KPIs of initiatives in which department {department} has a project"
        )))
    }

    pub fn is_admin(&self) -> bool {
        self.scopes.contains(&Scope::Admin)
    }

    /// Admin may do everything; otherwise the scope itself is needed.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.is_admin() || self.scopes.contains(&scope) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "this needs the `{}` scope",
                scope.as_str()
            )))
        }
    }
}

/// Validates tokens (and, with an HS256 secret, issues them).
pub struct Authenticator {
    verifier: Option<(DecodingKey, Validation)>,
    signer: Option<EncodingKey>,
    issuer: String,
    audience: String,
}

impl Authenticator {
    pub fn from_config(config: &Config) -> Result<Self, String> {
        let validation = |algorithm: Algorithm| {
            let mut validation = Validation::new(algorithm);
            validation.algorithms = vec![algorithm];
            validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
            validation.set_issuer(&[config.jwt_issuer.as_str()]);
            validation.set_audience(&[config.jwt_audience.as_str()]);
            validation.validate_nbf = true;
            validation.leeway = config.jwt_leeway_secs;
            validation
        };
        let (verifier, signer) = match (&config.jwt_secret, &config.jwt_public_key_file) {
            (Some(_), Some(_)) => return Err("set JWT_SECRET or JWT_PUBLIC_KEY_FILE, not both".into()),
            (Some(secret), None) => {
                if secret.len() < MIN_SECRET_BYTES {
                    return Err(format!("JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes"));
                }
                let bytes = secret.as_bytes();
                (
                    Some((DecodingKey::from_secret(bytes), validation(Algorithm::HS256))),
                    Some(EncodingKey::from_secret(bytes)),
                )
            }
            (None, Some(path)) => {
                let pem =
                    std::fs::read(path).map_err(|error| format!("JWT_PUBLIC_KEY_FILE {}: {error}", path.display()))?;
                let (key, algorithm) = match config.jwt_public_key_alg.as_str() {
                    "RS256" => (DecodingKey::from_rsa_pem(&pem), Algorithm::RS256),
                    _ => (DecodingKey::from_ed_pem(&pem), Algorithm::EdDSA),
                };
                let key = key.map_err(|error| format!("JWT_PUBLIC_KEY_FILE {}: {error}", path.display()))?;
                (Some((key, validation(algorithm))), None)
            }
            (None, None) => (None, None),
        };
        Ok(Authenticator {
            verifier,
            signer,
            issuer: config.jwt_issuer.clone(),
            audience: config.jwt_audience.clone(),
        })
    }

    pub fn writes_enabled(&self) -> bool {
        self.verifier.is_some()
    }

    /// The principal of an `Authorization` header value. Revocation is checked against the database
    /// by the caller, inside its transaction.
    pub fn authenticate(&self, authorization: Option<&str>) -> Result<Principal, ApiError> {
        let Some((key, validation)) = &self.verifier else {
            return Err(ApiError::WritesDisabled);
        };
        let Some(authorization) = authorization else {
            return Err(ApiError::Unauthorized { invalid_token: false });
        };
        let invalid = || ApiError::Unauthorized { invalid_token: true };
        let token = authorization
            .strip_prefix("Bearer ")
            .or_else(|| authorization.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .ok_or_else(invalid)?;
        let claims = decode::<Claims>(token, key, validation).map_err(|_| invalid())?.claims;
        if claims.jti.trim().is_empty() {
            return Err(invalid());
        }
        let scopes = claims
            .scope
            .split_whitespace()
            .filter_map(Scope::parse)
            .collect::<Vec<_>>();
        Ok(Principal {
            subject: claims.sub,
            jti: claims.jti,
            scopes,
            department: claims.dept,
        })
    }

    /// A new HS256 token; fails without a secret (tokens of a public key are issued by its provider).
    pub fn issue(
        &self,
        subject: &str,
        scopes: &[Scope],
        department: Option<i64>,
        ttl: Duration,
    ) -> Result<(String, Claims), String> {
        let signer = self
            .signer
            .as_ref()
            .ok_or("issuing tokens needs JWT_SECRET (tokens for a public key come from its identity provider)")?;
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: subject.to_string(),
            scope: scopes.iter().map(|scope| scope.as_str()).collect::<Vec<_>>().join(" "),
            dept: department,
            jti: uuid::Uuid::new_v4().to_string(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now,
            nbf: Some(now),
            exp: now + i64::try_from(ttl.as_secs()).map_err(|_| "ttl too long")?,
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, signer).map_err(|error| error.to_string())?;
        Ok((token, claims))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn authenticator(secret: &str) -> Authenticator {
        let mut config = Config::with_database("unused");
        config.jwt_secret = Some(secret.into());
        Authenticator::from_config(&config).unwrap()
    }

    #[test]
    fn short_secrets_are_refused() {
        let mut config = Config::with_database("unused");
        config.jwt_secret = Some("too short".into());
        let error = Authenticator::from_config(&config)
            .err()
            .expect("a short secret is refused");
        assert!(error.contains("32 bytes"), "{error}");
    }

    #[test]
    fn issued_tokens_validate_with_their_scopes() {
        let auth = authenticator(&"k".repeat(32));
        let (token, claims) = auth
            .issue("alice", &[Scope::ProjectsWrite], Some(3), Duration::from_secs(60))
            .unwrap();
        let principal = auth.authenticate(Some(&format!("Bearer {token}"))).unwrap();
        assert_eq!(principal.subject, "alice");
        assert_eq!(principal.jti, claims.jti);
        assert_eq!(principal.department, Some(3));
        assert!(principal.require(Scope::ProjectsWrite).is_ok());
        assert!(principal.require(Scope::KpisWrite).is_err());
        assert!(principal.require(Scope::Admin).is_err());
    }

    #[test]
    fn admin_implies_every_scope() {
        let principal = Principal {
            subject: "root".into(),
            jti: "1".into(),
            scopes: vec![Scope::Admin],
            department: None,
        };
        assert!(Scope::ALL.iter().all(|scope| principal.require(*scope).is_ok()));
    }

    /// A city identity provider's EdDSA tokens validate with its public key; an HS256 token made
    /// with that public key as the secret (algorithm confusion) does not.
    #[test]
    fn identity_provider_tokens_validate_with_the_public_key_only() {
        let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
        let mut config = Config::with_database("unused");
        config.jwt_public_key_file = Some(format!("{fixtures}/idp-ed25519-public.pem").into());
        config.jwt_public_key_alg = "EdDSA".into();
        let auth = Authenticator::from_config(&config).unwrap();
        assert!(auth.issue("x", &[Scope::Admin], None, Duration::from_secs(60)).is_err());

        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: "idp-user".into(),
            scope: "kpis:write".into(),
            dept: None,
            jti: "idp-1".into(),
            iss: config.jwt_issuer.clone(),
            aud: config.jwt_audience.clone(),
            iat: now,
            nbf: None,
            exp: now + 60,
        };
        let private = std::fs::read(format!("{fixtures}/idp-ed25519-private.pem")).unwrap();
        let signed = encode(
            &Header::new(Algorithm::EdDSA),
            &claims,
            &EncodingKey::from_ed_pem(&private).unwrap(),
        )
        .unwrap();
        let principal = auth.authenticate(Some(&format!("Bearer {signed}"))).unwrap();
        assert_eq!(principal.subject, "idp-user");

        let public = std::fs::read(format!("{fixtures}/idp-ed25519-public.pem")).unwrap();
        let confused = encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(&public),
        )
        .unwrap();
        assert!(auth.authenticate(Some(&format!("Bearer {confused}"))).is_err());
    }

    #[test]
    fn other_secrets_and_garbage_are_invalid() {
        let auth = authenticator(&"k".repeat(32));
        let other = authenticator(&"x".repeat(32));
        let (token, _) = other
            .issue("eve", &[Scope::Admin], None, Duration::from_secs(60))
            .unwrap();
        for header in [
            format!("Bearer {token}"),
            "Bearer".into(),
            "Basic abc".into(),
            "Bearer a.b.c".into(),
        ] {
            assert!(
                matches!(
                    auth.authenticate(Some(&header)),
                    Err(ApiError::Unauthorized { invalid_token: true })
                ),
                "{header}"
            );
        }
        assert!(matches!(
            auth.authenticate(None),
            Err(ApiError::Unauthorized { invalid_token: false })
        ));
    }
}
