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

/// A valid value for a documented parameter: its first enum value, a boolean, an integer, or its example.
fn sample_value(schema: &Value, example: &Value) -> String {
    let variants = std::iter::once(schema).chain(schema["oneOf"].as_array().into_iter().flatten());
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
        "1".into()
    } else {
        example.as_str().unwrap_or("x").to_string()
    }
}

on_both_backends! {
    /// Every documented query parameter is accepted, and the code accepts no undocumented one.
    async fn documented_parameters_are_exactly_the_accepted_ones(backend) {
        let app = spawn_app(backend).await;
        let admin = token(&["admin"], None);
        let document: Value = serde_json::from_str(&strategy_api::openapi::document_json()).unwrap();
        let mut checked = 0;
        for (path, item) in document["paths"].as_object().unwrap() {
            if path.contains('{') {
                continue;
            }
            let Some(parameters) = item["get"]["parameters"].as_array() else { continue };
            for parameter in parameters.iter().filter(|p| p["in"] == "query") {
                let name = parameter["name"].as_str().unwrap();
                let value = sample_value(&parameter["schema"], &parameter["example"]);
                let response = app.client.get(app.url(path)).query(&[(name, value.as_str())]).bearer_auth(&admin).send().await.unwrap();
                assert_eq!(response.status(), 200, "GET {path}?{name}={value}");
                checked += 1;
            }
            let response = app.client.get(app.url(&format!("{path}?undocumented=1"))).bearer_auth(&admin).send().await.unwrap();
            assert_eq!(response.status(), 400, "GET {path}?undocumented=1");
        }
        assert!(checked >= 30, "only {checked} parameters checked");
    }
}
