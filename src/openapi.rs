//! The OpenAPI document, collected from the handlers by utoipa-actix-web.

use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::AppExt;

use crate::error::{responses, FieldError, Problem};

/// Where the document is served.
pub const DOCUMENT_PATH: &str = "/openapi.json";
/// Where Swagger UI is served.
pub const SWAGGER_UI_PATH: &str = "/docs/";

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
        (name = "webhooks", description = "Changes pushed to subscribed systems as signed webhooks (Standard Webhooks)"),
        (name = "catalog", description = "The DCAT catalogue (DCAT-AP 3.0.1) that data portals harvest"),
        (name = "health", description = "Liveness and readiness"),
    ),
    servers((url = "/", description = "This service, wherever it is deployed")),
    components(schemas(Problem, FieldError, crate::api::webhooks::WebhookEvent)),
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
                        "A JWT with `sub`, `exp`, `iss`, `aud`, a token id (`jti`, or Entra ID's `uti`) and \
                         the scopes `admin`, `kpis:write` or `projects:write`: in this service's own tokens \
                         (`strategy-api token issue`) a space-separated `scope`; in the identity provider's, \
                         its roles or scopes as the deployment maps them (`JWT_SCOPE_MAP`). A department \
                         (`dept`) limits `projects:write` and `kpis:write` to its records; a `plan` claim \
                         limits the token to that plan's records.",
                    ))
                    .build(),
            ),
        );
    }
}

/// The whole document, as `/openapi.json` serves it and `strategy-api openapi` prints it. The last
/// passes work on its JSON: the typed model does not read itself back with `arbitrary_precision`.
pub fn document() -> serde_json::Value {
    let (_, document) = actix_web::App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(crate::api::configure)
        .split_for_parts();
    let mut document = with_text_patterns(document);
    document
        .components
        .get_or_insert_with(Default::default)
        .responses
        .extend(responses::all());
    for (path, item) in document.paths.paths.iter_mut() {
        if let Some(read) = item.get.as_mut().filter(|_| path.starts_with(crate::api::API_BASE)) {
            with_conditional_read(read);
        }
        for operation in operations(item) {
            with_sort_fields(operation);
            with_middleware_responses(operation);
            // Reads are public: say so, rather than leave a checker to guess.
            operation.security.get_or_insert_with(Vec::new);
        }
    }
    let mut document = serde_json::to_value(&document).expect("the document serializes");
    with_collection_items_by_reference(&mut document);
    with_merge_patch_bodies(&mut document);
    with_links(&mut document);
    with_linked_data(&mut document);
    with_webhooks(&mut document);
    document
}

/// OpenAPI 3.1's `webhooks`: what a subscription's URL receives, so that a receiver's types can be
/// generated as a client's are.
fn with_webhooks(document: &mut serde_json::Value) {
    use serde_json::json;
    let header = |name: &str, description: &str, example: serde_json::Value| {
        json!({"name": name, "in": "header", "required": true, "description": description,
               "schema": {"type": "string"}, "example": example})
    };
    document["webhooks"] = json!({
        "change": {
            "post": {
                "operationId": "receiveChange",
                "tags": ["webhooks"],
                "summary": "A change of the feed, pushed to a subscription's URL",
                "description": "Every committed change a subscription asks for is POSTed to its URL, one at a \
    time in cursor order, signed as Standard Webhooks (https://www.standardwebhooks.com) gives it: verify \
    `webhook-signature` over `webhook-id.webhook-timestamp.body` with the subscription's secret, using any of the \
    specification's verifier libraries. Answer 2xx within `WEBHOOK_TIMEOUT_SECS` (15 s): anything else (a redirect \
    too, which is not followed) is a failure, retried with exponential backoff and jitter (`Retry-After` is \
    respected) for `WEBHOOK_RETRY_WINDOW_SECS` (a day) from the first attempt; then the subscription is paused as \
    `failing`. 410 Gone pauses it at once. A retry, a redelivery or a delivery after a crash carries the same \
    `webhook-id`: use it to drop duplicates.",
                "security": [],
                "parameters": [
                    header("webhook-id", "The delivery's id, the same at every attempt", json!("msg_0f3c2a7e9b8d4c1fa6e5d3b2c1a09f8e")),
                    header("webhook-timestamp", "When this attempt was sent, in Unix seconds: refuse one too far from your clock", json!("1796454000")),
                    header("webhook-signature", "`v1,` and the base64 HMAC-SHA256 of `id.timestamp.body` with the secret; during a secret rotation, a second signature with the previous secret, space separated", json!("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")),
                ],
                "requestBody": {
                    "required": true,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/WebhookEvent"}}}
                },
                "responses": {
                    "2XX": {"description": "Received: the delivery is done"},
                    "410": {"description": "Gone: the subscription is paused as failing, and nothing more is sent"},
                    "default": {"description": "Any other answer, or none in time, is a failure: the delivery is tried again"}
                }
            }
        }
    });
}

