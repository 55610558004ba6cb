use std::io::Read;

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{assert_problem, seeded_database, spawn_app_on, token};

on_both_backends! {
    /// The export holds the whole plan exactly as the API serves its parts: every goal, measure,
    /// initiative, KPI (with progress and results), project table, project and department.
    async fn the_json_export_is_the_whole_plan(backend) {
        let app = spawn_app_on(&seeded_database(backend)).await;
        let kpi = app.json("/api/v1/kpis?code=1-1-1-1").await["items"][0].clone();
        let path = format!("/api/v1/kpis/{}/results/2022", kpi["id"]);
        let recorded = app.send(Method::PUT, &path, Some(&token(&["kpis:write"], None)), None, Some(&json!({"value": "26"}))).await;
        assert_eq!(recorded.status(), 201);
        let plan_id = app.json("/api/v1/plans").await["items"][0]["id"].as_i64().unwrap();

        let response = app.get(&format!("/api/v1/plans/{plan_id}/export")).await;
        assert_eq!(response.headers()["content-type"], "application/json");
        let export: Value = response.json().await.expect("the streamed export is one JSON document");
        assert_eq!(export["plan"], app.json(&format!("/api/v1/plans/{plan_id}")).await);
        assert_eq!(export["departments"].as_array().unwrap(), &app.all("/api/v1/departments").await);
        assert_eq!(export["projects"].as_array().unwrap(), &app.all("/api/v1/projects").await);

        let goals = export["goals"].as_array().unwrap();
        assert_eq!(goals.len(), 4);
        let measures: Vec<&Value> = goals.iter().flat_map(|goal| goal["measures"].as_array().unwrap()).collect();
        assert_eq!(measures.len(), 13);
        let initiatives: Vec<&Value> = measures.iter().flat_map(|measure| measure["initiatives"].as_array().unwrap()).collect();
        assert_eq!(initiatives.len(), 26);
        let kpis: Vec<&Value> = initiatives.iter().flat_map(|initiative| initiative["kpis"].as_array().unwrap()).collect();
        assert_eq!(kpis.len(), 45);
        let appearances: usize = initiatives.iter().map(|initiative| initiative["project_appearances"].as_array().unwrap().len()).sum();
        assert_eq!(appearances, 161);
        for initiative in &initiatives {
            let served = app.json(&format!("/api/v1/initiatives/{}", initiative["id"])).await;
            assert_eq!(initiative["project_appearances"], served["project_appearances"], "{}", initiative["code"]);
            let served_kpis = served["kpis"].as_array().unwrap();
            for (exported, served) in initiative["kpis"].as_array().unwrap().iter().zip(served_kpis) {
                let mut without_results = exported.clone();
                without_results.as_object_mut().unwrap().remove("results");
                assert_eq!(&without_results, served);
            }
        }
        let with_result = kpis.iter().find(|k| k["id"] == kpi["id"]).unwrap();
        assert_eq!(with_result["results"][0]["value_text"], "26");
        assert_eq!(with_result["progress"]["status"], "on_track");
        assert_problem(app.get("/api/v1/plans/999999/export").await, 404).await;
    }
}

on_both_backends! {
    /// The zip holds one CSV per table, each readable by a CSV parser, and a README naming them.
    async fn the_zip_export_has_one_csv_per_table(backend) {
        let app = spawn_app_on(&seeded_database(backend)).await;
        let plan_id = app.json("/api/v1/plans").await["items"][0]["id"].as_i64().unwrap();
        let response = app.get(&format!("/api/v1/plans/{plan_id}/export.zip")).await;
        assert_eq!(response.headers()["content-type"], "application/zip");
        assert!(response.headers()["content-disposition"].to_str().unwrap().contains("atsugi-2.zip"));
        let bytes = response.bytes().await.unwrap();
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).expect("a zip");
        let mut rows = std::collections::HashMap::new();
        let mut readme = String::new();
        for index in 0..archive.len() {
            let mut file = archive.by_index(index).unwrap();
            let name = file.name().expect("a UTF-8 name").to_string();
            let mut text = String::new();
            file.read_to_string(&mut text).unwrap();
            if name == "README.md" {
                readme = text;
                continue;
            }
            if name == "datapackage.json" {
                continue;
            }
            let mut reader = csv::Reader::from_reader(text.as_bytes());
            let headers = reader.headers().unwrap().clone();
            let records: Vec<csv::StringRecord> = reader.records().map(|row| row.expect("a well-formed row")).collect();
            let count = records.len();
            rows.insert(name, (count, headers));
        }
        for (file, count) in [
            ("plan.csv", 1), ("departments.csv", 16), ("divisions.csv", 47), ("goals.csv", 4), ("measures.csv", 13),
            ("initiatives.csv", 26), ("kpis.csv", 45), ("projects.csv", 147), ("project_appearances.csv", 161),
        ] {
            assert_eq!(rows.get(file).map(|(rows, _)| *rows), Some(count), "{file}");
            assert!(readme.contains(&format!("## {file}")), "README describes {file}");
        }
        let (_, kpi_columns) = &rows["kpis.csv"];
        assert!(kpi_columns.iter().any(|column| column == "baseline_value_text"));
        assert!(readme.contains("baseline_value_text"));
        // Tables without rows keep their header row.
        let (count, result_columns) = &rows["kpi_results.csv"];
        assert_eq!(*count, 0);
        assert_eq!(result_columns.get(0), Some("kpi_id"));
        assert_problem(app.get("/api/v1/plans/999999/export.zip").await, 404).await;
    }
}

