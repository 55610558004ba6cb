use reqwest::Method;
use serde_json::{json, Map, Value};

use crate::helpers::{assert_problem, seeded_database, spawn_app, spawn_app_on, token, TestApp};

/// The test's own reading of the CSV convention: nested fields as `parent_child`, lists of
/// objects as one `;`-joined column per field, lists of scalars joined by `;`, null empty.
fn expected_cells(record: &Value) -> Vec<(String, String)> {
    fn walk(out: &mut Vec<(String, String)>, prefix: &str, fields: &Map<String, Value>) {
        for (key, value) in fields {
            let name = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}_{key}")
            };
            match value {
                Value::Object(inner) => walk(out, &name, inner),
                Value::Array(items) if items.iter().any(Value::is_object) => {
                    let rows: Vec<Vec<(String, String)>> = items.iter().map(expected_cells).collect();
                    for (column, _) in rows.first().cloned().unwrap_or_default() {
                        let joined: Vec<String> = rows
                            .iter()
                            .map(|row| {
                                row.iter()
                                    .find(|(c, _)| *c == column)
                                    .map(|(_, v)| v.clone())
                                    .unwrap_or_default()
                            })
                            .collect();
                        out.push((format!("{name}_{column}"), joined.join(";")));
                    }
                }
                Value::Array(items) => out.push((name, items.iter().map(text).collect::<Vec<_>>().join(";"))),
                other => out.push((name, text(other))),
            }
        }
    }
    fn text(value: &Value) -> String {
        match value {
            Value::Null => String::new(),
            Value::String(text) => text.clone(),
            other => other.to_string(),
        }
    }
    let mut out = Vec::new();
    if let Value::Object(fields) = record {
        walk(&mut out, "", fields);
    }
    out
}

/// Reads a CSV body with a real CSV parser and checks it cell by cell against the JSON items.
fn assert_csv_matches(csv_text: &str, items: &[Value], what: &str) {
    assert!(!csv_text.starts_with('\u{feff}'), "{what}: no BOM unless asked");
    let mut reader = csv::ReaderBuilder::new().from_reader(csv_text.as_bytes());
    let headers: Vec<String> = reader.headers().unwrap().iter().map(str::to_string).collect();
    let rows: Vec<csv::StringRecord> = reader.records().map(|row| row.expect("a well-formed row")).collect();
    assert_eq!(rows.len(), items.len(), "{what}: one row per record");
    for (row, item) in rows.iter().zip(items) {
        for (column, value) in expected_cells(item) {
            if OWN_TABLES.contains(&column.as_str()) {
                continue;
            }
            match headers.iter().position(|header| *header == column) {
                Some(index) => assert_eq!(&row[index], value.as_str(), "{what}: {column} of {}", item["id"]),
                // A null object of a fixed schema: its columns are there, empty.
                None => {
                    let inner: Vec<usize> = (0..headers.len())
                        .filter(|&i| headers[i].starts_with(&format!("{column}_")))
                        .collect();
                    assert!(value.is_empty() && !inner.is_empty(), "{what}: no column {column}");
                    assert!(
                        inner.iter().all(|&i| row[i].is_empty()),
                        "{what}: {column} of {} is empty",
                        item["id"]
                    );
                }
            }
        }
    }
}

/// Lists of records that a collection's CSV leaves to their own table (`kpi_target_revisions.csv`
/// of the export), since their columns would otherwise depend on the rows.
const OWN_TABLES: &[&str] = &["target_revisions"];

