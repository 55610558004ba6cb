//! Yearly KPI results and the progress computed from them: recording, replacing and deleting
//! results under ETags, progress of every kind of KPI, grading schemes, and roll-ups over a
//! small fixture plan whose numbers are worked out by hand.

use std::time::Duration;

use reqwest::{Method, Response};
use serde_json::{json, Value};
use strategy_api::dataset::Dataset;
use strategy_api::db::seed::{self, SeedOutcome};
use strategy_api::db::Database;

use crate::helpers::{assert_problem, fields_of, latest_cursor, seeded_database, spawn_app_on, token, TestApp};

/// The id of the one record a filtered listing finds.
async fn id_of(app: &TestApp, path: &str) -> i64 {
    let page = app.json(path).await;
    assert_eq!(page["total"], 1, "{path}: {page}");
    page["items"][0]["id"].as_i64().unwrap()
}

/// The id of the KPI with this code in the only plan (the real one).
async fn kpi_id(app: &TestApp, code: &str) -> i64 {
    id_of(app, &format!("/api/v1/kpis?code={code}")).await
}

fn results_path(kpi: i64) -> String {
    format!("/api/v1/kpis/{kpi}/results")
}

fn result_path(kpi: i64, year: i32) -> String {
    format!("/api/v1/kpis/{kpi}/results/{year}")
}

async fn put(
    app: &TestApp,
    kpi: i64,
    year: i32,
    token: Option<&str>,
    if_match: Option<&str>,
    body: &Value,
) -> Response {
    app.send(Method::PUT, &result_path(kpi, year), token, if_match, Some(body))
        .await
}

/// Records one year's result with `kpis:write`, under the current ETag when the year already has
/// one; checks the 201/200 answer against a following GET and returns the result.
async fn record(app: &TestApp, kpi: i64, year: i32, body: Value) -> Value {
    let path = result_path(kpi, year);
    let current = app.get(&path).await;
    let existing = match current.status().as_u16() {
        200 => Some(current.headers()["etag"].to_str().unwrap().to_string()),
        404 => None,
        other => panic!("GET {path} answered {other}"),
    };
    let writer = token(&["kpis:write"], None);
    let response = put(app, kpi, year, Some(&writer), existing.as_deref(), &body).await;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let expected = if existing.is_some() { 200 } else { 201 };
    assert_eq!(status, expected, "PUT {path} {body}: {text}");
    if existing.is_none() {
        assert_eq!(headers["location"], path.as_str());
    }
    let written: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(written, app.json(&path).await, "the PUT body is what GET returns");
    let etag = headers["etag"].to_str().unwrap().to_string();
    assert!(etag.starts_with('"'), "a strong ETag: {etag}");
    assert_eq!(etag, app.etag(&path).await);
    assert_ne!(Some(etag), existing, "a write changes the ETag");
    written
}

/// Deletes one year's result under its current ETag.
async fn remove(app: &TestApp, kpi: i64, year: i32) {
    let path = result_path(kpi, year);
    let etag = app.etag(&path).await;
    let writer = token(&["kpis:write"], None);
    let response = app.send(Method::DELETE, &path, Some(&writer), Some(&etag), None).await;
    assert_eq!(response.status(), 204, "DELETE {path}");
    assert_problem(app.get(&path).await, 404).await;
}

/// The progress of a KPI, the same in GET /kpis/{id}, GET /kpis?code=…&plan=… and in the KPIs of
/// GET /initiatives/{id}.
async fn progress_of(app: &TestApp, kpi: i64) -> Value {
    let view = app.json(&format!("/api/v1/kpis/{kpi}")).await;
    let listed = app
        .json(&format!(
            "/api/v1/kpis?code={}&plan={}",
            view["code"].as_str().unwrap(),
            view["plan_id"]
        ))
        .await;
    assert_eq!(listed["total"], 1, "{listed}");
    assert_eq!(listed["items"][0], view, "GET /kpis?code= shows the same KPI");
    let initiative = app
        .json(&format!("/api/v1/initiatives/{}", view["initiative_id"]))
        .await;
    let in_initiative = initiative["kpis"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == kpi)
        .unwrap_or_else(|| panic!("KPI {kpi} in its initiative: {initiative}"));
    assert_eq!(
        in_initiative["progress"], view["progress"],
        "GET /initiatives/{{id}} shows the same progress"
    );
    view["progress"].clone()
}

/// Progress with a measured latest result.
fn measured(year: i32, value: Value, text: &str, rates: (f64, f64), status: &str, grade: &str) -> Value {
    json!({
        "latest_year": year, "latest_value": value, "latest_value_text": text,
        "achievement": rates.0, "expected": rates.1, "status": status, "grade": grade,
    })
}

