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
];

/// The well-known term a field maps to, if any.
pub fn known_term(field: &str) -> Option<&'static str> {
    KNOWN_TERMS
        .iter()
        .find(|(name, _)| *name == field)
        .map(|(_, term)| *term)
}

/// Of `offered`, the media type the request's `Accept` prefers: the highest `q` (a type named
/// exactly over a `type/*` or `*/*` range at the same `q`), the first offered on a tie; `None` if
/// `Accept` refuses them all (`q=0`). No `Accept` takes the first.
pub fn preferred<'a>(request: &HttpRequest, offered: &[&'a str]) -> Option<&'a str> {
    let Some(accept) = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
    else {
        return offered.first().copied();
    };
    let ranges: Vec<(&str, f32)> = accept
        .split(',')
        .filter_map(|part| {
            let mut pieces = part.split(';').map(str::trim);
            let range = pieces.next().filter(|range| !range.is_empty())?;
            let q = pieces
                .find_map(|parameter| parameter.strip_prefix("q="))
                .map_or(Some(1.0), |q| q.parse::<f32>().ok())?;
            Some((range, q))
        })
        .collect();
    // The q and specificity (2 exact, 1 type/*, 0 */*) of the range that fits a media type best.
    let weight = |media: &str| {
        let family = media.split('/').next().unwrap_or_default();
        ranges
            .iter()
            .filter_map(|(range, q)| match *range {
                range if range.eq_ignore_ascii_case(media) => Some((2, *q)),
                "*/*" => Some((0, *q)),
                range
                    if range
                        .strip_suffix("/*")
                        .is_some_and(|prefix| prefix.eq_ignore_ascii_case(family)) =>
                {
                    Some((1, *q))
                }
                _ => None,
            })
            .max_by_key(|(specificity, _)| *specificity)
            .map_or(0.0, |(_, q)| q)
    };
    let mut best: Option<(&'a str, f32)> = None;
    for media in offered {
        let q = weight(media);
        if q > 0.0 && best.is_none_or(|(_, top)| q > top) {
            best = Some((media, q));
        }
    }
    best.map(|(media, _)| media)
}

/// Whether the client asked for JSON-LD over plain JSON.
pub fn wanted(request: &HttpRequest) -> bool {
    preferred(request, &["application/json", MEDIA_TYPE]) == Some(MEDIA_TYPE)
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
    let mut linked = Map::new();
    if let Some(id) = fields.get("id").and_then(Value::as_i64) {
        linked.insert("@id".into(), iri(base, collection, id).into());
    }
    linked.insert("@type".into(), class.into());
    if collection == "plans" {
        if let Some(code) = fields.get("municipality_code_5digit").and_then(Value::as_str) {
            linked.insert("spatial".into(), crate::catalog::area_iri_of(code).into());
        }
    }
    for (key, value) in fields {
        // Records nested in a record (a goal's measures, a department's divisions) are nodes too.
        let nested = match (class_of(&key), value) {
            (Some(class), Value::Array(items)) => Value::Array(
                items
                    .into_iter()
                    .map(|item| match item.get("id") {
                        Some(_) => node(item, base, &key, class),
                        None => item,
                    })
                    .collect(),
            ),
            (_, value) => value,
        };
        linked.insert(key, nested);
    }
    Value::Object(linked)
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
    document.insert("@type".into(), "Collection".into());
    document.append(&mut page);
    with_context(base, document)
}
