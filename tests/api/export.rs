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
        assert_problem(app.get("/api/v1/plans/999999/export.zip").await, 404).await;
    }
}