/// `(resource, id, operation)` of the feed after a cursor.
async fn feed_since(app: &TestApp, since: i64) -> Vec<(String, i64, String)> {
    app.json(&format!("/api/v1/changes?since={since}")).await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["resource"].as_str().unwrap().to_string(),
                c["id"].as_i64().unwrap(),
                c["operation"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

on_both_backends! {
    /// A result is created (201, Location, ETag), replaced only under its current ETag (428 without,
    /// 412 stale, 412 for If-Match on a year without a result), listed oldest first and deleted
    /// under If-Match; bad years and bodies are 400s naming the range or the field; tokens and
    /// scopes are checked; every accepted write is in the feed and the audit record; a KPI with
    /// results cannot be deleted.
    async fn results_are_recorded_replaced_and_deleted_under_etags(backend) {
        let app = spawn_app_on(&seeded_database(backend)).await;
        let writer = token(&["kpis:write"], None);
        let admin = token(&["admin"], None);
        let kpi = kpi_id(&app, "1-1-1-1").await;
        let list = results_path(kpi);
        assert_eq!(
            app.json(&list).await,
            json!({"kpi_id": kpi, "first_year": 2019, "last_year": 2026, "year_type": "fiscal", "items": []})
        );
        assert_problem(app.get(&result_path(kpi, 2022)).await, 404).await;
        assert_problem(app.get("/api/v1/kpis/999999/results").await, 404).await;
        assert_problem(app.get("/api/v1/kpis/999999/results/2022").await, 404).await;
        let start = latest_cursor(&app).await;

        // No token: 401; a token without kpis:write: 403. Nothing is written.
        let body = json!({"value": "26", "source": "市民協働推進課調べ"});
        let response = put(&app, kpi, 2022, None, None, &body).await;
        assert_problem(response, 401).await;
        for wrong in ["projects:write", "profile"] {
            let response = put(&app, kpi, 2022, Some(&token(&[wrong], None)), None, &body).await;
            let problem = assert_problem(response, 403).await;
            assert!(problem["detail"].as_str().unwrap().contains("kpis:write"), "{problem}");
        }
        // If-Match on a year that has no result yet never matches, not even `*`.
        for condition in ["\"anything\"", "*"] {
            let response = put(&app, kpi, 2022, Some(&writer), Some(condition), &body).await;
            assert_problem(response, 412).await;
        }
        assert_problem(app.get(&result_path(kpi, 2022)).await, 404).await;
        assert_eq!(app.json(&list).await["items"], json!([]));
        assert_eq!(latest_cursor(&app).await, start, "refused writes are not in the feed");

        // Created: 201 with Location and ETag.
        let created = record(&app, kpi, 2022, body.clone()).await;
        assert!(created["updated_at"].is_string(), "{created}");
        let mut expected = json!({
            "kpi_id": kpi, "year": 2022, "year_type": "fiscal", "label": "令和4(2022)年度",
            "value": 26, "value_text": "26", "status": "measured", "note": null,
            "source": "市民協働推進課調べ", "analysis": null, "next_steps": null,
            "version": 1, "updated_at": created["updated_at"],
        });
        assert_eq!(created, expected);
        let first_etag = app.etag(&result_path(kpi, 2022)).await;

        // Replacing needs the current ETag.
        let replacement = json!({"value": "27.50", "note": "訂正: 速報値を確定値に置換"});
        let response = put(&app, kpi, 2022, Some(&writer), None, &replacement).await;
        assert_problem(response, 428).await;
        let response = put(&app, kpi, 2022, Some(&writer), Some("\"stale\""), &replacement).await;
        assert_problem(response, 412).await;
        assert_eq!(app.json(&result_path(kpi, 2022)).await, created, "refused replacements changed nothing");
        let replaced = record(&app, kpi, 2022, replacement).await;
        expected["value"] = json!(27.5);
        expected["value_text"] = json!("27.50");
        expected["note"] = json!("訂正: 速報値を確定値に置換");
        expected["source"] = Value::Null;
        expected["version"] = json!(2);
        expected["updated_at"] = replaced["updated_at"].clone();
        assert_eq!(replaced, expected, "a PUT replaces the whole result");
        // The ETag it replaced is stale now.
        let response = put(&app, kpi, 2022, Some(&writer), Some(&first_etag), &json!({"value": "1"})).await;
        assert_problem(response, 412).await;

        // Admin may record results too; not measurable needs a note and has no value.
        let response = put(&app, kpi, 2024, Some(&admin), None, &json!({"value": "29"})).await;
        assert_eq!(response.status(), 201);
        let skipped = record(&app, kpi, 2020, json!({"status": "not_measurable", "note": "新型コロナウイルス感染症の影響により交流事業を中止"})).await;
        assert_eq!(
            (&skipped["value"], &skipped["value_text"], &skipped["status"], &skipped["label"]),
            (&Value::Null, &Value::Null, &json!("not_measurable"), &json!("令和2(2020)年度"))
        );
        // Boundaries: the baseline and the target year, a 2000-character note, a 200-character source.
        record(&app, kpi, 2019, json!({"value": "22", "note": "あ".repeat(2000), "source": "い".repeat(200)})).await;
        record(&app, kpi, 2026, json!({"value": "30", "status": "measured"})).await;

        // Oldest first, whatever order they were written in.
        let listed = app.json(&list).await;
        let years: Vec<i64> = listed["items"].as_array().unwrap().iter().map(|r| r["year"].as_i64().unwrap()).collect();
        assert_eq!(years, [2019, 2020, 2022, 2024, 2026]);
        assert_eq!(listed["items"][2], replaced);
        assert_eq!(listed["items"][1], skipped);

        // Years outside baseline..=target fit the document (1900–2100) but not the KPI: a 422 with the range.
        for (code, year, range) in [
            ("1-1-1-1", 2018, "must be from 2019 to 2026"),
            ("1-1-1-1", 2027, "must be from 2019 to 2026"),
            ("1-2-2-1", 2019, "must be from 2020 to 2026"),
            ("4-2-2-1", 2027, "must be from 2019 to 2026"),
        ] {
            let id = kpi_id(&app, code).await;
            let response = put(&app, id, year, Some(&writer), None, &json!({"value": "10"})).await;
            let problem = assert_problem(response, 422).await;
            assert_eq!(problem["errors"][0]["field"], "year");
            assert!(problem["errors"][0]["message"].as_str().unwrap().contains(range), "{code} {year}: {problem}");
            assert_problem(app.get(&result_path(id, year)).await, 404).await;
        }
        assert_problem(put(&app, 999999, 2022, Some(&writer), None, &json!({"value": "1"})).await, 404).await;

        // Each invalid body names its field and writes nothing: a 400 where the body does not fit
        // the document, a 422 where it fits but the status's rule refuses it.
        let long_note = "あ".repeat(2001);
        let long_source = "い".repeat(201);
        let cases = [
            (json!({}), "value", 422),
            (json!({"status": "measured"}), "value", 422),
            (json!({"value": null}), "value", 422),
            (json!({"value": "26件"}), "value", 400),
            (json!({"value": "1,000"}), "value", 400),
            (json!({"value": ""}), "value", 400),
            (json!({"value": "1e3"}), "value", 400),
            (json!({"value": "NaN"}), "value", 400),
            (json!({"value": "Infinity"}), "value", 400),
            (json!({"value": ".5"}), "value", 400),
            (json!({"value": true}), "value", 400),
            (json!({"value": [26]}), "value", 400),
            (json!({"status": "not_measurable", "value": "26", "note": "調査未実施"}), "value", 422),
            (json!({"status": "not_measurable"}), "note", 422),
            (json!({"status": "not_measurable", "note": "  "}), "note", 400),
            (json!({"value": "26", "colour": "red"}), "colour", 400),
            (json!({"value": "26", "year": 2023}), "year", 400),
            (json!({"value": "26", "note": long_note}), "note", 400),
            (json!({"value": "26", "source": long_source}), "source", 400),
            (json!({"value": "26", "status": "estimated"}), "status", 400),
        ];
        let before = app.json(&list).await;
        for (invalid, field, status) in &cases {
            let response = put(&app, kpi, 2023, Some(&writer), None, invalid).await;
            assert_eq!(fields_of(response, *status).await, [*field], "{invalid}");
        }
        assert_eq!(app.json(&list).await, before, "invalid bodies wrote nothing");

        // Deleting needs the current ETag and a token with the scope.
        let path = result_path(kpi, 2024);
        let etag = app.etag(&path).await;
        let response = app.send(Method::DELETE, &path, None, Some(&etag), None).await;
        assert_problem(response, 401).await;
        let response = app.send(Method::DELETE, &path, Some(&token(&["projects:write"], None)), Some(&etag), None).await;
        assert_problem(response, 403).await;
        assert_problem(app.send(Method::DELETE, &path, Some(&writer), None, None).await, 428).await;
        assert_problem(app.send(Method::DELETE, &path, Some(&writer), Some("\"stale\""), None).await, 412).await;
        let kept = app.json(&path).await;
        remove(&app, kpi, 2024).await;
        assert_problem(app.send(Method::DELETE, &path, Some(&writer), Some(&etag), None).await, 404).await;

        // The feed names the KPI; the audit record has each result before and after.
        let changes = feed_since(&app, start).await;
        let expected_feed: Vec<(String, i64, String)> = ["create", "update", "create", "create", "create", "create", "delete"]
            .iter()
            .map(|op| ("kpi_result".to_string(), kpi, op.to_string()))
            .collect();
        assert_eq!(changes, expected_feed);
        let response = app
            .send(Method::GET, &format!("/api/v1/audit?resource=kpi_result&id={kpi}&limit=100"), Some(&admin), None, None)
            .await;
        assert_eq!(response.status(), 200);
        let audit: Value = response.json().await.unwrap();
        let audit = audit["items"].as_array().unwrap();
        let seen: Vec<(&str, &str, i64)> = audit
            .iter()
            .map(|r| (r["method"].as_str().unwrap(), r["operation"].as_str().unwrap(), r["record_id"].as_i64().unwrap()))
            .collect();
        assert_eq!(
            seen,
            [("PUT", "create", kpi), ("PUT", "update", kpi), ("PUT", "create", kpi), ("PUT", "create", kpi), ("PUT", "create", kpi), ("PUT", "create", kpi), ("DELETE", "delete", kpi)]
        );
        assert!(audit.iter().all(|r| r["resource"] == "kpi_result" && r["subject"] == "tester"));
        assert_eq!((&audit[0]["before"], &audit[0]["after"]), (&Value::Null, &created));
        assert_eq!((&audit[1]["before"], &audit[1]["after"]), (&created, &replaced));
        assert_eq!((&audit[6]["before"], &audit[6]["after"]), (&kept, &Value::Null));

        // A KPI with results is not deleted; once they are gone it is.
        let kpi_path = format!("/api/v1/kpis/{kpi}");
        let etag = app.etag(&kpi_path).await;
        let problem = assert_problem(app.send(Method::DELETE, &kpi_path, Some(&writer), Some(&etag), None).await, 409).await;
        assert!(problem["detail"].as_str().unwrap().contains("yearly results"), "{problem}");
        app.json(&kpi_path).await;
        for year in [2019, 2020, 2022, 2026] {
            remove(&app, kpi, year).await;
        }
        let etag = app.etag(&kpi_path).await;
        let response = app.send(Method::DELETE, &kpi_path, Some(&writer), Some(&etag), None).await;
        assert_eq!(response.status(), 204);
        assert_problem(app.get(&list).await, 404).await;
    }
}

on_both_backends! {
    /// Progress of the real KPIs with hand-worked numbers: increase, decrease (calendar years),
    /// maintain, no baseline, cumulative, beyond the target, below the baseline, not measurable;
    /// the latest YEAR counts, not the latest write. The same in every view of a KPI.
    async fn progress_of_real_kpis_matches_the_hand_worked_numbers(backend) {
        let app = spawn_app_on(&seeded_database(backend)).await;
        let exchange = kpi_id(&app, "1-1-1-1").await;
        let overseas = kpi_id(&app, "1-1-1-2").await;
        let crime = kpi_id(&app, "4-2-2-1").await;
        let shops = kpi_id(&app, "1-2-2-1").await;
        let reform = kpi_id(&app, "4-4-1-1").await;
        let movers = kpi_id(&app, "1-3-1-1").await;
        let tax = kpi_id(&app, "4-4-1-2").await;

        // Without results: no data.
        for kpi in [exchange, crime, shops, reform, movers, tax] {
            let progress = progress_of(&app, kpi).await;
            for field in ["latest_year", "latest_value", "latest_value_text", "achievement", "grade"] {
                assert_eq!(progress[field], Value::Null, "{field}: {progress}");
            }
            assert_eq!(progress["status"], "no_data");
        }
        let all = app.all("/api/v1/kpis").await;
        assert_eq!(all.len(), 45);
        assert!(all.iter().all(|k| k["progress"]["status"] == "no_data"));

        // increase: (26 − 22) / (30 − 22) = 0.5; expected (2022 − 2019) / 7 = 0.4286.
        record(&app, exchange, 2022, json!({"value": "26"})).await;
        assert_eq!(progress_of(&app, exchange).await, measured(2022, json!(26), "26", (0.5, 0.4286), "on_track", "C"));

        // decrease, calendar years: (900 − 1259) / (531 − 1259) = 0.4931.
        let result = record(&app, crime, 2022, json!({"value": "900"})).await;
        assert_eq!((&result["year_type"], &result["label"]), (&json!("calendar"), &json!("令和4(2022)年")));
        assert_eq!(app.json(&results_path(crime)).await["year_type"], "calendar");
        assert_eq!(progress_of(&app, crime).await, measured(2022, json!(900), "900", (0.4931, 0.4286), "on_track", "D"));

        // maintain: 6 of 8 is 0.75 against an expected 1: behind; 8 is the target kept.
        record(&app, shops, 2022, json!({"value": "6"})).await;
        assert_eq!(progress_of(&app, shops).await, measured(2022, json!(6), "6", (0.75, 1.0), "behind", "C"));
        record(&app, shops, 2022, json!({"value": "8"})).await;
        assert_eq!(progress_of(&app, shops).await, measured(2022, json!(8), "8", (1.0, 1.0), "achieved", "A"));
        record(&app, shops, 2023, json!({"value": "9"})).await;
        assert_eq!(progress_of(&app, shops).await, measured(2023, json!(9), "9", (1.0, 1.0), "achieved", "A"));

        // no baseline ("—"): 45 / 100; expected (2023 − 2020) / 6 = 0.5.
        record(&app, reform, 2023, json!({"value": "45"})).await;
        assert_eq!(progress_of(&app, reform).await, measured(2023, json!(45), "45", (0.45, 0.5), "behind", "D"));

        // cumulative: the running total, (700 − 101) / (1320 − 101) = 0.4914.
        record(&app, movers, 2022, json!({"value": "700"})).await;
        assert_eq!(progress_of(&app, movers).await, measured(2022, json!(700), "700", (0.4914, 0.4286), "on_track", "D"));

        // Beyond the target is reported as it is: (31 − 22) / 8 = 1.125.
        record(&app, exchange, 2025, json!({"value": "31"})).await;
        assert_eq!(progress_of(&app, exchange).await, measured(2025, json!(31), "31", (1.125, 0.8571), "achieved", "A"));
        // Worse than the baseline too: (1300 − 1259) / (531 − 1259) = −0.0563.
        record(&app, crime, 2023, json!({"value": "1300"})).await;
        assert_eq!(progress_of(&app, crime).await, measured(2023, json!(1300), "1300", (-0.0563, 0.5714), "behind", "D"));

        // Exact decimals: (98.90 − 98.81) / (99.10 − 98.81) = 0.3103; then a year not measurable.
        let result = record(&app, tax, 2021, json!({"value": "98.90"})).await;
        assert_eq!((&result["value"], &result["value_text"]), (&json!(98.9), &json!("98.90")));
        assert_eq!(progress_of(&app, tax).await, measured(2021, json!(98.9), "98.90", (0.3103, 0.2857), "on_track", "D"));
        record(&app, tax, 2022, json!({"status": "not_measurable", "note": "システム移行のため集計不能"})).await;
        let progress = progress_of(&app, tax).await;
        assert_eq!(progress["status"], "not_measurable", "{progress}");
        assert_eq!(progress["latest_year"], 2022, "{progress}");
        for field in ["latest_value", "latest_value_text", "achievement", "grade"] {
            assert_eq!(progress[field], Value::Null, "{field}: {progress}");
        }

        // The latest year counts, not the latest write: 2023 then 2021 is still 2023.
        record(&app, overseas, 2023, json!({"value": "24"})).await;
        let of_2023 = measured(2023, json!(24), "24", (0.6, 0.5714), "on_track", "C");
        assert_eq!(progress_of(&app, overseas).await, of_2023);
        record(&app, overseas, 2021, json!({"value": "16"})).await;
        assert_eq!(progress_of(&app, overseas).await, of_2023);
        // Replacing an older year changes nothing either; deleting the latest falls back to 2021.
        record(&app, overseas, 2021, json!({"value": "17"})).await;
        assert_eq!(progress_of(&app, overseas).await, of_2023);
        remove(&app, overseas, 2023).await;
        assert_eq!(progress_of(&app, overseas).await, measured(2021, json!(17), "17", (0.1333, 0.2857), "behind", "D"));
        remove(&app, overseas, 2021).await;
        assert_eq!(progress_of(&app, overseas).await["status"], "no_data");

        // The list shows the same progress as the record for every KPI.
        for kpi in app.all("/api/v1/kpis").await {
            assert_eq!(app.json(&format!("/api/v1/kpis/{}", kpi["id"])).await, kpi);
        }
    }
}

fn marks() -> Value {
    json!([
        {"grade": "◎", "min": 1.0},
        {"grade": "○", "min": 0.6},
        {"grade": "△", "min": 0.3},
        {"grade": "×", "min": null},
    ])
}

fn default_scheme() -> Value {
    json!([
        {"grade": "A", "min": 1.0},
        {"grade": "B", "min": 0.8},
        {"grade": "C", "min": 0.5},
        {"grade": "D", "min": null},
    ])
}

on_both_backends! {
    /// Grades follow the plan's grading scheme: the default A–D, then ◎○△× set by an admin (only an
    /// admin); invalid schemes are 400s on `grading_scheme`; another plan keeps its own scheme.
    async fn the_grading_scheme_of_a_plan_decides_the_grades(backend) {
        let url = seeded_database(backend);
        let mut next = Dataset::atsugi_2();
        next.plan.code = "atsugi-3".into();
        next.plan.name = "第3期厚木市まち・ひと・しごと創生総合戦略".into();
        let outcome = Database::new(&url, 2, Duration::from_secs(10))
            .run_blocking(|conn| seed::seed(conn, &next))
            .unwrap();
        let SeedOutcome::Loaded { plan_id: other_plan } = outcome else { panic!("{outcome:?}") };
        let app = spawn_app_on(&url).await;
        let plan = id_of(&app, "/api/v1/plans?code=atsugi-2").await;
        let plan_path = format!("/api/v1/plans/{plan}");
        assert_eq!(app.json(&plan_path).await["grading_scheme"], default_scheme());
        assert_eq!(app.json(&format!("/api/v1/plans/{other_plan}")).await["grading_scheme"], default_scheme());

        let in_plan = |code: &str, plan: i64| format!("/api/v1/kpis?code={code}&plan={plan}");
        // (code, year, value, default grade, ◎○△× grade)
        let cases = [
            ("1-1-1-1", 2022, "26", "C", "△"),   // 0.5
            ("1-1-1-2", 2023, "24", "C", "○"),   // 0.6: a threshold is reached at equality
            ("1-2-2-1", 2022, "8", "A", "◎"),    // 1.0
            ("4-4-1-1", 2023, "25", "D", "×"),   // 0.25
            ("1-3-1-1", 2024, "1100", "B", "○"), // 0.8195
            ("4-2-2-1", 2023, "1300", "D", "×"), // −0.0563
        ];
        let mut ids = Vec::new();
        for (code, year, value, default, _) in cases {
            let id = id_of(&app, &in_plan(code, plan)).await;
            record(&app, id, year, json!({"value": value})).await;
            assert_eq!(progress_of(&app, id).await["grade"], default, "{code}");
            ids.push(id);
        }
        let tax = id_of(&app, &in_plan("4-4-1-2", plan)).await;
        record(&app, tax, 2022, json!({"status": "not_measurable", "note": "未集計"})).await;
        let other_kpi = id_of(&app, &in_plan("1-1-1-1", other_plan)).await;
        record(&app, other_kpi, 2022, json!({"value": "26"})).await;
        assert_eq!(progress_of(&app, other_kpi).await["grade"], "C");

        // Only an admin changes the scheme.
        let change = json!({"grading_scheme": marks()});
        let etag = app.etag(&plan_path).await;
        let response = app.send(Method::PATCH, &plan_path, Some(&token(&["kpis:write"], None)), Some(&etag), Some(&change)).await;
        assert_problem(response, 403).await;
        let response = app.send(Method::PATCH, &plan_path, None, Some(&etag), Some(&change)).await;
        assert_problem(response, 401).await;
        let admin = token(&["admin"], None);
        let response = app.send(Method::PATCH, &plan_path, Some(&admin), Some(&etag), Some(&change)).await;
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
        assert_eq!(app.json(&plan_path).await["grading_scheme"], marks());

        for ((code, _, _, _, mark), id) in cases.iter().zip(&ids) {
            assert_eq!(progress_of(&app, *id).await["grade"], *mark, "{code}");
        }
        assert_eq!(progress_of(&app, tax).await["grade"], Value::Null);
        let grades: Vec<Value> = app.all(&format!("/api/v1/kpis?plan={plan}")).await.iter()
            .filter(|k| k["progress"]["achievement"].is_number())
            .map(|k| k["progress"]["grade"].clone())
            .collect();
        assert_eq!(grades.len(), 6);
        assert!(grades.iter().all(|g| ["◎", "○", "△", "×"].contains(&g.as_str().unwrap())), "{grades:?}");
        // The other plan keeps its own (default) scheme.
        assert_eq!(progress_of(&app, other_kpi).await["grade"], "C");
        assert_eq!(app.json(&format!("/api/v1/plans/{other_plan}")).await["grading_scheme"], default_scheme());

        // Invalid schemes are refused on `grading_scheme` and change nothing: off the document's
        // bounds (1 to 10 grades of 1 to 10 characters) a 400, out of order a 422.
        let invalid = [
            (json!([]), 400),
            (json!([{"grade": " A", "min": null}]), 400),
            (json!([{"grade": "A\u{7}", "min": null}]), 400),
            (json!([{"grade": "A", "min": 0.5}, {"grade": "B", "min": 0.8}, {"grade": "C", "min": null}]), 422),
            (json!([{"grade": "A", "min": 0.8}, {"grade": "B", "min": 0.8}, {"grade": "C", "min": null}]), 422),
            (json!([{"grade": "A", "min": 1.0}, {"grade": "B", "min": 0.5}]), 422),
            (json!([{"grade": "A", "min": 1.0}, {"grade": "A", "min": null}]), 422),
            (json!([{"grade": "A", "min": null}, {"grade": "B", "min": null}]), 422),
        ];
        for (scheme, status) in invalid {
            let etag = app.etag(&plan_path).await;
            let response = app.send(Method::PATCH, &plan_path, Some(&admin), Some(&etag), Some(&json!({"grading_scheme": scheme}))).await;
            assert_eq!(fields_of(response, status).await, ["grading_scheme"], "{scheme}");
            assert_eq!(app.etag(&plan_path).await, etag, "{scheme} changed the plan");
        }
        assert_eq!(app.json(&plan_path).await["grading_scheme"], marks());

        // Back to A–D: the grades follow again.
        let etag = app.etag(&plan_path).await;
        let response = app.send(Method::PATCH, &plan_path, Some(&admin), Some(&etag), Some(&json!({"grading_scheme": default_scheme()}))).await;
        assert_eq!(response.status(), 200);
        for ((code, _, _, default, _), id) in cases.iter().zip(&ids) {
            assert_eq!(progress_of(&app, *id).await["grade"], *default, "{code}");
        }
    }
}

/// A small plan: 1 goal, 2 measures, 3 initiatives, 5 KPIs, 3 departments.
///
/// | KPI     | initiative | baseline → target     | result          | achievement | status         |
/// |---------|------------|-----------------------|-----------------|-------------|----------------|
/// | 1-1-1-1 | 1-1-1      | 0 (2020) → 100 (2026) | 60 in 2023      | 0.6         | on_track (0.5) |
/// | 1-1-1-2 | 1-1-1      | 50 → 10 (calendar)    | 55 in 2022      | −0.125      | behind         |
/// | 1-1-2-1 | 1-1-2      | 200 → 300             | not measurable  | null        | not_measurable |
/// | 1-2-1-1 | 1-2-1      | 5 → 5 (maintain)      | 5 in 2024       | 1.0         | achieved       |
/// | 1-2-1-2 | 1-2-1      | — → 20                | none            | null        | no_data        |
///
/// Projects: F1 (two projects in 1-1-1, one shared with F2 in 1-1-2), F2 (1-1-2 and 1-2-1),
/// F3 (a department without projects).
fn fixture() -> Dataset {
    let kpi = |code: &str, baseline: Option<&str>, target: &str, year_type: &str| {
        json!({
            "code": code, "name": format!("テスト指標{code}"), "unit": "件", "cumulative": false,
            "baseline": {"value": baseline, "year": 2020, "year_type": year_type},
            "target": {"value": target, "year": 2026, "year_type": year_type},
        })
    };
    let appearance = |project: &str| json!({"project": project, "description": format!("{project}の説明")});
    let text = json!({
        "plan": {
            "code": "fixture", "name": "テスト戦略", "document_title": "テスト戦略 KPI一覧",
            "municipality_code": "142123", "municipality_name": "厚木市", "prefecture": "神奈川県",
            "period_start_year": 2021, "period_end_year": 2026,
        },
        "departments": [
            {"code": "F1", "name": "第一部", "divisions": [{"code": "F1-01", "name": "第一課"}, {"code": "F1-02", "name": "第二課"}]},
            {"code": "F2", "name": "第二部", "divisions": [{"code": "F2-01", "name": "第三課"}]},
            {"code": "F3", "name": "第三部", "divisions": [{"code": "F3-01", "name": "第四課"}]},
        ],
        "goals": [{
            "code": "1", "number": 1, "category": "テスト", "title": "テストの基本目標",
            "measures": [
                {"code": "1-1", "number": 1, "title": "施策一", "initiatives": [
                    {"code": "1-1-1", "number": 1, "title": "取組一",
                     "kpis": [kpi("1-1-1-1", Some("0"), "100", "fiscal"), kpi("1-1-1-2", Some("50"), "10", "calendar")],
                     "projects": [appearance("P1"), appearance("P4")]},
                    {"code": "1-1-2", "number": 2, "title": "取組二",
                     "kpis": [kpi("1-1-2-1", Some("200"), "300", "fiscal")],
                     "projects": [appearance("P3")]},
                ]},
                {"code": "1-2", "number": 2, "title": "施策二", "initiatives": [
                    {"code": "1-2-1", "number": 1, "title": "取組三",
                     "kpis": [kpi("1-2-1-1", Some("5"), "5", "fiscal"), kpi("1-2-1-2", None, "20", "fiscal")],
                     "projects": [appearance("P2")]},
                ]},
            ],
        }],
        "projects": [
            {"code": "P1", "name": "事業一", "account": null, "divisions": ["F1-01"]},
            {"code": "P2", "name": "事業二", "account": null, "divisions": ["F2-01"]},
            {"code": "P3", "name": "事業三", "account": "一般会計", "divisions": ["F1-01", "F2-01"]},
            {"code": "P4", "name": "事業四", "account": null, "divisions": ["F1-02"]},
        ],
        "normalisations": [],
    });
    Dataset::parse(&text.to_string()).expect("the fixture is a valid dataset")
}

/// The ids of the items of a roll-up.
fn item_ids(rollup: &Value) -> Vec<i64> {
    rollup["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_i64().unwrap())
        .collect()
}

fn counts(achieved: u64, on_track: u64, behind: u64, no_data: u64, not_measurable: u64) -> Value {
    json!({"achieved": achieved, "on_track": on_track, "behind": behind, "no_data": no_data, "not_measurable": not_measurable})
}

on_both_backends! {
    /// Roll-ups over a fixture plan seeded beside the real one, with results entered through the
    /// API so that every status occurs: counts, mean achievement and items of the plan, its goal,
    /// measures, initiatives and departments; `/progress` without a plan covers both plans;
    /// `/kpis?department=` filters as the department roll-up does; unknown ids are 404s.
    async fn roll_ups_count_statuses_and_average_achievements(backend) {
        let url = seeded_database(backend);
        let outcome = Database::new(&url, 2, Duration::from_secs(10))
            .run_blocking(|conn| seed::seed(conn, &fixture()))
            .unwrap();
        let SeedOutcome::Loaded { plan_id: plan } = outcome else { panic!("{outcome:?}") };
        let app = spawn_app_on(&url).await;
        let real = id_of(&app, "/api/v1/plans?code=atsugi-2").await;
        let of_plan = |collection: &str, code: &str| format!("/api/v1/{collection}?plan={plan}&code={code}");
        let k = [
            id_of(&app, &of_plan("kpis", "1-1-1-1")).await,
            id_of(&app, &of_plan("kpis", "1-1-1-2")).await,
            id_of(&app, &of_plan("kpis", "1-1-2-1")).await,
            id_of(&app, &of_plan("kpis", "1-2-1-1")).await,
            id_of(&app, &of_plan("kpis", "1-2-1-2")).await,
        ];
        assert!(k.windows(2).all(|pair| pair[0] < pair[1]), "{k:?}");

        record(&app, k[0], 2023, json!({"value": "60"})).await;
        record(&app, k[1], 2022, json!({"value": "55"})).await;
        record(&app, k[2], 2021, json!({"value": "250"})).await;
        record(&app, k[2], 2023, json!({"status": "not_measurable", "note": "調査を実施しなかった"})).await;
        record(&app, k[3], 2024, json!({"value": "5"})).await;
        let crime = kpi_id_in(&app, real, "4-2-2-1").await;
        record(&app, crime, 2022, json!({"value": "900"})).await;

        let progress: Vec<Value> = {
            let mut all = Vec::new();
            for id in k {
                all.push(progress_of(&app, id).await);
            }
            all
        };
        assert_eq!(progress[0], measured(2023, json!(60), "60", (0.6, 0.5), "on_track", "C"));
        assert_eq!(progress[1], measured(2022, json!(55), "55", (-0.125, 0.3333), "behind", "D"));
        assert_eq!((&progress[2]["status"], &progress[2]["achievement"]), (&json!("not_measurable"), &Value::Null));
        assert_eq!(progress[3], measured(2024, json!(5), "5", (1.0, 1.0), "achieved", "A"));
        assert_eq!(progress[4]["status"], "no_data");

        // Every roll-up lists the KPI views GET /kpis/{id} returns.
        let mut views = Vec::new();
        for id in k {
            views.push(app.json(&format!("/api/v1/kpis/{id}")).await);
        }
        let check = |path: String, expected_counts: Value, mean: Value, members: Vec<usize>| {
            let app = &app;
            let views = &views;
            async move {
                let rollup = app.json(&path).await;
                assert_eq!(rollup["kpis"], members.len(), "{path}: {rollup}");
                assert_eq!(rollup["counts"], expected_counts, "{path}");
                assert_eq!(rollup["mean_achievement"], mean, "{path}");
                let items: Vec<Value> = members.iter().map(|&i| views[i].clone()).collect();
                assert_eq!(rollup["items"], json!(items), "{path}");
            }
        };
        // Plan: (0.6 − 0.125 + 1.0) / 3 = 0.49166… → 0.4917.
        check(format!("/api/v1/progress?plan={plan}"), counts(1, 1, 1, 1, 1), json!(0.4917), vec![0, 1, 2, 3, 4]).await;
        let goal = id_of(&app, &of_plan("goals", "1")).await;
        check(format!("/api/v1/goals/{goal}/progress"), counts(1, 1, 1, 1, 1), json!(0.4917), vec![0, 1, 2, 3, 4]).await;
        // Measure 1-1: (0.6 − 0.125) / 2 = 0.2375; measure 1-2: only the kept target.
        let measure = id_of(&app, &of_plan("measures", "1-1")).await;
        check(format!("/api/v1/measures/{measure}/progress"), counts(0, 1, 1, 0, 1), json!(0.2375), vec![0, 1, 2]).await;
        let measure = id_of(&app, &of_plan("measures", "1-2")).await;
        check(format!("/api/v1/measures/{measure}/progress"), counts(1, 0, 0, 1, 0), json!(1.0), vec![3, 4]).await;
        let initiative = id_of(&app, &of_plan("initiatives", "1-1-1")).await;
        check(format!("/api/v1/initiatives/{initiative}/progress"), counts(0, 1, 1, 0, 0), json!(0.2375), vec![0, 1]).await;
        // Only not measurable: no mean.
        let initiative = id_of(&app, &of_plan("initiatives", "1-1-2")).await;
        check(format!("/api/v1/initiatives/{initiative}/progress"), counts(0, 0, 0, 0, 1), Value::Null, vec![2]).await;
        let initiative = id_of(&app, &of_plan("initiatives", "1-2-1")).await;
        check(format!("/api/v1/initiatives/{initiative}/progress"), counts(1, 0, 0, 1, 0), json!(1.0), vec![3, 4]).await;

        // Departments: F1 has two projects in 1-1-1 and one in 1-1-2 (each KPI once); F2 shares
        // 1-1-2 and has 1-2-1; F3 has no projects.
        let departments = [
            (id_of(&app, &of_plan("departments", "F1")).await, counts(0, 1, 1, 0, 1), json!(0.2375), vec![0, 1, 2]),
            (id_of(&app, &of_plan("departments", "F2")).await, counts(1, 0, 0, 1, 1), json!(1.0), vec![2, 3, 4]),
            (id_of(&app, &of_plan("departments", "F3")).await, counts(0, 0, 0, 0, 0), Value::Null, vec![]),
        ];
        for (department, expected_counts, mean, members) in departments {
            check(format!("/api/v1/departments/{department}/progress"), expected_counts, mean, members.clone()).await;
            let filtered = app.json(&format!("/api/v1/kpis?department={department}")).await;
            assert_eq!(filtered["total"], members.len(), "{filtered}");
            let expected_ids: Vec<i64> = members.iter().map(|&i| k[i]).collect();
            assert_eq!(item_ids(&filtered), expected_ids, "/kpis?department={department}");
        }
        // A department of the real plan reaches only real KPIs.
        let policy = id_of(&app, &format!("/api/v1/departments?plan={real}&code=D01")).await;
        let rollup = app.json(&format!("/api/v1/departments/{policy}/progress")).await;
        assert!(rollup["kpis"].as_u64().unwrap() > 0);
        assert!(rollup["items"].as_array().unwrap().iter().all(|kpi| kpi["plan_id"] == real));
        assert_eq!(item_ids(&rollup), item_ids(&app.json(&format!("/api/v1/kpis?department={policy}&limit=500")).await));

        // The real plan: 45 KPIs, one on track at 0.4931.
        let rollup = app.json(&format!("/api/v1/progress?plan={real}")).await;
        assert_eq!((&rollup["kpis"], &rollup["counts"], &rollup["mean_achievement"]), (&json!(45), &counts(0, 1, 0, 44, 0), &json!(0.4931)));
        // Both plans: 50 KPIs; (0.6 − 0.125 + 1.0 + 0.4931) / 4 = 0.492025 → 0.4920.
        let rollup = app.json("/api/v1/progress").await;
        assert_eq!(rollup["kpis"], 50);
        assert_eq!(rollup["counts"], counts(1, 2, 1, 45, 1));
        assert_eq!(rollup["mean_achievement"], json!(0.492));
        let mut all_ids: Vec<i64> = app.all("/api/v1/kpis").await.iter().map(|kpi| kpi["id"].as_i64().unwrap()).collect();
        all_ids.sort_unstable();
        let mut rolled = item_ids(&rollup);
        rolled.sort_unstable();
        assert_eq!(rolled, all_ids);

        // Unknown ids.
        for path in [
            "/api/v1/goals/999999/progress",
            "/api/v1/measures/999999/progress",
            "/api/v1/initiatives/999999/progress",
            "/api/v1/departments/999999/progress",
        ] {
            assert_problem(app.get(path).await, 404).await;
        }
    }
}

async fn kpi_id_in(app: &TestApp, plan: i64, code: &str) -> i64 {
    id_of(app, &format!("/api/v1/kpis?plan={plan}&code={code}")).await
}

/// Sends a body exactly as written, for the number forms a JSON library would rewrite.
async fn put_raw(
    app: &TestApp,
    path: &str,
    token: &str,
    if_match: Option<&str>,
    method: Method,
    body: &str,
) -> Response {
    let mut request = app
        .client
        .request(method, app.url(path))
        .bearer_auth(token)
        .header("Content-Type", "application/json")
        .body(body.to_string());
    if let Some(etag) = if_match {
        request = request.header("If-Match", etag);
    }
    request.send().await.expect("request sent")
}

on_both_backends! {
    /// A decimal is a JSON number or a string, kept digit for digit (98.90 keeps its two places);
    /// exponents and NaN-like forms, which would change the published figure, are a 400 naming it.
    async fn decimal_inputs_accept_numbers_and_strings_and_keep_their_digits(backend) {
        let app = spawn_app_on(&seeded_database(backend)).await;
        let writer = token(&["kpis:write"], None);
        let kpi = kpi_id(&app, "4-4-1-2").await;
        for (year, body, text) in [
            (2020, r#"{"value": 900}"#, "900"),
            (2021, r#"{"value": 98.90}"#, "98.90"),
            (2022, r#"{"value": "98.90"}"#, "98.90"),
            (2023, r#"{"value": -1.5}"#, "-1.5"),
            (2024, r#"{"value": 0.000001}"#, "0.000001"),
        ] {
            let response = put_raw(&app, &result_path(kpi, year), &writer, None, Method::PUT, body).await;
            assert_eq!(response.status(), 201, "{body}");
            let result: Value = response.json().await.unwrap();
            assert_eq!(result["value_text"], text, "{body}");
            assert_eq!(app.json(&result_path(kpi, year)).await["value_text"], text, "{body} read back");
        }
        let before = app.json(&results_path(kpi)).await;
        for body in [
            r#"{"value": 1e3}"#,
            r#"{"value": 2.6E1}"#,
            r#"{"value": 1.5e-3}"#,
            r#"{"value": "1E3"}"#,
        ] {
            let response = put_raw(&app, &result_path(kpi, 2025), &writer, None, Method::PUT, body).await;
            let problem = assert_problem(response, 400).await;
            assert_eq!(problem["errors"][0]["field"], "value", "{body}");
            assert!(problem["errors"][0]["message"].as_str().unwrap().contains("exponent"), "{body}: {problem}");
        }
        for body in [r#"{"value": NaN}"#, r#"{"value": "NaN"}"#, r#"{"value": "-Infinity"}"#, r#"{"value": 1,000}"#] {
            let response = put_raw(&app, &result_path(kpi, 2025), &writer, None, Method::PUT, body).await;
            assert_problem(response, 400).await;
        }
        assert_eq!(app.json(&results_path(kpi)).await, before, "refused bodies wrote nothing");

        // A KPI's baseline and target take numbers too, through a merge patch.
        let path = format!("/api/v1/kpis/{kpi}");
        let etag = app.etag(&path).await;
        let response = app
            .client
            .patch(app.url(&path))
            .bearer_auth(&writer)
            .header("If-Match", etag)
            .header("Content-Type", "application/merge-patch+json")
            .body(r#"{"baseline": {"value": 98.80}, "target": {"value": 99.10}}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let patched: Value = response.json().await.unwrap();
        assert_eq!((patched["baseline"]["value_text"].clone(), patched["target"]["value_text"].clone()), (json!("98.80"), json!("99.10")));
    }
}
