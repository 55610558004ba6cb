//! Records as linked data: each record's IRI (its API address, also sent as `Link: rel="canonical"`),
//! and JSON-LD for `Accept: application/ld+json` — the same JSON with `@context`, `@id` and `@type`.
//! The context (`/api/v1/context.jsonld`) maps the fields to schema.org and DCMI terms where they
//! fit and to the service's own vocabulary (`/vocab`, one anchor per term) otherwise; a plan is
//! tied to its municipality's e-Stat standard area code URI.

use actix_web::http::header;
use actix_web::HttpRequest;
use serde_json::{json, Map, Value};

use crate::api::API_BASE;

pub const MEDIA_TYPE: &str = "application/ld+json";

/// Where the context is served, under the API.
pub const CONTEXT_PATH: &str = "/context.jsonld";

/// Where the vocabulary is documented (a page, one anchor per class and term).
pub const VOCABULARY_PATH: &str = "/vocab";

/// The record collections, their class in the vocabulary and the OpenAPI schema of one record.
pub const CLASSES: &[(&str, &str, &str)] = &[
    ("plans", "Plan", "PlanDetail"),
    ("goals", "Goal", "GoalDetail"),
    ("measures", "Measure", "MeasureDetail"),
    ("initiatives", "Initiative", "InitiativeDetail"),
    ("kpis", "Kpi", "Kpi"),
    ("projects", "Project", "Project"),
    ("departments", "Department", "Department"),
    ("divisions", "Division", "Division"),
];

/// Fields with a term of a well-known vocabulary (the others are the service's own).
const KNOWN_TERMS: &[(&str, &str)] = &[
    ("name", "schema:name"),
    ("title", "dct:title"),
    ("code", "dct:identifier"),
    ("description", "dct:description"),
    ("unit", "schema:unitText"),
    ("keywords", "dcat:keyword"),
    ("publisher", "schema:publisher"),
    ("prefecture", "schema:addressRegion"),
    ("municipality_name", "schema:addressLocality"),
];

/// The well-known term a field maps to, if any.
pub fn known_term(field: &str) -> Option<&'static str> {
    KNOWN_TERMS
        .iter()
        .find(|(name, _)| *name == field)
        .map(|(_, term)| *term)
}

/// Whether the client asked for JSON-LD (before plain JSON, when it names both).
pub fn wanted(request: &HttpRequest) -> bool {
    let accept = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .unwrap_or_default();
    match (accept.find(MEDIA_TYPE), accept.find("application/json")) {
        (Some(linked), Some(plain)) => linked < plain,
        (linked, _) => linked.is_some(),
    }
}

/// The class of a collection (`kpis` → `Kpi`), if its records are linked data.
pub fn class_of(collection: &str) -> Option<&'static str> {
    CLASSES
        .iter()
        .find(|(name, _, _)| *name == collection)
        .map(|(_, class, _)| *class)
}

/// The IRI of a record: its address in the API.
pub fn iri(base: &str, collection: &str, id: i64) -> String {
    format!("{base}{API_BASE}/{collection}/{id}")
}

/// The context document.
pub fn context(base: &str) -> Value {
    let mut terms = Map::new();
    terms.insert("@vocab".into(), format!("{base}{VOCABULARY_PATH}#").into());
    for (prefix, namespace) in [
        ("schema", "https://schema.org/"),
        ("dct", "http://purl.org/dc/terms/"),
        ("dcat", "http://www.w3.org/ns/dcat#"),
        ("xsd", "http://www.w3.org/2001/XMLSchema#"),
    ] {
        terms.insert(prefix.into(), namespace.into());
    }
    for (field, term) in KNOWN_TERMS {
        terms.insert((*field).into(), (*term).into());
    }
    terms.insert(
        "updated_at".into(),
        json!({"@id": "dct:modified", "@type": "xsd:dateTime"}),
    );
    terms.insert("spatial".into(), json!({"@id": "dct:spatial", "@type": "@id"}));
    for field in ["source_url", "licence_url", "contact_url"] {
        terms.insert(field.into(), json!({"@type": "@id"}));
    }
    terms.insert(
        "items".into(),
        json!({"@id": "schema:itemListElement", "@container": "@list"}),
    );
    json!({ "@context": terms })
}

/// A record of `collection` as a JSON-LD node: `@id` and `@type` first, then its fields; a plan
/// also names its municipality's standard area code URI (`spatial`).
fn node(record: Value, base: &str, collection: &str, class: &str) -> Value {
    let Value::Object(fields) = record else {
        return record;
    };
    let mut node = Map::new();
    if let Some(id) = fields.get("id").and_then(Value::as_i64) {
        node.insert("@id".into(), iri(base, collection, id).into());
    }
    node.insert("@type".into(), class.into());
    if collection == "plans" {
        if let Some(code) = fields.get("municipality_code_5digit").and_then(Value::as_str) {
            node.insert(
                "spatial".into(),
                format!("http://data.e-stat.go.jp/lod/sac/C{code}").into(),
            );
        }
    }
    node.extend(fields);
    Value::Object(node)
}

fn with_context(base: &str, mut document: Map<String, Value>) -> Value {
    let mut linked = Map::new();
    linked.insert("@context".into(), format!("{base}{API_BASE}{CONTEXT_PATH}").into());
    linked.append(&mut document);
    Value::Object(linked)
}

/// One record as a JSON-LD document.
pub fn record(record: Value, base: &str, collection: &str, class: &str) -> Value {
    match node(record, base, collection, class) {
        Value::Object(node) => with_context(base, node),
        other => other,
    }
}

/// A page of a collection as a JSON-LD document: the page is named by its address, its items are
/// nodes (with their IRIs when they are records).
pub fn collection(page: Value, base: &str, address: &str, collection: &str) -> Value {
    let Value::Object(mut page) = page else {
        return page;
    };
    if let (Some(class), Some(Value::Array(items))) = (class_of(collection), page.get_mut("items")) {
        for item in items.iter_mut() {
            *item = node(item.take(), base, collection, class);
        }
    }
    let mut document = Map::new();
    document.insert("@id".into(), format!("{base}{address}").into());
    document.append(&mut page);
    with_context(base, document)
}