on_both_backends! {
    /// Every collection answers CSV with the same records, filters, sorting and paging as JSON,
    /// field by field, with CRLF line ends and a named file.
    async fn every_collection_reads_the_same_as_csv(backend) {
        let app = spawn_app(backend).await;
        for path in [
            "/api/v1/plans", "/api/v1/goals", "/api/v1/measures?goal=1", "/api/v1/initiatives?sort=-id",
            "/api/v1/kpis?limit=20&offset=5&sort=name", "/api/v1/projects?limit=100", "/api/v1/departments",
            "/api/v1/divisions?department=9",
        ] {
            let json = app.json(path).await;
            let separator = if path.contains('?') { '&' } else { '?' };
            let response = app.get(&format!("{path}{separator}format=csv")).await;
            assert_eq!(response.status(), 200, "{path}");
            assert_eq!(response.headers()["content-type"], "text/csv; charset=utf-8", "{path}");
            let disposition = response.headers()["content-disposition"].to_str().unwrap().to_string();
            assert!(disposition.starts_with("attachment; filename=\"") && disposition.ends_with(".csv\""), "{disposition}");
            let body = response.text().await.unwrap();
            assert!(body.contains("\r\n") && !body.replace("\r\n", "").contains("\n\"") , "{path}: CRLF rows");
            assert_csv_matches(&body, json["items"].as_array().unwrap(), path);
            let by_accept = app.client.get(app.url(path)).header("Accept", "text/csv").send().await.unwrap();
            assert_eq!(by_accept.text().await.unwrap(), body, "{path}: Accept: text/csv");
        }
        // A collection that is a file of export.zip has exactly its Table Schema's columns, even
        // with no rows, and the catalogue names that schema.
        for collection in ["goals", "measures", "initiatives", "kpis", "projects", "departments", "divisions"] {
            let schema = app.json(&format!("/api/v1/schemas/{collection}.json")).await;
            let columns: Vec<&str> = schema["fields"].as_array().unwrap().iter().map(|field| field["name"].as_str().unwrap()).collect();
            for path in [format!("/api/v1/{collection}?format=csv"), format!("/api/v1/{collection}?format=csv&code=none")] {
                let body = app.get(&path).await.text().await.unwrap();
                assert_eq!(body.lines().next().unwrap().split(',').collect::<Vec<_>>(), columns, "{path}");
            }
        }
        let kpis = app.get("/api/v1/kpis?format=csv&limit=1").await.text().await.unwrap();
        let header = kpis.lines().next().unwrap();
        for column in ["baseline_value", "baseline_value_text", "baseline_year", "baseline_year_type", "target_value", "progress_status"] {
            assert!(header.split(',').any(|name| name == column), "{column} in {header}");
        }
    }
}

on_both_backends! {
    /// `limit=all` streams every row of a collection; `bom=true` starts with a byte-order mark.
    async fn whole_collections_stream_as_csv(backend) {
        let app = spawn_app(backend).await;
        let response = app.get("/api/v1/projects?format=csv&limit=all&sort=name").await;
        assert!(response.headers().get("content-length").is_none(), "streamed, not built whole");
        let body = response.text().await.unwrap();
        assert_csv_matches(&body, &app.all("/api/v1/projects?sort=name").await, "projects, all");
        let excel = app.get("/api/v1/kpis?format=csv&bom=true&limit=all").await.bytes().await.unwrap();
        assert!(excel.starts_with("\u{feff}id,".as_bytes()));
        let problem = assert_problem(app.get("/api/v1/kpis?limit=all").await, 400).await;
        assert_eq!(problem["errors"][0]["field"], "limit");
        assert_problem(app.get("/api/v1/kpis?format=xml").await, 400).await;
        assert_problem(app.get("/api/v1/kpis?format=csv&bom=maybe").await, 400).await;
    }
}

on_both_backends! {
    /// Commas, quotes and line breaks inside a description survive the round trip.
    async fn awkward_text_survives_the_csv_round_trip(backend) {
        let app: TestApp = spawn_app_on(&seeded_database(backend)).await;
        let plan = app.json("/api/v1/plans").await["items"][0]["id"].clone();
        let initiative = app.json("/api/v1/initiatives?code=1-1-1").await["items"][0]["id"].clone();
        let division = app.json("/api/v1/divisions?code=D01-01").await["items"][0]["id"].clone();
        let description = "「厚木, あつぎ」を \"発信\" します。\n二段落目、セミコロン;も。";
        let body = json!({
            "plan_id": plan, "code": "P900", "name": "カンマ, と \"引用\" の事業", "account": null,
            "divisions": [division], "appearances": [{"initiative_id": initiative, "description": description}]
        });
        let created = app.send(Method::POST, "/api/v1/projects", Some(&token(&["admin"], None)), None, Some(&body)).await;
        assert_eq!(created.status(), 201);
        let json = app.json("/api/v1/projects?code=P900").await;
        let csv_text = app.get("/api/v1/projects?code=P900&format=csv").await.text().await.unwrap();
        assert_csv_matches(&csv_text, json["items"].as_array().unwrap(), "P900");
        let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
        let headers = reader.headers().unwrap().clone();
        let row = reader.records().next().unwrap().unwrap();
        let description_column = headers.iter().position(|h| h == "appearances_description").unwrap();
        assert_eq!(&row[description_column], description);
    }
}
