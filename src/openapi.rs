//! The OpenAPI document, collected from the handlers by utoipa-actix-web.

use utoipa::OpenApi;
use utoipa_actix_web::AppExt;

use crate::error::{FieldError, Problem};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "strategy-api",
        description = "第2期厚木市まち・ひと・しごと創生総合戦略 (Atsugi City's second regional-revitalization \
strategy): its goals, measures, initiatives, KPIs, projects and the departments responsible for them, \
exactly as the city published them.\n\n\
Every record has a stable integer `id` and a `code` that follows the document's numbering \
(goal `1`, measure `1-2`, initiative `1-2-1`, KPI `1-2-1-1`; projects `P001`, departments `D01`, divisions `D01-01`). \
Collections answer `{items, total, limit, offset}` with an RFC 8288 `Link` header; errors are RFC 9457 \
`application/problem+json`.",
        license(name = "MIT", identifier = "MIT"),
    ),
    tags(
        (name = "plans", description = "Strategy documents"),
        (name = "goals", description = "Basic goals (基本目標)"),
        (name = "measures", description = "Measures (具体的な施策)"),
        (name = "initiatives", description = "Initiatives (主な取組)"),
        (name = "kpis", description = "Key performance indicators (重要業績評価指標)"),
        (name = "projects", description = "Projects (事業)"),
        (name = "departments", description = "Departments (部)"),
        (name = "divisions", description = "Divisions (課)"),
        (name = "health", description = "Liveness and readiness"),
    ),
    components(schemas(Problem, FieldError))
)]
pub struct ApiDoc;

/// The whole document, as `/openapi.json` serves it and `strategy-api openapi` prints it.
pub fn document() -> utoipa::openapi::OpenApi {
    let (_, document) = actix_web::App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(crate::api::configure)
        .split_for_parts();
    document
}

/// The document as committed in `openapi/openapi.json`.
pub fn document_json() -> String {
    let mut json = document()
        .to_pretty_json()
        .expect("the OpenAPI document serializes");
    json.push('\n');
    json
}