/// Records and their collections also answer JSON-LD (`Accept: application/ld+json`): the same
/// fields with `@context`, `@id` and `@type`; a record names its IRI in `Link: rel="canonical"`.
fn with_linked_data(document: &mut serde_json::Value) {
    use serde_json::json;
    for (collection, class, _) in crate::linked_data::CLASSES {
        let list = format!("{}/{collection}", crate::api::API_BASE);
        for (path, is_item) in [(list.clone(), false), (format!("{list}/{{id}}"), true)] {
            let Some(ok) = document.pointer_mut(&format!(
                "/paths/{}/get/responses/200",
                path.replace('~', "~0").replace('/', "~1")
            )) else {
                continue;
            };
            let schema = ok["content"]["application/json"]["schema"].clone();
            ok["content"][crate::linked_data::MEDIA_TYPE] = json!({
                "schema": schema,
                "x-json-ld": {
                    "@context": format!("{}{}", crate::api::API_BASE, crate::linked_data::CONTEXT_PATH),
                    "@type": class,
                },
            });
            if is_item {
                ok["headers"]["Link"] = json!({
                    "description": "The record's IRI: `<https://…/api/v1/…/{id}>; rel=\"canonical\"`",
                    "schema": {"type": "string"},
                });
            }
        }
    }
}

/// A component of the document as a standalone JSON Schema (2020-12, as OpenAPI 3.1's schemas
/// are), with every component it refers to under `$defs`: for tools that validate a file.
pub fn json_schema(document: &serde_json::Value, name: &str, id: &str) -> serde_json::Value {
    use serde_json::{json, Map, Value};
    let components = &document["components"]["schemas"];
    let mut needed = vec![name.to_string()];
    let mut defs = Map::new();
    while let Some(next) = needed.pop() {
        if defs.contains_key(&next) {
            continue;
        }
        let schema = components[&next].clone();
        let mut references = Vec::new();
        collect_references(&schema, &mut references);
        needed.extend(references);
        defs.insert(next, schema);
    }
    let mut schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": id,
        "title": name,
        "$ref": format!("#/$defs/{name}"),
        "$defs": Value::Object(defs),
    });
    point_references_at_defs(&mut schema);
    schema
}

fn collect_references(value: &serde_json::Value, into: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(object) => {
            if let Some(target) = object.get("$ref").and_then(|target| target.as_str()) {
                if let Some(name) = target.strip_prefix("#/components/schemas/") {
                    into.push(name.to_string());
                }
            }
            object.values().for_each(|value| collect_references(value, into));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|value| collect_references(value, into)),
        _ => {}
    }
}

fn point_references_at_defs(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(object) => {
            if let Some(serde_json::Value::String(target)) = object.get_mut("$ref") {
                if let Some(name) = target.strip_prefix("#/components/schemas/") {
                    *target = format!("#/$defs/{name}");
                }
            }
            object.values_mut().for_each(point_references_at_defs);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(point_references_at_defs),
        _ => {}
    }
}

/// utoipa inlines the record schema of each `Collection<T>`; pointing at the record's own component
/// instead gives generated clients one model per record, not a copy per collection.
fn with_collection_items_by_reference(document: &mut serde_json::Value) {
    let schemas = document["components"]["schemas"].as_object_mut().expect("schemas");
    let records: Vec<(String, String)> = schemas
        .keys()
        .filter_map(|name| {
            name.strip_prefix("Collection_")
                .map(|record| (name.clone(), record.to_string()))
        })
        .collect();
    for (collection, record) in records {
        let Some(component) = schemas.get(&record).cloned() else {
            continue;
        };
        let items = &mut schemas[&collection]["properties"]["items"]["items"];
        if *items == component {
            *items = serde_json::json!({"$ref": format!("#/components/schemas/{record}")});
        }
    }
}

/// Every operation of a path item, with its method.
fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// The fields each collection sorts by, as its handler passes them to `QueryParams::page`.
const SORTABLE: &[(&str, &[&str])] = &[
    ("listPlans", crate::db::plans::PLAN_SORT),
    ("listPlanEvaluations", crate::db::evaluations::EVALUATION_SORT),
    ("listGoals", crate::db::goals::GOAL_SORT),
    ("listMeasures", crate::db::goals::MEASURE_SORT),
    ("listInitiatives", crate::db::goals::INITIATIVE_SORT),
    ("listKpis", crate::db::kpis::KPI_SORT),
    ("listProjects", crate::db::projects::PROJECT_SORT),
    ("listDepartments", crate::db::departments::DEPARTMENT_SORT),
    ("listDivisions", crate::db::departments::DIVISION_SORT),
    ("listAuditRecords", crate::db::write::AUDIT_SORT),
    ("listWebhooks", crate::db::webhooks::WEBHOOK_SORT),
    ("listWebhookDeliveries", crate::db::webhooks::DELIVERY_SORT),
];

