use serde_json::Value;

use crate::helpers::{spawn_app, token};

#[test]
fn the_committed_openapi_document_matches_the_code() {
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json")).unwrap_or_default();
    let generated = strategy_api::openapi::document_json();
    assert!(
        committed == generated,
        "openapi/openapi.json is out of date: regenerate it with \
         `cargo run --quiet -- openapi > openapi/openapi.json` and commit it"
    );
}

on_both_backends! {
    /// The served document is the generated one, and Swagger UI is at /docs/.
    async fn the_service_serves_its_document_and_swagger_ui(backend) {
        let app = spawn_app(backend).await;
        let served = app.json("/openapi.json").await;
        let generated: Value = serde_json::from_str(&strategy_api::openapi::document_json()).unwrap();
        assert_eq!(served, generated);
        let docs = app.get("/docs/").await;
        assert_eq!(docs.status(), 200);
        assert!(docs.text().await.unwrap().contains("swagger"), "Swagger UI page");
    }
}

/// A valid value for a documented parameter: its first enum value (or list item), a boolean, its
/// smallest integer, or its example.
fn sample_value(schema: &Value, example: &Value) -> String {
    let variants = std::iter::once(schema)
        .chain(std::iter::once(&schema["items"]))
        .chain(schema["oneOf"].as_array().into_iter().flatten());
    for variant in variants {
        if let Some(first) = variant["enum"][0].as_str() {
            return first.to_string();
        }
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(one) => vec![one.as_str()],
        Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if types.contains(&"boolean") {
        "true".into()
    } else if types.contains(&"integer") {
        schema["minimum"].as_i64().unwrap_or(1).max(1).to_string()
    } else {
        example.as_str().unwrap_or("x").to_string()
    }
}

on_both_backends! {
    /// Every documented query parameter is accepted, and the code accepts no undocumented one.
    async fn documented_parameters_are_exactly_the_accepted_ones(backend) {
        let app = spawn_app(backend).await;
        let admin = token(&["admin"], None);
        let mut checked = 0;
        for (path, parameters) in query_parameters(&document()) {
            for parameter in &parameters {
                let name = parameter["name"].as_str().unwrap();
                let value = sample_value(&parameter["schema"], &parameter["example"]);
                let response = app.client.get(app.url(&path)).query(&[(name, value.as_str())]).bearer_auth(&admin).send().await.unwrap();
                assert_eq!(response.status(), 200, "GET {path}?{name}={value}");
                checked += 1;
            }
            let response = app.client.get(app.url(&format!("{path}?undocumented=1"))).bearer_auth(&admin).send().await.unwrap();
            assert_eq!(response.status(), 400, "GET {path}?undocumented=1");
        }
        assert!(checked >= 30, "only {checked} parameters checked");
    }
}

fn document() -> Value {
    serde_json::from_str(&strategy_api::openapi::document_json()).unwrap()
}

/// The query parameters of each GET without path parameters: (path, its query parameters).
fn query_parameters(document: &Value) -> Vec<(String, Vec<Value>)> {
    document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(path, _)| !path.contains('{'))
        .filter_map(|(path, item)| {
            let parameters = item["get"]["parameters"].as_array()?;
            let query = parameters
                .iter()
                .filter(|parameter| parameter["in"] == "query")
                .cloned()
                .collect();
            Some((path.clone(), query))
        })
        .collect()
}

/// Every operation of the document: (method, path, operation).
fn operations(document: &Value) -> Vec<(String, String, Value)> {
    let mut found = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            found.push((method.clone(), path.clone(), operation.clone()));
        }
    }
    found
}

