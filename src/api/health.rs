//! `/healthz` and `/readyz`: for load balancers and orchestrators.

use actix_web::{get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Authenticator;
use crate::db::{self, Database};
use crate::error::ApiError;

/// The service's state.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: &'static str,
    /// The database backend, on `/readyz`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "sqlite")]
    pub database: Option<&'static str>,
    /// On `/readyz` when writes verify tokens with an identity provider's key set: whether its keys
    /// are loaded and usable (reads are served either way).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification_keys: Option<VerificationKeys>,
}

/// The state of the identity provider's key set.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerificationKeys {
    /// False until the key set has loaded, or once it is older than `JWT_JWKS_MAX_STALE_SECS`:
    /// writes then answer 503.
    pub loaded: bool,
    /// Keys that can verify tokens.
    #[schema(example = 2)]
    pub keys: usize,
    /// Seconds since the key set was last read, if ever.
    #[schema(example = 42)]
    pub age_secs: Option<u64>,
}

/// Liveness: the process answers HTTP.
#[utoipa::path(operation_id = "checkLiveness", tag = "health", responses((status = 200, description = "Alive", body = Health)))]
#[get("/healthz")]
pub async fn healthz() -> web::Json<Health> {
    web::Json(Health {
        status: "ok",
        database: None,
        verification_keys: None,
    })
}

/// Readiness: the database answers too; the identity provider's keys are reported.
#[utoipa::path(
    operation_id = "checkReadiness",
    tag = "health",
    responses(
        (status = 200, description = "Ready to serve", body = Health),
        (status = 503, response = crate::error::responses::ServiceUnavailable),
    )
)]
#[get("/readyz")]
pub async fn readyz(
    database: web::Data<Database>,
    authenticator: web::Data<Authenticator>,
) -> Result<web::Json<Health>, ApiError> {
    let backend = database.backend().name();
    database
        .run(|conn| db::ping(conn).map_err(|error| ApiError::Unavailable(error.to_string())))
        .await?;
    Ok(web::Json(Health {
        status: "ready",
        database: Some(backend),
        verification_keys: authenticator.key_status().map(|status| VerificationKeys {
            loaded: status.usable,
            keys: status.keys,
            age_secs: status.age.map(|age| age.as_secs()),
        }),
    }))
}