/// `sort` as what it is: a comma-separated list (`style: form, explode: false`) of the
/// collection's fields, each ascending or, with `-`, descending.
fn with_sort_fields(operation: &mut Operation) {
    use utoipa::openapi::path::{ParameterBuilder, ParameterStyle};
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    let Some((_, fields)) = SORTABLE
        .iter()
        .find(|(id, _)| operation.operation_id.as_deref() == Some(*id))
    else {
        return;
    };
    let keys: Vec<String> = fields
        .iter()
        .flat_map(|field| [field.to_string(), format!("-{field}")])
        .collect();
    for parameter in operation
        .parameters
        .iter_mut()
        .flatten()
        .filter(|parameter| parameter.name == "sort")
    {
        *parameter = ParameterBuilder::from(parameter.clone())
            .schema(Some(
                ArrayBuilder::new()
                    .items(
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .enum_values(Some(keys.clone())),
                    )
                    .min_items(Some(1))
                    .unique_items(true),
            ))
            .style(Some(ParameterStyle::Form))
            .explode(Some(false))
            .example(Some(serde_json::json!([format!("-{}", fields[0])])))
            .build();
    }
}

/// Streamed answers, which the conditional-GET middleware passes on untouched (the change
/// stream never ends, so it has no ETag at all).
pub const STREAMED: &[&str] = &["exportPlan", "exportPlanZip", "listChangesLive"];

/// What the conditional-GET middleware (`middleware::conditional_get`) does for every other API
/// read: `If-None-Match` with the answer's ETag (or `If-Modified-Since`) is a 304 without a body.
fn with_conditional_read(operation: &mut Operation) {
    use utoipa::openapi::path::ParameterIn;
    use utoipa::openapi::ResponseBuilder;
    use utoipa::IntoParams;
    if STREAMED.contains(&operation.operation_id.as_deref().unwrap_or_default()) {
        return;
    }
    let parameters = operation.parameters.get_or_insert_with(Vec::new);
    for parameter in crate::api::records::ConditionalGet::into_params(|| Some(ParameterIn::Header)) {
        if !parameters.iter().any(|known| known.name == parameter.name) {
            parameters.push(parameter);
        }
    }
    operation
        .responses
        .responses
        .entry("304".to_string())
        .or_insert_with(|| {
            RefOr::T(
                ResponseBuilder::new()
                    .description("Not modified since the ETag in If-None-Match (or the time in If-Modified-Since)")
                    .build(),
            )
        });
}

/// What the request-limits middleware (`middleware::limits`) may answer before any handler runs:
/// on every operation a too-long target, too-large headers, the rate limit and the request
/// timeout; where there is a body, its size, its type and its arrival time too.
fn with_middleware_responses(operation: &mut Operation) {
    let mut statuses = vec![
        ("414", "UriTooLong"),
        ("429", "TooManyRequests"),
        ("431", "RequestHeaderFieldsTooLarge"),
        ("503", "ServiceUnavailable"),
    ];
    if operation.request_body.is_some() {
        statuses.extend([
            ("408", "RequestTimeout"),
            ("413", "ContentTooLarge"),
            ("415", "UnsupportedMediaType"),
        ]);
    }
    for (status, name) in statuses {
        operation
            .responses
            .responses
            .entry(status.to_string())
            .or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
    }
}