#[test]
fn operation_ids_are_unique_camel_case_verbs() {
    let document = document();
    let mut seen = std::collections::BTreeSet::new();
    let pattern = regex::Regex::new(
        "^(list|get|create|update|delete|put|export|import|revise|check|rotate|redeliver)[A-Z][A-Za-z]*$",
    )
    .unwrap();
    for (method, path, operation) in operations(&document) {
        let id = operation["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
        assert!(
            pattern.is_match(id),
            "{method} {path}: `{id}` is not a camelCase verb and noun"
        );
        assert!(seen.insert(id.to_string()), "operationId `{id}` is used twice");
        assert!(
            operation["tags"].as_array().is_some_and(|tags| tags.len() == 1),
            "{id}: one tag"
        );
    }
    // Names clients already call.
    for id in [
        "listKpis",
        "getKpi",
        "createKpi",
        "updateKpi",
        "deleteKpi",
        "putKpiResult",
        "exportPlanZip",
    ] {
        assert!(seen.contains(id), "{id} is missing");
    }
}

#[test]
fn no_operation_repeats_a_parameter_and_every_path_parameter_is_declared() {
    let document = document();
    for (method, path, operation) in operations(&document) {
        let parameters = operation["parameters"].as_array().cloned().unwrap_or_default();
        let mut seen = std::collections::BTreeSet::new();
        for parameter in &parameters {
            let key = (
                parameter["in"].as_str().unwrap().to_string(),
                parameter["name"].as_str().unwrap().to_string(),
            );
            assert!(seen.insert(key.clone()), "{method} {path} declares {key:?} twice");
            assert!(parameter["schema"].is_object(), "{method} {path} {key:?} has no schema");
        }
        for name in path.split('{').skip(1).map(|part| part.split('}').next().unwrap()) {
            assert!(
                seen.contains(&("path".to_string(), name.to_string())),
                "{method} {path}: `{name}` undeclared"
            );
        }
    }
}

/// The reads that need a token: the audit record, and the webhook subscriptions with their deliveries.
const AUTHENTICATED_READS: [&str; 4] = [
    "listAuditRecords",
    "listWebhooks",
    "getWebhook",
    "listWebhookDeliveries",
];

#[test]
fn every_operation_declares_its_security() {
    let document = document();
    assert_eq!(document["servers"][0]["url"], "/");
    for (method, path, operation) in operations(&document) {
        let security = operation["security"]
            .as_array()
            .unwrap_or_else(|| panic!("{method} {path}: no security"));
        let id = operation["operationId"].as_str().unwrap();
        let needs_token = method != "get" || AUTHENTICATED_READS.contains(&id);
        if needs_token {
            let scopes = security[0]["bearer"]
                .as_array()
                .unwrap_or_else(|| panic!("{id}: no bearer scheme"));
            let scope = scopes[0].as_str().unwrap();
            assert!(
                ["admin", "kpis:write", "projects:write"].contains(&scope),
                "{id}: {scope}"
            );
            let words = format!(
                "{} {}",
                operation["summary"].as_str().unwrap_or(""),
                operation["description"].as_str().unwrap_or("")
            );
            assert!(words.contains(scope), "{id}: its description names the scope `{scope}`");
            assert!(
                operation["responses"]["401"].is_object() && operation["responses"]["403"].is_object(),
                "{id}"
            );
        } else {
            assert!(security.is_empty(), "{id} is a public read: `security: []`");
        }
    }
}

#[test]
fn problem_responses_are_shared_and_every_status_the_service_answers_is_documented() {
    let document = document();
    let components = document["components"]["responses"].as_object().unwrap();
    for (name, response) in components {
        assert_eq!(
            response["content"]["application/problem+json"]["schema"]["$ref"], "#/components/schemas/Problem",
            "{name}"
        );
    }
    for (method, path, operation) in operations(&document) {
        let responses = operation["responses"].as_object().unwrap();
        for (status, response) in responses.iter().filter(|(status, _)| status.as_str() >= "400") {
            let reference = response["$ref"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} {status} is inline"));
            let name = reference.trim_start_matches("#/components/responses/");
            assert!(components.contains_key(name), "{method} {path} {status}: {reference}");
        }
        let mut expected = vec!["414", "429", "431", "503"];
        if operation.get("requestBody").is_some() {
            expected.extend(["400", "408", "413", "415"]);
        }
        for status in expected {
            assert!(
                responses.contains_key(status),
                "{method} {path} does not document {status}"
            );
        }
    }
}

#[test]
fn creates_and_reads_link_to_the_same_records_writes_with_their_etag() {
    let document = document();
    let by_id: std::collections::BTreeMap<String, (String, Value)> = operations(&document)
        .into_iter()
        .map(|(_, path, operation)| {
            (
                operation["operationId"].as_str().unwrap().to_string(),
                (path, operation),
            )
        })
        .collect();
    for record in [
        "Plan",
        "Goal",
        "Measure",
        "Initiative",
        "Kpi",
        "Project",
        "Department",
        "Division",
    ] {
        let (_, create) = &by_id[&format!("create{record}")];
        let links = &create["responses"]["201"]["links"];
        for verb in ["get", "update", "delete"] {
            let link = &links[format!("{verb}{record}")];
            assert_eq!(
                link["operationId"],
                format!("{verb}{record}"),
                "create{record} → {verb}{record}"
            );
            assert_eq!(link["parameters"]["path.id"], "$response.body#/id");
        }
        let (_, get) = &by_id[&format!("get{record}")];
        let update = &get["responses"]["200"]["links"][format!("update{record}")];
        assert_eq!(update["parameters"]["path.id"], "$request.path.id");
        assert_eq!(update["parameters"]["header.If-Match"], "$response.header.ETag");
    }
    let (_, put) = &by_id["putKpiResult"];
    let get = &put["responses"]["201"]["links"]["getKpiResult"]["parameters"];
    assert_eq!(get["path.year"], "$request.path.year");
    // Every link names an operation that exists.
    for (id, (_, operation)) in &by_id {
        for response in operation["responses"].as_object().unwrap().values() {
            for link in response["links"]
                .as_object()
                .into_iter()
                .flat_map(|links| links.values())
            {
                assert!(
                    by_id.contains_key(link["operationId"].as_str().unwrap()),
                    "{id}: {link}"
                );
            }
        }
    }
}

/// A decimal field accepts a number or a string, and the document says so.
#[test]
fn decimal_inputs_are_documented_as_number_or_string() {
    let document = document();
    let value = &document["components"]["schemas"]["ResultForm"]["properties"]["value"];
    let types: Vec<&str> = value["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["type"].as_str())
        .collect();
    assert_eq!(types, ["number", "string", "null"], "{value}");
}

on_both_backends! {
    /// The bounds the document states are the ones the service enforces: each documented minimum,
    /// maximum and length is accepted at the edge and refused one step past it, with a 400.
    async fn documented_bounds_are_the_enforced_ones(backend) {
        let app = spawn_app(backend).await;
        let admin = token(&["admin"], None);
        let mut probed = 0;
        for (path, parameters) in query_parameters(&document()) {
            for parameter in &parameters {
                let name = parameter["name"].as_str().unwrap();
                let schema = &parameter["schema"];
                let mut cases: Vec<(String, u16)> = Vec::new();
                if let Some(minimum) = schema["minimum"].as_i64() {
                    cases.extend([(minimum.to_string(), 200), ((minimum - 1).to_string(), 400)]);
                }
                if let Some(maximum) = schema["maximum"].as_i64() {
                    cases.extend([(maximum.to_string(), 200), ((maximum + 1).to_string(), 400)]);
                }
                if let Some(longest) = schema["maxLength"].as_u64() {
                    let pattern = regex::Regex::new(schema["pattern"].as_str().expect("a text parameter has a pattern")).unwrap();
                    for (text, status) in [("あ".repeat(longest as usize), 200), ("あ".repeat(longest as usize + 1), 400)] {
                        cases.push((text, status));
                    }
                    for refused in [" ", "a\u{1}b"] {
                        assert!(!pattern.is_match(refused), "{path} {name}: the pattern admits {refused:?}");
                        cases.push((refused.to_string(), 400));
                    }
                    assert!(pattern.is_match("件数 調査"), "{path} {name}");
                }
                for (value, status) in cases {
                    let response = app.client.get(app.url(&path)).query(&[(name, value.as_str())]).bearer_auth(&admin).send().await.unwrap();
                    assert_eq!(response.status(), status, "GET {path}?{name}={}", value.chars().take(20).collect::<String>());
                    probed += 1;
                }
            }
        }
        assert!(probed >= 60, "only {probed} bounds probed");
    }
}

on_both_backends! {
    /// Every API read the document says can answer 304 does, with the ETag of its own answer.
    async fn every_read_documented_as_conditional_answers_304(backend) {
        let app = spawn_app(backend).await;
        let mut checked = 0;
        for (path, _) in query_parameters(&document()) {
            let streamed = strategy_api::openapi::STREAMED.contains(&document()["paths"][&path]["get"]["operationId"].as_str().unwrap_or_default());
            let authenticated = AUTHENTICATED_READS.contains(&document()["paths"][&path]["get"]["operationId"].as_str().unwrap_or_default());
            if !path.starts_with("/api/v1") || authenticated || streamed {
                continue;
            }
            let first = app.get(&path).await;
            assert_eq!(first.status(), 200, "{path}");
            let etag = first.headers()["etag"].to_str().unwrap().to_string();
            let again = app.client.get(app.url(&path)).header("If-None-Match", &etag).send().await.unwrap();
            assert_eq!(again.status(), 304, "{path}");
            checked += 1;
        }
        let document = document();
        for (method, path, operation) in operations(&document) {
            let streamed = strategy_api::openapi::STREAMED.contains(&operation["operationId"].as_str().unwrap());
            if method == "get" && path.starts_with("/api/v1") && !streamed {
                assert!(operation["responses"]["304"].is_object(), "{path} documents 304");
                let header = operation["parameters"].as_array().unwrap().iter().any(|p| p["name"] == "If-None-Match" && p["in"] == "header");
                assert!(header, "{path} documents If-None-Match");
            }
        }
        assert!(checked >= 10, "only {checked} reads checked");
    }
}

/// `openapi::SORTABLE` is keyed by operationId: every collection that takes `sort` must be in it,
/// or its `sort` would fall back to a free-form string.
#[test]
fn every_sort_parameter_lists_its_collections_fields() {
    let document = document();
    let mut sorted = 0;
    for (_, path, operation) in operations(&document) {
        let parameters = operation["parameters"].as_array().cloned().unwrap_or_default();
        for parameter in parameters.iter().filter(|parameter| parameter["name"] == "sort") {
            let fields = parameter["schema"]["items"]["enum"].as_array();
            assert!(
                fields.is_some_and(|fields| fields.contains(&Value::from("id"))),
                "{path}: {parameter}"
            );
            assert_eq!(parameter["explode"], false, "{path}");
            sorted += 1;
        }
    }
    assert!(sorted >= 10, "only {sorted} collections sort");
}
