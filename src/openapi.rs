//! The OpenAPI document, collected from the handlers by utoipa-actix-web.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
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
`application/problem+json`.\n\n\
Reads are public. Writes need a bearer token with the operation's scope and, for PATCH and DELETE, \
`If-Match` with the record's current `ETag` (428 without it, 412 when the record changed). \
Every write is audited; `GET /api/v1/changes` lists what changed after a cursor.",
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
        (name = "progress", description = "KPI progress rolled up to the plan, goals, measures, initiatives and departments"),
        (name = "evaluations", description = "Yearly evaluations frozen by the city's evaluation committee"),
        (name = "results", description = "Yearly KPI results (実績値)"),
        (name = "changes", description = "The change feed and the audit record"),
        (name = "health", description = "Liveness and readiness"),
    ),
    components(schemas(Problem, FieldError)),
    modifiers(&BearerScheme)
)]
pub struct ApiDoc;

/// Writes need `Authorization: Bearer <JWT>`; each write operation names the scope it needs
/// (`admin`, `kpis:write`, `projects:write`; admin tokens may do everything).
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A JWT with `sub`, `jti`, `exp`, `iss`, `aud` and a space-separated `scope` \
                         (`admin`, `kpis:write`, `projects:write`); `dept` limits `projects:write` to one \
                         department. Issue one with `strategy-api token issue`.",
                    ))
                    .build(),
            ),
        );
    }
}

/// The whole document, as `/openapi.json` serves it and `strategy-api openapi` prints it.
pub fn document() -> utoipa::openapi::OpenApi {
    let (_, document) = actix_web::App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(crate::api::configure)
        .split_for_parts();
    with_merge_patch_bodies(document)
}

/// A merge patch (RFC 7396) sends only the fields that change, at any depth: each PATCH body is
/// documented as its form with nothing required, so that clients and checkers know a partial
/// body is valid.
fn with_merge_patch_bodies(mut document: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    let schemas = serde_json::to_value(&document.components).expect("the components serialize")["schemas"].clone();
    for item in document.paths.paths.values_mut() {
        let bodies = item
            .patch
            .as_mut()
            .and_then(|patch| patch.request_body.as_mut())
            .map(|body| body.content.values_mut());
        for content in bodies.into_iter().flatten() {
            let Some(schema) = content.schema.as_mut() else {
                continue;
            };
            let original = serde_json::to_value(&*schema).expect("a schema serializes");
            *schema = serde_json::from_value(nothing_required(&original, &schemas)).expect("a loosened schema parses");
        }
    }
    document
}

/// `schema` with every `$ref` inlined and every `required` list dropped, at every depth.
fn nothing_required(schema: &serde_json::Value, schemas: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match schema {
        Value::Object(fields) => {
            if let Some(Value::String(reference)) = fields.get("$ref") {
                let name = reference.trim_start_matches("#/components/schemas/");
                return nothing_required(&schemas[name], schemas);
            }
            fields
                .iter()
                .filter(|(key, _)| key.as_str() != "required")
                .map(|(key, value)| (key.clone(), nothing_required(value, schemas)))
                .collect::<serde_json::Map<_, _>>()
                .into()
        }
        Value::Array(items) => items.iter().map(|item| nothing_required(item, schemas)).collect(),
        other => other.clone(),
    }
}

/// The document as committed in `openapi/openapi.json`.
pub fn document_json() -> String {
    let mut json = document().to_pretty_json().expect("the OpenAPI document serializes");
    json.push('\n');
    json
}
