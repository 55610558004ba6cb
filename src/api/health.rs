//! `/healthz` and `/readyz`: for load balancers and orchestrators.

use actix_web::{get, web};
use serde::Serialize;
use utoipa::ToSchema;

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
}

/// Liveness: the process answers HTTP.
#[utoipa::path(operation_id = "checkLiveness", tag = "health", responses((status = 200, description = "Alive", body = Health)))]
#[get("/healthz")]
pub async fn healthz() -> web::Json<Health> {
    web::Json(Health {
        status: "ok",
        database: None,
    })
}

/// Readiness: the database answers too.
#[utoipa::path(
    operation_id = "checkReadiness",
    tag = "health",
    responses(
        (status = 200, description = "Ready to serve", body = Health),
        (status = 503, response = crate::error::responses::ServiceUnavailable),
    )
)]
#[get("/readyz")]
pub async fn readyz(database: web::Data<Database>) -> Result<web::Json<Health>, ApiError> {
    let backend = database.backend().name();
    database
        .run(|conn| db::ping(conn).map_err(|error| ApiError::Unavailable(error.to_string())))
        .await?;
    Ok(web::Json(Health {
        status: "ready",
        database: Some(backend),
    }))
}