/// OpenAPI links, so that a client or a stateful tester can follow a record from its creation to
/// its reads and writes with real ids and ETags. Records' operations are named `create{Name}` (or
/// `put{Name}`), `get{Name}`, `update{Name}`, `delete{Name}`: each creating or reading answer links
/// to the others of its record. A path parameter of the target comes from the request's own path
/// where it has one by that name, else from the answer's `id`; writes carry the answer's `ETag` as
/// `If-Match`.
fn with_links(document: &mut serde_json::Value) {
    use serde_json::{json, Map, Value};
    const VERBS: [&str; 5] = ["create", "put", "get", "update", "delete"];
    // operationId → (path, its path parameters)
    let mut operations = std::collections::BTreeMap::new();
    for (path, item) in document["paths"].as_object().expect("paths").clone() {
        for operation in item.as_object().expect("a path item").values() {
            if let Some(id) = operation["operationId"].as_str() {
                operations.insert(id.to_string(), path_parameters(&path));
            }
        }
    }
    let record_of = |id: &str| {
        VERBS
            .iter()
            .find_map(|verb| id.strip_prefix(verb).map(|name| (*verb, name.to_string())))
    };
    for (path, item) in document["paths"].as_object_mut().expect("paths").iter_mut() {
        let own_parameters = path_parameters(path);
        for operation in item.as_object_mut().expect("a path item").values_mut() {
            let Some((verb, name)) = operation["operationId"].as_str().and_then(record_of) else {
                continue;
            };
            if !matches!(verb, "create" | "put" | "get") {
                continue;
            }
            let mut links = Map::new();
            // Every other write of the same record: a KPI's target revision too.
            let targets = VERBS
                .iter()
                .filter(|target| **target != "create" && **target != verb)
                .map(|target_verb| (*target_verb, format!("{target_verb}{name}")))
                .chain([("revise", format!("revise{name}Target"))]);
            for (target_verb, target) in targets {
                let Some(target_parameters) = operations.get(&target) else {
                    continue;
                };
                let mut parameters = Map::new();
                for parameter in target_parameters {
                    let source = if own_parameters.contains(parameter) {
                        format!("$request.path.{parameter}")
                    } else {
                        "$response.body#/id".to_string()
                    };
                    parameters.insert(format!("path.{parameter}"), json!(source));
                }
                if target_verb != "get" {
                    parameters.insert("header.If-Match".into(), json!("$response.header.ETag"));
                }
                links.insert(
                    target.clone(),
                    json!({"operationId": target, "parameters": parameters,
                           "description": format!("The same record, by `{target}`")}),
                );
            }
            if links.is_empty() {
                continue;
            }
            for status in ["200", "201"] {
                if let Some(response) = operation["responses"].get_mut(status).and_then(Value::as_object_mut) {
                    response.insert("links".into(), Value::Object(links.clone()));
                }
            }
        }
    }
}

/// `["id", "year"]` of `/api/v1/kpis/{id}/results/{year}`.
fn path_parameters(path: &str) -> Vec<String> {
    path.split('{')
        .skip(1)
        .filter_map(|part| part.split_once('}').map(|(name, _)| name.to_string()))
        .collect()
}

/// Each text field a client sends states its length (`max_length`, as its validator checks it);
/// the pattern of what `Checks::text` accepts at that length is added here, from the same rule.
fn with_text_patterns(mut document: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    use utoipa::openapi::schema::Schema;
    let Some(components) = document.components.as_mut() else {
        return document;
    };
    for schema in components.schemas.values_mut() {
        let RefOr::T(Schema::Object(form)) = schema else {
            continue;
        };
        for property in form.properties.values_mut() {
            if let RefOr::T(Schema::Object(field)) = property {
                if let (Some(max), None, None) = (field.max_length, &field.pattern, &field.format) {
                    field.pattern = Some(crate::domain::validate::text_pattern(max));
                }
            }
        }
    }
    document
}

/// A merge patch (RFC 7396) sends only the fields that change, at any depth: each PATCH body is
/// documented as its form with nothing required, so that clients and checkers know a partial
/// body is valid.
fn with_merge_patch_bodies(document: &mut serde_json::Value) {
    let schemas = document["components"]["schemas"].clone();
    for item in document["paths"].as_object_mut().expect("paths").values_mut() {
        let Some(content) = item
            .pointer_mut("/patch/requestBody/content")
            .and_then(serde_json::Value::as_object_mut)
        else {
            continue;
        };
        for media in content.values_mut() {
            if let Some(schema) = media.get_mut("schema") {
                *schema = nothing_required(schema, &schemas);
            }
        }
    }
}

/// `schema` with every `$ref` inlined and every `required` list dropped, at every depth of its
/// objects (array items are left as they are).
fn nothing_required(schema: &serde_json::Value, schemas: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match schema {
        Value::Object(fields) => {
            if let Some(Value::String(reference)) = fields.get("$ref") {
                let name = reference.trim_start_matches("#/components/schemas/");
                return nothing_required(&schemas[name], schemas);
            }
            // A merge patch replaces arrays whole: their items stay complete records.
            fields
                .iter()
                .filter(|(key, _)| key.as_str() != "required")
                .map(|(key, value)| match key.as_str() {
                    "items" => (key.clone(), value.clone()),
                    _ => (key.clone(), nothing_required(value, schemas)),
                })
                .collect::<serde_json::Map<_, _>>()
                .into()
        }
        Value::Array(items) => items.iter().map(|item| nothing_required(item, schemas)).collect(),
        other => other.clone(),
    }
}

/// The document as committed in `openapi/openapi.json`.
pub fn document_json() -> String {
    let mut json = serde_json::to_string_pretty(&document()).expect("the OpenAPI document serializes");
    json.push('\n');
    json
}
