//! API tokens: who may write. Tokens this service issues (HS256 with `JWT_SECRET`), one public key
//! from a file, or the identity provider's key set (`JWT_JWKS_FILE` / `JWT_JWKS_URL`), each with an
//! explicit algorithm allow-list; the provider's claims are mapped onto scopes, a department and plans.

mod claims;
pub mod identity_keys;
mod key_set;

use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{decode, decode_header, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use claims::{ClaimRules, ClaimSettings};
pub use identity_keys::{IdentityKeys, KeySettings, KeySource, KeyStatus};
use key_set::{Family, Selection};

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

/// The claims of a token this service issues. `scope` is space-separated, as in OAuth 2.0.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dept: Option<i64>,
    /// The plan the token is limited to: its id (a number) or its code (a string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<Value>,
    pub jti: String,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    pub exp: i64,
}

/// A plan a token is limited to, by id or by code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanLimit {
    Id(i64),
    Code(String),
}

impl PlanLimit {
    /// A number is an id, a string a code.
    pub fn of_value(value: &Value) -> Option<PlanLimit> {
        match value {
            Value::Number(number) => number.as_i64().map(PlanLimit::Id),
            Value::String(code) if !code.is_empty() => Some(PlanLimit::Code(code.clone())),
            _ => None,
        }
    }

    /// `--plan 3` is an id, `--plan atsugi-2` a code.
    pub fn of_text(text: &str) -> PlanLimit {
        text.parse()
            .map_or_else(|_| PlanLimit::Code(text.to_string()), PlanLimit::Id)
    }

    pub fn to_value(&self) -> Value {
        match self {
            PlanLimit::Id(id) => Value::from(*id),
            PlanLimit::Code(code) => Value::from(code.as_str()),
        }
    }

    fn reaches(&self, id: Option<i64>, code: &str) -> bool {
        match self {
            PlanLimit::Id(limit) => Some(*limit) == id,
            PlanLimit::Code(limit) => limit == code,
        }
    }

    fn describe(&self) -> String {
        match self {
            PlanLimit::Id(id) => format!("plan {id}"),
            PlanLimit::Code(code) => format!("plan {code:?}"),
        }
    }
}

/// Who is writing, from a valid token.
#[derive(Debug, Clone)]
pub struct Principal {
    pub subject: String,
    pub issuer: String,
    /// The token's id (`jti`, or Entra ID's `uti`): with the issuer, what a revocation names.
    pub jti: String,
    pub scopes: Vec<Scope>,
    /// Restricts `projects:write` to projects with a responsible division in this department.
    pub department: Option<i64>,
    /// The plans the token may write (empty: every plan). Admin tokens are limited too.
    pub plans: Vec<PlanLimit>,
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

    /// Refuses a record of a plan the token is not limited to (checked before and after a change).
    pub fn check_plan(&self, conn: &mut crate::db::DbConnection, plan_id: i64) -> Result<(), ApiError> {
        if self.plans.is_empty() {
            return Ok(());
        }
        let code = crate::db::plans::code_of(conn, plan_id)?.unwrap_or_default();
        self.check_plan_named(Some(plan_id), &code)
    }

