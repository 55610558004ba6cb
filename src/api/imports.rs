//! `POST /plans/import`: a whole plan from the document `GET /plans/{id}/export` writes.

use actix_web::http::{header, StatusCode};
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde::Serialize;
use utoipa::ToSchema;

use super::records::{self, Writer};
use super::QueryParams;
use crate::auth::Scope;
use crate::db::Database;
use crate::error::ApiError;
use crate::middleware::RequestLimits;
use crate::transfer::bundle::Bundle;
use crate::transfer::document::PlanDocument;
use crate::transfer::load::{self, Counts};

/// What an import created, or in a dry run would create.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportReport {
    /// True when nothing was written: the document was only checked.
    pub dry_run: bool,
    /// The new plan's id (null in a dry run).
    pub plan_id: Option<i64>,
    #[schema(example = "atsugi-3")]
    pub plan_code: String,
    /// Records created per table.
    pub created: Counts,
}

/// The plan document's JSON Schema, built once from the OpenAPI document at start.
pub struct PlanSchema(pub web::Bytes);

/// Where the plan document's JSON Schema is published.
pub const PLAN_SCHEMA_PATH: &str = "/api/v1/schemas/plan-export.json";

/// The JSON Schema (2020-12) of the plan document that the export writes and the import takes, so
/// that a plan prepared in any tool can be validated before it is imported.
#[utoipa::path(
    operation_id = "getPlanDocumentSchema",
    tag = "plans",
    responses((status = 200, description = "The JSON Schema", content_type = "application/schema+json", body = Object))
)]
#[get("/schemas/plan-export.json")]
pub async fn plan_schema(
    request: HttpRequest,
    schema: Option<web::Data<PlanSchema>>,
) -> Result<HttpResponse, ApiError> {
    // Like every read, it takes no query parameter it does not name.
    QueryParams::parse(request.query_string())?.finish()?;
    let schema = schema.ok_or_else(|| ApiError::Internal("the plan schema was not built".into()))?;
    Ok(HttpResponse::Ok()
        .content_type("application/schema+json")
        .body(schema.0.clone()))
}

/// Whether to check only.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DryRunParams {
    /// `true`: check everything and answer what would be created, changing nothing.
    #[param(example = false)]
    pub dry_run: Option<bool>,
}

/// The body of an import, up to the import limit (larger than a single record's).
pub(super) async fn file_body(request: &HttpRequest, mut payload: web::Payload) -> Result<web::Bytes, ApiError> {
    let limit = request
        .app_data::<web::Data<RequestLimits>>()
        .map_or(usize::MAX, |limits| limits.body_limit(request.path()));
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|error| ApiError::bad_field("body", format!("could not be read: {error}")))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::ContentTooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

pub(super) fn content_type(request: &HttpRequest) -> String {
    let value = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    value.split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}

/// Create a whole plan (admin) from the document `GET /plans/{id}/export` answers: departments,
/// divisions, goals, measures, initiatives, KPIs with target revisions and results, projects with
/// their divisions and appearances, evaluations, grading scheme, corrections and catalogue fields,
/// in one transaction, each record audited and in the change feed. Ids are assigned anew; codes
/// are kept; what the export derives (ids, progress, labels, versions, times) is ignored. Every
/// failing place is named by its JSON Pointer (in a zip: by file, row and column), and nothing is
/// written unless all of it is valid.
#[utoipa::path(
    operation_id = "importPlan",
    tag = "plans",
    params(DryRunParams),
    request_body(description = "A plan document as the export writes it, or its export.zip of CSVs (up to MAX_IMPORT_BYTES, 32 MiB by default)",
        content((PlanDocument = "application/json"), (super::export::ZipArchive = "application/zip"))),
    security(("bearer" = ["admin"])),
    responses(
        (status = 201, description = "Created", body = ImportReport, headers(("Location" = String, description = "The new plan"))),
        (status = 200, description = "Dry run: what would be created; nothing was written", body = ImportReport),
        crate::error::CreateErrors,
    )
)]
#[post("/plans/import")]
pub async fn import_plan(
    db: web::Data<Database>,
    writer: Writer,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    writer.require(Scope::Admin)?;
    let mut params = QueryParams::parse(request.query_string())?;
    let dry_run = params.boolean("dry_run")?.unwrap_or(false);
    params.finish()?;
    let kind = content_type(&request);
    let body = file_body(&request, payload).await?;
    // A zip's records are named by file, row and column; a document's by JSON Pointer.
    // Parsing several MB is work for a blocking thread, not for the worker serving other requests.
    let (document, bundle) = web::block(move || match kind.as_str() {
        "application/json" => Ok((PlanDocument::parse(&body)?, None)),
        "application/zip" => {
            let bundle = Bundle::read(&body)?;
            let document = PlanDocument::parse(&bundle.document).map_err(|failure| bundle.named(failure))?;
            Ok((document, Some(bundle)))
        }
        _ => Err(ApiError::UnsupportedMediaTypeOf(
            "application/json (a plan document) or application/zip (its export.zip)",
        )),
    })
    .await
    .map_err(|error| ApiError::Internal(error.to_string()))??;
    let report = db
        .write(move |conn| {
            let actor = writer.actor();
            if let Some(code) = document.plan_code() {
                writer.check_plan_code(code)?;
            }
            let (plan_id, created) = if dry_run {
                load::dry_run(conn, &document, actor.subject)?
            } else {
                let (plan_id, created) = load::import(conn, &document, actor.subject)?;
                writer.check_plan(conn, plan_id)?;
                load::audit_created(conn, &actor, plan_id)?;
                (Some(plan_id), created)
            };
            Ok(ImportReport {
                dry_run,
                plan_id,
                plan_code: document.plan_code().unwrap_or_default().to_string(),
                created,
            })
        })
        .await
        .map_err(|failure| match &bundle {
            Some(bundle) => bundle.named(failure),
            None => failure,
        })?;
    let body = records::to_json(&report)?;
    Ok(match report.plan_id {
        Some(id) => records::written(StatusCode::CREATED, body, Some(format!("/api/v1/plans/{id}"))),
        None => records::written(StatusCode::OK, body, None),
    })
}