/// The columns of a JSON record as the CSVs name them: `baseline_value`, `divisions_name`.
fn flat_columns(prefix: &str, value: &Value, columns: &mut Vec<String>) {
    let name = |key: &str| {
        if prefix.is_empty() {
            key.to_string()
        } else {
            format!("{prefix}_{key}")
        }
    };
    match value {
        Value::Object(fields) => {
            for (key, value) in fields {
                flat_columns(&name(key), value, columns);
            }
        }
        Value::Array(items) if items.iter().any(Value::is_object) => {
            for item in items {
                flat_columns(prefix, item, columns);
            }
        }
        Value::Null => {}
        _ => columns.push(prefix.to_string()),
    }
}

on_both_backends! {
    /// Every CSV of the zip has exactly the columns its `datapackage.json` schema (and
    /// `/api/v1/schemas/{table}.json`) gives, whatever its first rows hold, and those columns hold
    /// every field of the records the API serves: with results, a revised target and an evaluation,
    /// nothing of a KPI, a result, an evaluation item, a project or the plan is left out.
    async fn the_zip_columns_are_its_schemas_and_hold_every_field(backend) {
        let app = spawn_app_on(&seeded_database(backend)).await;
        let admin = token(&["admin"], None);
        let plan_id = app.json("/api/v1/plans").await["items"][0]["id"].as_i64().unwrap();
        let kpi = app.json("/api/v1/kpis?limit=1&sort=id").await["items"][0].clone();
        let kpi_path = format!("/api/v1/kpis/{}", kpi["id"]);
        let year = kpi["baseline"]["year"].as_i64().unwrap() + 1;
        let result = json!({"value": "25", "note": "速報値", "source": "市調べ", "analysis": "順調", "next_steps": "継続"});
        let response = app.send(Method::PUT, &format!("{kpi_path}/results/{year}"), Some(&admin), None, Some(&result)).await;
        assert_eq!(response.status(), 201);
        let revision = json!({"value": "35", "year": kpi["target"]["year"], "reason": "上方修正"});
        app.revise_target(&kpi_path, &admin, revision).await;
        let evaluation = json!({"fiscal_year": year, "title": "効果検証"});
        let response = app.send(Method::POST, &format!("/api/v1/plans/{plan_id}/evaluations"), Some(&admin), None, Some(&evaluation)).await;
        assert_eq!(response.status(), 201);
        let evaluation_id = response.json::<Value>().await.unwrap()["id"].as_i64().unwrap();

        let bytes = app.get(&format!("/api/v1/plans/{plan_id}/export.zip")).await.bytes().await.unwrap();
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).expect("a zip");
        let mut package = String::new();
        archive.by_name("datapackage.json").unwrap().read_to_string(&mut package).unwrap();
        let package: Value = serde_json::from_str(&package).unwrap();
        let mut headers = std::collections::HashMap::new();
        for resource in package["resources"].as_array().unwrap() {
            let name = resource["name"].as_str().unwrap();
            let mut text = String::new();
            archive.by_name(resource["path"].as_str().unwrap()).unwrap().read_to_string(&mut text).unwrap();
            assert_eq!(resource["bytes"], text.len(), "{name}: bytes");
            let header: Vec<String> = csv::Reader::from_reader(text.as_bytes()).headers().unwrap().iter().map(str::to_string).collect();
            let fields: Vec<String> = resource["schema"]["fields"].as_array().unwrap().iter().map(|field| field["name"].as_str().unwrap().to_string()).collect();
            assert_eq!(header, fields, "{name}: the CSV's columns are its schema's");
            assert_eq!(app.json(&format!("/api/v1/schemas/{name}.json")).await, resource["schema"], "{name}");
            headers.insert(name.to_string(), fields);
        }
        assert_eq!(headers.len(), 14);
        let must_hold = |table: &str, record: &Value, skipped: &[&str]| {
            let mut columns = Vec::new();
            flat_columns("", record, &mut columns);
            let missing: Vec<&String> = columns
                .iter()
                .filter(|column| !skipped.iter().any(|skip| column.starts_with(skip)) && !headers[table].contains(column))
                .collect();
            assert!(missing.is_empty(), "{table}.csv lacks {missing:?} of {record}");
        };
        let revised = app.json(&kpi_path).await;
        assert!(revised["original_target_progress"].is_object(), "{revised}");
        // Revisions have their own file; the latest_* of the original target's progress are the progress's.
        must_hold("kpis", &revised, &["target_revisions", "original_target_progress_latest"]);
        must_hold("kpi_results", &app.json(&format!("{kpi_path}/results/{year}")).await, &[]);
        let evaluation = app.json(&format!("/api/v1/plans/{plan_id}/evaluations/{evaluation_id}")).await;
        for item in evaluation["items"].as_array().unwrap() {
            must_hold("evaluation_items", item, &[]);
        }
        must_hold("evaluations", &evaluation, &["counts", "mean_achievement", "items"]);
        must_hold("projects", &app.json("/api/v1/projects?limit=1").await["items"][0], &[]);
        must_hold("plan", &app.json(&format!("/api/v1/plans/{plan_id}")).await, &[]);
        assert_problem(app.get("/api/v1/schemas/nothing.json").await, 404).await;
    }
}