    /// The same for a plan known by its code, such as one an import is about to create.
    pub fn check_plan_named(&self, id: Option<i64>, code: &str) -> Result<(), ApiError> {
        if self.plans.is_empty() || self.plans.iter().any(|limit| limit.reaches(id, code)) {
            return Ok(());
        }
        let reach: Vec<String> = self.plans.iter().map(PlanLimit::describe).collect();
        let named = match id {
            Some(id) => format!("plan {id}"),
            None => format!("plan {code:?}"),
        };
        Err(ApiError::Forbidden(format!(
            "this token reaches only {}, not {named}",
            reach.join(" and ")
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
    /// `JWT_SECRET`: this service's own tokens.
    secret: Option<(DecodingKey, EncodingKey)>,
    /// `JWT_PUBLIC_KEY_FILE`: one provider key and its algorithm.
    public_key: Option<(DecodingKey, Algorithm)>,
    /// `JWT_JWKS_FILE` / `JWT_JWKS_URL`.
    key_set: Option<IdentityKeys>,
    algorithms: Vec<Algorithm>,
    issuers: Vec<String>,
    audiences: Vec<String>,
    leeway: u64,
    own_claims: ClaimRules,
    provider_claims: ClaimRules,
}

impl Authenticator {
    /// Every setting checked, and the identity provider's keys loading (a URL's in the background).
    pub fn from_config(config: &Config) -> Result<Self, String> {
        Self::build(config, true)
    }

    /// Every setting checked, without loading the provider's keys: for the command line, which
    /// issues the service's own tokens or checks the configuration before the service starts.
    pub fn offline(config: &Config) -> Result<Self, String> {
        Self::build(config, false)
    }

    fn build(config: &Config, load_keys: bool) -> Result<Self, String> {
        let list = |text: &str| -> Vec<String> {
            text.split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(str::to_string)
                .collect()
        };
        let issuers = list(&config.jwt_issuer);
        let audiences = list(&config.jwt_audience);
        if issuers.is_empty() || audiences.is_empty() {
            return Err("JWT_ISSUER and JWT_AUDIENCE must each name at least one value".into());
        }
        let algorithms = key_set::parse_algorithms(&config.jwt_algorithms)?;
        let secret = match &config.jwt_secret {
            None => None,
            Some(secret) if secret.len() < MIN_SECRET_BYTES => {
                return Err(format!("JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes"))
            }
            Some(secret) => Some((
                DecodingKey::from_secret(secret.as_bytes()),
                EncodingKey::from_secret(secret.as_bytes()),
            )),
        };
        let key_source = match (&config.jwt_jwks_file, &config.jwt_jwks_url) {
            (Some(_), Some(_)) => return Err("set JWT_JWKS_FILE or JWT_JWKS_URL, not both".into()),
            (Some(path), None) => Some(KeySource::File(path.clone())),
            (None, Some(url)) => Some(KeySource::Url(identity_keys::check_url(url)?)),
            (None, None) => None,
        };
        let public_key = match &config.jwt_public_key_file {
            None => None,
            Some(_) if secret.is_some() || key_source.is_some() => {
                return Err("JWT_PUBLIC_KEY_FILE stands alone: not beside JWT_SECRET or a key set".into())
            }
            Some(path) => {
                let pem =
                    std::fs::read(path).map_err(|error| format!("JWT_PUBLIC_KEY_FILE {}: {error}", path.display()))?;
                let (key, algorithm) = match config.jwt_public_key_alg.as_str() {
                    "RS256" => (DecodingKey::from_rsa_pem(&pem), Algorithm::RS256),
                    _ => (DecodingKey::from_ed_pem(&pem), Algorithm::EdDSA),
                };
                let key = key.map_err(|error| format!("JWT_PUBLIC_KEY_FILE {}: {error}", path.display()))?;
                Some((key, algorithm))
            }
        };
        let key_set = key_source
            .filter(|_| load_keys)
            .map(|source| IdentityKeys::start(source, config.key_settings(algorithms.clone())))
            .transpose()?;
        let provider_claims = ClaimRules::from_settings(&ClaimSettings {
            scope_claims: &config.jwt_scope_claims,
            scope_map: config.jwt_scope_map.as_deref(),
            id_claims: &config.jwt_id_claims,
            dept_claim: &config.jwt_dept_claim,
            dept_map: config.jwt_dept_map.as_deref(),
            plan_claim: &config.jwt_plan_claim,
            plan_map: config.jwt_plan_map.as_deref(),
        })?;
        Ok(Authenticator {
            secret,
            public_key,
            key_set,
            algorithms,
            issuers,
            audiences,
            leeway: config.jwt_leeway_secs,
            own_claims: ClaimRules::own(),
            provider_claims,
        })
    }

    pub fn writes_enabled(&self) -> bool {
        self.secret.is_some() || self.public_key.is_some() || self.key_set.is_some()
    }

    /// The identity provider's keys, when a key set is configured (for `/readyz`).
    pub fn key_status(&self) -> Option<KeyStatus> {
        self.key_set.as_ref().map(IdentityKeys::status)
    }

    /// The principal of an `Authorization` header value. Revocation is checked against the database
    /// by the caller, inside its transaction.
    pub async fn authenticate(&self, authorization: Option<&str>) -> Result<Principal, ApiError> {
        if !self.writes_enabled() {
            return Err(ApiError::WritesDisabled);
        }
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
        let header = decode_header(token).map_err(|_| invalid())?;
        if Family::of(header.alg).is_none() {
            return match &self.secret {
                Some((key, _)) if header.alg == Algorithm::HS256 => {
                    self.own_claims.principal(&self.verify(token, key, Algorithm::HS256)?)
                }
                _ => Err(ApiError::InvalidToken(format!(
                    "alg {:?} is accepted only for tokens this service issues itself (HS256 with JWT_SECRET)",
                    header.alg
                ))),
            };
        }
        if let Some(key_set) = &self.key_set {
            let mut keys = key_set.current()?;
            if matches!(keys.select(&header, &self.algorithms), Selection::Unknown) {
                // Read the keys again even when this request's refresh was refused by the
                // cooldown: a scheduled fetch may have brought the key in the meantime.
                key_set.refresh().await;
                keys = key_set.current()?;
            }
            return match keys.select(&header, &self.algorithms) {
                Selection::Key(key) => self
                    .provider_claims
                    .principal(&self.verify(token, &key.key, header.alg)?),
                Selection::Unknown => Err(ApiError::InvalidToken(match &header.kid {
                    Some(kid) => format!("its key (kid {kid:?}) is not in the identity provider's key set"),
                    None => format!("no key of the identity provider's key set fits alg {:?}", header.alg),
                })),
                Selection::Refused(reason) => Err(ApiError::InvalidToken(reason)),
            };
        }
        match &self.public_key {
            Some((key, algorithm)) if *algorithm == header.alg => {
                self.provider_claims.principal(&self.verify(token, key, *algorithm)?)
            }
            _ => Err(ApiError::InvalidToken(format!("alg {:?} is not accepted", header.alg))),
        }
    }

    /// Checks the signature, expiry, not-before, issuer and audience; answers the claims.
    fn verify(&self, token: &str, key: &DecodingKey, algorithm: Algorithm) -> Result<Value, ApiError> {
        let mut validation = Validation::new(algorithm);
        validation.algorithms = vec![algorithm];
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.set_issuer(&self.issuers);
        validation.set_audience(&self.audiences);
        validation.validate_nbf = true;
        validation.leeway = self.leeway;
        decode::<Value>(token, key, &validation)
            .map(|data| data.claims)
            .map_err(|error| {
                ApiError::InvalidToken(
                    match error.kind() {
                        ErrorKind::ExpiredSignature => "it has expired",
                        ErrorKind::ImmatureSignature => "it is not valid yet (nbf)",
                        ErrorKind::InvalidIssuer => "its issuer (iss) is not one JWT_ISSUER accepts",
                        ErrorKind::InvalidAudience => "its audience (aud) is not one JWT_AUDIENCE accepts",
                        ErrorKind::MissingRequiredClaim(_) => "it lacks one of the claims exp, iss, aud and sub",
                        ErrorKind::InvalidAlgorithm => "its alg does not fit the key",
                        _ => "its signature or claims do not verify",
                    }
                    .to_string(),
                )
            })
    }

    /// A new HS256 token; fails without a secret (tokens of a public key are issued by its provider).
    pub fn issue(
        &self,
        subject: &str,
        scopes: &[Scope],
        department: Option<i64>,
        plan: Option<&PlanLimit>,
        ttl: Duration,
    ) -> Result<(String, Claims), String> {
        let (_, signer) = self
            .secret
            .as_ref()
            .ok_or("issuing tokens needs JWT_SECRET (tokens for a public key come from its identity provider)")?;
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: subject.to_string(),
            scope: scopes.iter().map(|scope| scope.as_str()).collect::<Vec<_>>().join(" "),
            dept: department,
            plan: plan.map(PlanLimit::to_value),
            jti: uuid::Uuid::new_v4().to_string(),
            iss: self.issuers[0].clone(),
            aud: self.audiences[0].clone(),
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

    #[tokio::test]
    async fn issued_tokens_validate_with_their_scopes() {
        let auth = authenticator(&"k".repeat(32));
        let (token, claims) = auth
            .issue("alice", &[Scope::ProjectsWrite], Some(3), None, Duration::from_secs(60))
            .unwrap();
        let principal = auth.authenticate(Some(&format!("Bearer {token}"))).await.unwrap();
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
            issuer: "strategy-api".into(),
            jti: "1".into(),
            scopes: vec![Scope::Admin],
            department: None,
            plans: Vec::new(),
        };
        assert!(Scope::ALL.iter().all(|scope| principal.require(*scope).is_ok()));
    }

    /// A city identity provider's EdDSA tokens validate with its public key; an HS256 token made
    /// with that public key as the secret (algorithm confusion) does not.
    #[tokio::test]
    async fn identity_provider_tokens_validate_with_the_public_key_only() {
        let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
        let mut config = Config::with_database("unused");
        config.jwt_public_key_file = Some(format!("{fixtures}/idp-ed25519-public.pem").into());
        config.jwt_public_key_alg = "EdDSA".into();
        let auth = Authenticator::from_config(&config).unwrap();
        assert!(auth
            .issue("x", &[Scope::Admin], None, None, Duration::from_secs(60))
            .is_err());

        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: "idp-user".into(),
            scope: "kpis:write".into(),
            dept: None,
            plan: None,
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
        let principal = auth.authenticate(Some(&format!("Bearer {signed}"))).await.unwrap();
        assert_eq!(principal.subject, "idp-user");

        let public = std::fs::read(format!("{fixtures}/idp-ed25519-public.pem")).unwrap();
        let confused = encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(&public),
        )
        .unwrap();
        assert!(auth.authenticate(Some(&format!("Bearer {confused}"))).await.is_err());
    }

    #[tokio::test]
    async fn other_secrets_and_garbage_are_invalid() {
        let auth = authenticator(&"k".repeat(32));
        let other = authenticator(&"x".repeat(32));
        let (token, _) = other
            .issue("eve", &[Scope::Admin], None, None, Duration::from_secs(60))
            .unwrap();
        for header in [
            format!("Bearer {token}"),
            "Bearer".into(),
            "Basic abc".into(),
            "Bearer a.b.c".into(),
        ] {
            assert!(
                matches!(
                    auth.authenticate(Some(&header)).await,
                    Err(ApiError::Unauthorized { invalid_token: true } | ApiError::InvalidToken(_))
                ),
                "{header}"
            );
        }
        assert!(matches!(
            auth.authenticate(None).await,
            Err(ApiError::Unauthorized { invalid_token: false })
        ));
    }
}
