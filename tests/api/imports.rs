//! Whole plans in and out: `POST /plans/import` takes what `GET /plans/{id}/export` writes, on
//! both databases, over HTTP and from the command line.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{
    assert_problem, cli, failing_fields, fields_of, latest_cursor, migrated_database, refused_fields, seeded_database,
    spawn_app_on, token, Backend, TestApp,
};

/// The document without what a new database assigns anew: ids and the times of writes.
fn without_ids_and_times(value: &Value) -> Value {
    match value {
        Value::Object(object) => Value::Object(
            object
                .iter()
                .filter(|(key, _)| !(key.as_str() == "id" || key.ends_with("_id") || key.as_str() == "updated_at"))
                .map(|(key, value)| (key.clone(), without_ids_and_times(value)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_ids_and_times).collect()),
        other => other.clone(),
    }
}

async fn export_of(app: &TestApp, code: &str) -> (Value, usize) {
    let plan = &app.json(&format!("/api/v1/plans?code={code}")).await["items"][0];
    let response = app.get(&format!("/api/v1/plans/{}/export", plan["id"])).await;
    assert_eq!(response.status(), 200);
    let bytes = response.bytes().await.unwrap();
    (serde_json::from_slice(&bytes).unwrap(), bytes.len())
}

async fn import(app: &TestApp, document: &Value, query: &str) -> reqwest::Response {
    app.send(
        Method::POST,
        &format!("/api/v1/plans/import{query}"),
        Some(&token(&["admin"], None)),
        None,
        Some(document),
    )
    .await
}

/// Imports `document` into an empty database and checks that its export is the same document.
async fn round_trip(backend: Backend, document: &Value) -> TestApp {
    let target = spawn_app_on(&migrated_database(backend)).await;
    assert_eq!(target.json("/api/v1/plans").await["total"], 0);
    let response = import(&target, document, "").await;
    let status = response.status();
    let location = response
        .headers()
        .get("location")
        .map(|value| value.to_str().unwrap().to_string());
    let report: Value = response.json().await.unwrap();
    assert_eq!(status, 201, "{report}");
    assert_eq!(location, Some(format!("/api/v1/plans/{}", report["plan_id"])));
    let code = document["plan"]["code"].as_str().unwrap();
    let (again, _) = export_of(&target, code).await;
    assert_eq!(
        without_ids_and_times(&again),
        without_ids_and_times(document),
        "export → import → export"
    );
    target
}

on_both_backends! {
    /// The bundled plan (larger than a single record's body limit) survives export → import →
    /// export; a dry run answers the same counts and writes nothing; every record is audited and
    /// in the change feed.
    async fn the_bundled_plan_round_trips_through_an_empty_database(backend) {
        let source = spawn_app_on(&seeded_database(backend)).await;
        let (document, size) = export_of(&source, "atsugi-2").await;
        assert!(size > 65_536, "the document ({size} bytes) is larger than MAX_BODY_BYTES");

        let target = spawn_app_on(&migrated_database(backend)).await;
        let cursor = latest_cursor(&target).await;
        let checked = import(&target, &document, "?dry_run=true").await;
        assert_eq!(checked.status(), 200);
        let report: Value = checked.json().await.unwrap();
        let expected = json!({
            "plans": 1, "source_corrections": 2, "departments": 16, "divisions": 47, "goals": 4, "measures": 13,
            "initiatives": 26, "kpis": 45, "kpi_target_revisions": 0, "kpi_results": 0, "projects": 147,
            "project_divisions": 151, "project_appearances": 161, "evaluations": 0, "evaluation_items": 0,
        });
        assert_eq!(report, json!({"dry_run": true, "plan_id": null, "plan_code": "atsugi-2", "created": expected}));
        assert_eq!(target.json("/api/v1/plans").await["total"], 0, "a dry run writes nothing");
        assert_eq!(latest_cursor(&target).await, cursor);

        let response = import(&target, &document, "").await;
        assert_eq!(response.status(), 201);
        let report: Value = response.json().await.unwrap();
        assert_eq!(report["created"], expected, "the dry run said what the import did");
        let (again, _) = export_of(&target, "atsugi-2").await;
        assert_eq!(without_ids_and_times(&again), without_ids_and_times(&document));

        let changes = target.json(&format!("/api/v1/changes?since={cursor}&limit=1000")).await;
        let created = |resource: &str| {
            changes["items"].as_array().unwrap().iter().filter(|item| item["resource"] == resource && item["operation"] == "create").count()
        };
        assert_eq!((created("plan"), created("kpi"), created("project"), created("division")), (1, 45, 147, 47));

        // The same plan code again is a conflict, and changes nothing.
        let cursor = latest_cursor(&target).await;
        let conflict = import(&target, &document, "").await;
        let problem = assert_problem(conflict, 409).await;
        assert!(problem["detail"].as_str().unwrap().contains("atsugi-2"), "{problem}");
        assert_eq!(latest_cursor(&target).await, cursor);
    }
}

on_both_backends! {
    /// A plan with results (with the division's commentary), target revisions and a frozen
    /// evaluation round-trips with all of them.
    async fn a_plan_with_results_revisions_and_evaluations_round_trips(backend) {
        let source = spawn_app_on(&seeded_database(backend)).await;
        let writer = token(&["kpis:write"], None);
        let kpi = |code: &str| format!("/api/v1/kpis/{}", code);
        let id_of = |page: Value| page["items"][0]["id"].clone();
        let first = kpi(&id_of(source.json("/api/v1/kpis?code=1-1-1-1").await).to_string());
        let second = kpi(&id_of(source.json("/api/v1/kpis?code=2-1-1-1").await).to_string());
        let results = [
            (&first, 2020, json!({"value": "24", "source": "市民協働推進課調べ", "analysis": "交流事業の再開", "next_steps": "オンライン交流を併用する"})),
            (&first, 2021, json!({"status": "not_measurable", "note": "感染症の影響で調査を中止"})),
            (&second, 2022, json!({"value": 98.90})),
        ];
        for (path, year, body) in &results {
            let response = source.send(Method::PUT, &format!("{path}/results/{year}"), Some(&writer), None, Some(body)).await;
            assert_eq!(response.status(), 201, "{body}");
        }
        source.revise_target(&first, &writer, json!({"value": "35", "year": 2026, "reason": "上方修正"})).await;
        source.revise_target(&first, &writer, json!({"value": "33.5", "year": 2025, "reason": "再度の見直し"})).await;
        let plan = source.json("/api/v1/plans?code=atsugi-2").await["items"][0]["id"].clone();
        let frozen = source
            .send(Method::POST, &format!("/api/v1/plans/{plan}/evaluations"), Some(&token(&["admin"], None)), None, Some(&json!({"fiscal_year": 2022, "title": "令和4年度 効果検証"})))
            .await;
        assert_eq!(frozen.status(), 201);

        let (document, _) = export_of(&source, "atsugi-2").await;
        let target = round_trip(backend, &document).await;
        let (imported, _) = export_of(&target, "atsugi-2").await;
        let kpi = &imported["goals"][0]["measures"][0]["initiatives"][0]["kpis"][0];
        assert_eq!(kpi["target_revisions"].as_array().unwrap().len(), 2);
        assert_eq!(kpi["results"][0]["analysis"], "交流事業の再開");
        assert_eq!(imported["evaluations"][0]["title"], "令和4年度 効果検証");
        assert_eq!(imported["evaluations"][0]["created_at"], document["evaluations"][0]["created_at"], "kept as frozen");
    }
}

/// A copy of the bundled plan's document under another code.
async fn next_plan(app: &TestApp) -> Value {
    let (mut document, _) = export_of(app, "atsugi-2").await;
    document["plan"]["code"] = json!("atsugi-3");
    document
}

on_both_backends! {
    /// Every failing place is named by its JSON Pointer, in one answer, and nothing is written:
    /// a record that does not fit is a 400 (rule failures are listed with it), rules alone a 422.
    async fn every_failing_place_is_named_and_nothing_is_written(backend) {
        let app = spawn_app_on(&seeded_database(backend)).await;
        let cursor = latest_cursor(&app).await;
        let mut document = next_plan(&app).await;
        document["goals"][2]["measures"][0]["initiatives"][0]["kpis"][0]["target"]["value_text"] = json!("abc");
        document["goals"][0]["measures"][0]["initiatives"][0]["kpis"][1]["name"] = json!("");
        document["projects"][3]["divisions"][0]["code"] = json!("D99-99");
        document["goals"][1]["measures"][1]["initiatives"][0]["kpis"][0]["results"] =
            json!([{"year": 2022, "value": "1"}, {"year": 1990, "value": "2"}, {"year": 2023, "status": "not_measurable"}]);
        document["departments"][1].as_object_mut().unwrap().remove("name");
        let response = import(&app, &document, "").await;
        assert_eq!(
            failing_fields(response).await,
            [
                "/departments/1/name",
                "/goals/0/measures/0/initiatives/0/kpis/1/name",
                "/goals/1/measures/1/initiatives/0/kpis/0/results/1/year",
                "/goals/1/measures/1/initiatives/0/kpis/0/results/2/note",
                "/goals/2/measures/0/initiatives/0/kpis/0/target/value_text",
                "/projects/3/divisions/0/code",
            ]
        );

        // Rules alone: a 422, here with a revision chain that does not hold.
        let mut document = next_plan(&app).await;
        let kpi = &mut document["goals"][0]["measures"][0]["initiatives"][0]["kpis"][0];
        kpi["target_revisions"] = json!([{
            "previous": {"value_text": "30", "year": 2026, "year_type": "fiscal"},
            "target": {"value_text": "32", "year": 2026, "year_type": "fiscal"},
            "reason": "r", "revised_by": "planning", "revised_at": "2024-04-01T00:00:00Z",
        }]);
        document["projects"][0]["appearances"][0]["initiative_code"] = json!("9-9-9");
        // An edit of `value` that leaves the exported `value_text` as it was is not silently lost.
        document["goals"][1]["measures"][0]["initiatives"][0]["kpis"][0]["target"]["value"] = json!(12345);
        document["evaluations"] = json!([{"fiscal_year": 2023, "title": "t", "created_at": "2024-06-01T00:00:00Z",
            "items": [{"kpi_code": "9-9-9-9", "kpi_name": "x", "unit": "件", "direction": "increase", "baseline_value": null,
                       "target_value": "1", "result_year": null, "result_value": null, "achievement": null, "expected": null,
                       "status": "no_data", "grade": null}]}]);
        let response = import(&app, &document, "?dry_run=true").await;
        assert_eq!(
            refused_fields(response).await,
            [
                "/evaluations/0/items/0/kpi_code",
                "/goals/0/measures/0/initiatives/0/kpis/0/target",
                "/goals/1/measures/0/initiatives/0/kpis/0/target/value",
                "/projects/0/appearances/0/initiative_code",
            ]
        );
        assert_eq!(app.json("/api/v1/plans").await["total"], 1);
        assert_eq!(latest_cursor(&app).await, cursor, "nothing was written");
    }
}

on_both_backends! {
    /// Only admins import; the body is a JSON plan document; the query is checked.
    async fn imports_are_for_admins_and_take_json(backend) {
        let app = spawn_app_on(&seeded_database(backend)).await;
        let document = next_plan(&app).await;
        let path = "/api/v1/plans/import";
        let forbidden = app.send(Method::POST, path, Some(&token(&["kpis:write"], None)), None, Some(&document)).await;
        assert_problem(forbidden, 403).await;
        let anonymous = app.send(Method::POST, path, None, None, Some(&document)).await;
        assert_problem(anonymous, 401).await;
        let text = reqwest::Client::new()
            .post(app.url(path))
            .bearer_auth(token(&["admin"], None))
            .header("content-type", "text/plain")
            .body(document.to_string())
            .send()
            .await
            .unwrap();
        assert_problem(text, 415).await;
        let query = import(&app, &document, "?dry_run=yes").await;
        assert_eq!(failing_fields(query).await, ["dry_run"]);
        let not_json = reqwest::Client::new()
            .post(app.url(path))
            .bearer_auth(token(&["admin"], None))
            .header("content-type", "application/json")
            .body("{\"plan\": ")
            .send()
            .await
            .unwrap();
        assert_eq!(fields_of(not_json, 400).await, ["body"]);
        let shapeless = import(&app, &json!({"plan": document["plan"].clone()}), "").await;
        assert_eq!(failing_fields(shapeless).await, ["/departments"]);
    }
}

on_both_backends! {
    /// `strategy-api export` writes what the API answers and `strategy-api import` loads it into
    /// another database; a dry run prints the counts; a refused document names its places.
    async fn the_command_line_exports_and_imports_a_plan(backend) {
        let source = seeded_database(backend);
        let app = spawn_app_on(&source).await;
        let (over_http, _) = export_of(&app, "atsugi-2").await;
        let (ok, exported, errors) = cli(&source, &["export", "--plan", "atsugi-2"]);
        assert!(ok, "{errors}");
        let exported: Value = serde_json::from_str(&exported).unwrap();
        assert_eq!(exported, over_http, "the command line writes what the API answers");

        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-imports");
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join(format!("{backend:?}-{}.json", std::process::id()));
        std::fs::write(&file, exported.to_string()).unwrap();
        let target = migrated_database(backend);
        let (ok, printed, errors) = cli(&target, &["import", file.to_str().unwrap(), "--dry-run"]);
        assert!(ok, "{errors}");
        let report: Value = serde_json::from_str(&printed).unwrap();
        assert_eq!((report["dry_run"].clone(), report["created"]["kpis"].clone()), (json!(true), json!(45)));
        let (ok, printed, errors) = cli(&target, &["import", file.to_str().unwrap()]);
        assert!(ok, "{errors}");
        assert!(serde_json::from_str::<Value>(&printed).unwrap()["plan_id"].is_i64());
        let (ok, again, errors) = cli(&target, &["export", "--plan", "atsugi-2"]);
        assert!(ok, "{errors}");
        assert_eq!(without_ids_and_times(&serde_json::from_str(&again).unwrap()), without_ids_and_times(&exported));

        let (ok, _, errors) = cli(&target, &["import", file.to_str().unwrap()]);
        assert!(!ok);
        assert!(errors.contains("already present"), "{errors}");
        let mut broken = exported.clone();
        broken["plan"]["code"] = json!("atsugi-3");
        broken["goals"][0]["measures"][0]["initiatives"][0]["kpis"][1]["unit"] = json!("");
        std::fs::write(&file, broken.to_string()).unwrap();
        let (ok, _, errors) = cli(&target, &["import", file.to_str().unwrap()]);
        assert!(!ok);
        assert!(errors.contains("/goals/0/measures/0/initiatives/0/kpis/1/unit: "), "{errors}");

        let zip = dir.join(format!("{backend:?}-{}.zip", std::process::id()));
        let (ok, _, errors) = cli(&source, &["export", "--plan", "atsugi-2", "--format", "zip", "--output", zip.to_str().unwrap()]);
        assert!(ok, "{errors}");
        let archive = zip::ZipArchive::new(std::fs::File::open(&zip).unwrap()).expect("a zip");
        assert!(archive.file_names().any(|name| name.is_ok_and(|name| name == "kpis.csv")));
    }
}

/// The plan document's JSON Schema is published, standalone, and is the one in the OpenAPI document.
#[tokio::test]
async fn the_plan_document_schema_is_published() {
    let app = crate::helpers::spawn_app(Backend::Sqlite).await;
    let response = app.get("/api/v1/schemas/plan-export.json").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/schema+json");
    let schema: Value = response.json().await.unwrap();
    assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
    assert_eq!(schema["$ref"], "#/$defs/PlanDocument");
    let openapi = app.json("/openapi.json").await;
    for name in [
        "PlanDocument",
        "KpiPart",
        "ResultPart",
        "TargetRevisionPart",
        "EvaluationPart",
    ] {
        let mut published = schema["$defs"][name].clone();
        assert!(published.is_object(), "{name} is in $defs");
        let mut component = openapi["components"]["schemas"][name].clone();
        // The same schema, its references pointing within each document.
        let text = |value: &mut Value| value.to_string().replace("#/components/schemas/", "#/$defs/");
        assert_eq!(text(&mut published), text(&mut component), "{name}");
    }
    assert!(
        !schema.to_string().contains("#/components/"),
        "every reference resolves inside the schema"
    );
}

/// A zip's files by name.
fn unzip(bytes: &[u8]) -> Vec<(String, String)> {
    use std::io::Read;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip");
    (0..archive.len())
        .map(|index| {
            let mut file = archive.by_index(index).unwrap();
            let mut text = String::new();
            file.read_to_string(&mut text).unwrap();
            (file.name().unwrap().to_string(), text)
        })
        .collect()
}

fn rezip(files: &[(String, String)]) -> Vec<u8> {
    use std::io::Write;
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, text) in files {
        writer
            .start_file(
                name.as_str(),
                zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored),
            )
            .unwrap();
        writer.write_all(text.as_bytes()).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

async fn import_zip(app: &TestApp, body: Vec<u8>, query: &str) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/api/v1/plans/import{query}")))
        .bearer_auth(token(&["admin"], None))
        .header("content-type", "application/zip")
        .body(body)
        .send()
        .await
        .unwrap()
}

on_both_backends! {
    /// The export.zip of CSVs imports as the JSON document does: the same plan comes out, with
    /// its corrections, results, target revisions, project tables in order and evaluations; a
    /// failure is named by file, row and column.
    async fn the_export_zip_imports_with_everything_in_it(backend) {
        let source = spawn_app_on(&seeded_database(backend)).await;
        let writer = token(&["kpis:write"], None);
        let first = format!("/api/v1/kpis/{}", source.json("/api/v1/kpis?code=1-1-1-1").await["items"][0]["id"]);
        let body = json!({"value": "24", "analysis": "交流事業を再開; 参加者が増加", "next_steps": "継続"});
        assert_eq!(source.send(Method::PUT, &format!("{first}/results/2020"), Some(&writer), None, Some(&body)).await.status(), 201);
        source.revise_target(&first, &writer, json!({"value": "35", "year": 2026, "reason": "上方修正; 国の目標に合わせる"})).await;
        let plan = source.json("/api/v1/plans?code=atsugi-2").await["items"][0]["id"].clone();
        let frozen = source
            .send(Method::POST, &format!("/api/v1/plans/{plan}/evaluations"), Some(&token(&["admin"], None)), None, Some(&json!({"fiscal_year": 2020, "title": "令和2年度評価"})))
            .await;
        assert_eq!(frozen.status(), 201);
        let zip = source.get(&format!("/api/v1/plans/{plan}/export.zip")).await.bytes().await.unwrap().to_vec();
        let (document, _) = export_of(&source, "atsugi-2").await;

        let target = spawn_app_on(&migrated_database(backend)).await;
        let checked: Value = import_zip(&target, zip.clone(), "?dry_run=true").await.json().await.unwrap();
        assert_eq!(checked["created"]["kpi_target_revisions"], 1, "{checked}");
        let response = import_zip(&target, zip.clone(), "").await;
        assert_eq!(response.status(), 201);
        let (again, _) = export_of(&target, "atsugi-2").await;
        assert_eq!(without_ids_and_times(&again), without_ids_and_times(&document), "export.zip → import → export");

        let mut files = unzip(&zip);
        let line_of = |text: &str, start: &str| text.lines().position(|line| line.starts_with(start)).unwrap() + 1;
        let (kpis_row, projects_row);
        {
            let kpis = files.iter_mut().find(|(name, _)| name == "kpis.csv").unwrap();
            kpis_row = line_of(&kpis.1, &format!("{},1-1-1-2,", source.json("/api/v1/kpis?code=1-1-1-2").await["items"][0]["id"]));
            let mut lines: Vec<String> = kpis.1.split("\r\n").map(str::to_string).collect();
            let header: Vec<&str> = lines[0].split(',').collect();
            let column = header.iter().position(|name| *name == "target_value_text").unwrap();
            let mut cells: Vec<String> = lines[kpis_row - 1].split(',').map(str::to_string).collect();
            cells[column] = "三十".into();
            lines[kpis_row - 1] = cells.join(",");
            kpis.1 = lines.join("\r\n");
        }
        {
            let projects = files.iter_mut().find(|(name, _)| name == "projects.csv").unwrap();
            projects_row = 3;
            let mut lines: Vec<String> = projects.1.split("\r\n").map(str::to_string).collect();
            let header: Vec<&str> = lines[0].split(',').collect();
            let column = header.iter().position(|name| *name == "divisions_code").unwrap();
            let mut cells: Vec<String> = lines[projects_row - 1].split(',').map(str::to_string).collect();
            cells[column] = "D99-99".into();
            lines[projects_row - 1] = cells.join(",");
            projects.1 = lines.join("\r\n");
        }
        let other = spawn_app_on(&migrated_database(backend)).await;
        // The document describes a zip only as bytes: what is wrong inside it is a 422.
        let response = import_zip(&other, rezip(&files), "").await;
        assert_eq!(
            refused_fields(response).await,
            [format!("kpis.csv row {kpis_row}, column target_value_text"), format!("projects.csv row {projects_row}, column divisions_code")]
        );
        assert_eq!(other.json("/api/v1/plans").await["total"], 0);
        assert_eq!(refused_fields(import_zip(&other, b"PK\x03\x04 not a zip".to_vec(), "").await).await, ["body"]);
        // A row whose parent is in no row is refused, not left out.
        let mut orphaned = unzip(&zip);
        let results = orphaned.iter_mut().find(|(name, _)| name == "kpi_results.csv").unwrap();
        results.1 = results.1.replacen(&format!("\r\n{},", first.trim_start_matches("/api/v1/kpis/")), "\r\n999999,", 1);
        assert_eq!(refused_fields(import_zip(&other, rezip(&orphaned), "").await).await, ["kpi_results.csv row 2, column kpi_id"]);
        let without_plan: Vec<(String, String)> = files.into_iter().filter(|(name, _)| name != "plan.csv").collect();
        assert_eq!(refused_fields(import_zip(&other, rezip(&without_plan), "").await).await, ["plan.csv"]);
    }
}
