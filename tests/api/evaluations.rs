use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{assert_problem, seeded_database, spawn_app_on, token, TestApp};

async fn kpi_id(app: &TestApp, code: &str) -> i64 {
    app.json(&format!("/api/v1/kpis?code={code}")).await["items"][0]["id"]
        .as_i64()
        .unwrap()
}

async fn record(app: &TestApp, kpi: i64, year: i32, value: &str) {
    let path = format!("/api/v1/kpis/{kpi}/results/{year}");
    let writer = token(&["kpis:write"], None);
    let existing = app.get(&path).await;
    let etag = existing
        .headers()
        .get("etag")
        .map(|etag| etag.to_str().unwrap().to_string());
    let response = app
        .send(
            Method::PUT,
            &path,
            Some(&writer),
            etag.as_deref(),
            Some(&json!({"value": value})),
        )
        .await;
    assert!(response.status().is_success(), "PUT {path}: {}", response.status());
}

on_both_backends! {
    /// An evaluation freezes each KPI's latest result up to its fiscal year; later corrections
    /// never change it; it reads as JSON and as CSV.
    async fn an_evaluation_is_frozen_and_never_rewritten(backend) {
        let app = spawn_app_on(&seeded_database(backend)).await;
        let admin = token(&["admin"], None);
        let exchanges = kpi_id(&app, "1-1-1-1").await;
        let crimes = kpi_id(&app, "4-2-2-1").await;
        record(&app, exchanges, 2022, "26").await;
        record(&app, exchanges, 2025, "31").await;
        record(&app, crimes, 2023, "900").await;

        let plan = app.json("/api/v1/plans").await["items"][0]["id"].as_i64().unwrap();
        let body = json!({"fiscal_year": 2024, "title": "令和6年度 総合戦略評価"});
        let response = app.send(Method::POST, &format!("/api/v1/plans/{plan}/evaluations"), Some(&admin), None, Some(&body)).await;
        assert_eq!(response.status(), 201);
        let location = response.headers()["location"].to_str().unwrap().to_string();
        let frozen: Value = response.json().await.unwrap();
        assert_eq!(frozen["fiscal_year"], 2024);
        assert_eq!(frozen["items"].as_array().unwrap().len(), 45);
        let item = |evaluation: &Value, code: &str| {
            evaluation["items"].as_array().unwrap().iter().find(|item| item["kpi_code"] == code).unwrap().clone()
        };
        // The 2025 result is after the evaluated year: the 2022 one counts.
        let exchange = item(&frozen, "1-1-1-1");
        assert_eq!((exchange["result_year"].clone(), exchange["result_value"].clone()), (json!(2022), json!("26")));
        assert_eq!((exchange["achievement"].clone(), exchange["status"].clone(), exchange["grade"].clone()), (json!(0.5), json!("on_track"), json!("C")));
        assert_eq!(item(&frozen, "4-2-2-1")["achievement"], 0.4931);
        assert_eq!(frozen["counts"]["no_data"], 43);
        assert_eq!(app.json(&location).await, frozen);

        // A correction afterwards changes progress now, not the frozen evaluation.
        record(&app, exchanges, 2022, "20").await;
        assert_eq!(app.json(&format!("/api/v1/kpis/{exchanges}")).await["progress"]["latest_value_text"], "31");
        assert_eq!(app.json(&location).await, frozen);
        let listed = app.json(&format!("/api/v1/plans/{plan}/evaluations")).await;
        assert_eq!(listed["total"], 1);
        assert_eq!(listed["items"][0]["title"], "令和6年度 総合戦略評価");

        // CSV: a header row of the JSON field names, one row per KPI, CRLF line ends.
        let response = app.get(&format!("{location}?format=csv")).await;
        assert_eq!(response.headers()["content-type"], "text/csv; charset=utf-8");
        assert!(response.headers()["content-disposition"].to_str().unwrap().contains(".csv"));
        let text = response.text().await.unwrap();
        assert!(text.contains("\r\n") && !text.replace("\r\n", "").contains('\n'));
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let headers: Vec<String> = reader.headers().unwrap().iter().map(str::to_string).collect();
        assert_eq!(headers[..3], ["kpi_code", "kpi_name", "unit"]);
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 45);
        let row = rows.iter().find(|row| &row[0] == "1-1-1-1").unwrap();
        let field = |name: &str| row[headers.iter().position(|header| header == name).unwrap()].to_string();
        assert_eq!((field("kpi_name"), field("result_value"), field("achievement"), field("status")), ("国内友好都市との交流活動件数".into(), "26".into(), "0.5".into(), "on_track".into()));
        let by_accept = app.client.get(app.url(&location)).header("Accept", "text/csv").send().await.unwrap();
        assert_eq!(by_accept.text().await.unwrap(), text);
    }
}

on_both_backends! {
    /// Evaluations are admin-only, immutable, and validated.
    async fn evaluations_are_admin_only_and_immutable(backend) {
        let app = spawn_app_on(&seeded_database(backend)).await;
        let plan = app.json("/api/v1/plans").await["items"][0]["id"].as_i64().unwrap();
        let path = format!("/api/v1/plans/{plan}/evaluations");
        let body = json!({"fiscal_year": 2024, "title": "評価"});
        assert_problem(app.send(Method::POST, &path, None, None, Some(&body)).await, 401).await;
        assert_problem(app.send(Method::POST, &path, Some(&token(&["kpis:write"], None)), None, Some(&body)).await, 403).await;
        let admin = token(&["admin"], None);
        let problem = assert_problem(app.send(Method::POST, &path, Some(&admin), None, Some(&json!({"fiscal_year": 2090, "title": ""}))).await, 400).await;
        let fields: Vec<&str> = problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert_eq!(fields, ["title", "fiscal_year"]);
        assert_problem(app.send(Method::POST, "/api/v1/plans/999999/evaluations", Some(&admin), None, Some(&body)).await, 404).await;
        let created = app.send(Method::POST, &path, Some(&admin), None, Some(&body)).await;
        let location = created.headers()["location"].to_str().unwrap().to_string();
        for method in [Method::PATCH, Method::DELETE, Method::PUT] {
            let response = app.send(method.clone(), &location, Some(&admin), Some("*"), Some(&body)).await;
            assert_eq!(response.headers()["allow"], "GET", "{method}");
            assert_problem(response, 405).await;
        }
        assert_problem(app.get(&format!("{path}/999999")).await, 404).await;
        assert_problem(app.get(&format!("{location}?format=xml")).await, 400).await;
    }
}

on_both_backends! {
    /// `as_of` answers from the results as they were recorded then, from the audit history.
    async fn progress_as_of_a_moment_uses_the_results_recorded_by_then(backend) {
        let app = spawn_app_on(&seeded_database(backend)).await;
        let exchanges = kpi_id(&app, "1-1-1-1").await;
        let goal = app.json("/api/v1/goals?code=1").await["items"][0]["id"].as_i64().unwrap();
        record(&app, exchanges, 2022, "26").await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let between = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        record(&app, exchanges, 2022, "30").await;

        let find = |rollup: &Value| {
            rollup["items"].as_array().unwrap().iter().find(|kpi| kpi["id"] == exchanges).unwrap()["progress"].clone()
        };
        let now = app.json(&format!("/api/v1/goals/{goal}/progress")).await;
        assert_eq!(find(&now)["status"], "achieved");
        let then = app.json(&format!("/api/v1/goals/{goal}/progress?as_of={}", between.replace('+', "%2B"))).await;
        assert_eq!((find(&then)["latest_value_text"].clone(), find(&then)["status"].clone()), (json!("26"), json!("on_track")));
        assert_eq!(then["counts"]["on_track"], 1);
        let before_anything = app.json("/api/v1/progress?as_of=2020-01-01").await;
        assert_eq!(before_anything["counts"]["no_data"], 45);

        // A deleted result is gone from then on, and still there before.
        let path = format!("/api/v1/kpis/{exchanges}/results/2022");
        let etag = app.etag(&path).await;
        let deleted = app.send(Method::DELETE, &path, Some(&token(&["kpis:write"], None)), Some(&etag), None).await;
        assert_eq!(deleted.status(), 204);
        assert_eq!(find(&app.json(&format!("/api/v1/goals/{goal}/progress")).await)["status"], "no_data");
        let then = app.json(&format!("/api/v1/goals/{goal}/progress?as_of={}", between.replace('+', "%2B"))).await;
        assert_eq!(find(&then)["latest_value_text"], "26");
        assert_problem(app.get("/api/v1/progress?as_of=yesterday").await, 400).await;
    }
}

on_both_backends! {
    /// The chart is an SVG a browser can show: rendered to pixels it is not blank, and its text
    /// (name, unit, years in both forms) is in the document.
    async fn the_chart_renders_with_its_labels(backend) {
        let app = spawn_app_on(&seeded_database(backend)).await;
        let exchanges = kpi_id(&app, "1-1-1-1").await;
        record(&app, exchanges, 2021, "24").await;
        record(&app, exchanges, 2022, "26").await;
        let response = app.get(&format!("/api/v1/kpis/{exchanges}/chart.svg")).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "image/svg+xml; charset=utf-8");
        let svg = response.text().await.unwrap();
        for text in ["国内友好都市との交流活動件数", "(件)", ">2019<", ">令和元年度<", ">2026<", ">令和8年度<", "実績", "目標 30"] {
            assert!(svg.contains(text), "{text} is in the chart");
        }

        let mut options = resvg::usvg::Options::default();
        options.fontdb_mut().load_system_fonts();
        let tree = resvg::usvg::Tree::from_str(&svg, &options).expect("the chart is valid SVG");
        let size = tree.size().to_int_size();
        assert_eq!((size.width(), size.height()), (600, 300));
        let mut pixmap = resvg::tiny_skia::Pixmap::new(size.width(), size.height()).unwrap();
        resvg::render(&tree, resvg::tiny_skia::Transform::default(), &mut pixmap.as_mut());
        let pixels: Vec<&[u8]> = pixmap.data().chunks(4).collect();
        let inked = pixels.iter().filter(|pixel| pixel[0] < 200 || pixel[1] < 200 || pixel[2] < 200).count();
        assert!(inked > pixels.len() / 100, "only {inked} of {} pixels drawn", pixels.len());
        let blue = pixels.iter().filter(|pixel| pixel[2] > 150 && pixel[0] < 80).count();
        assert!(blue > 100, "the results line is drawn ({blue} blue pixels)");
        let png = pixmap.encode_png().unwrap();
        assert!(png.starts_with(b"\x89PNG") && png.len() > 2000);

        assert_problem(app.get("/api/v1/kpis/999999/chart.svg").await, 404).await;
    }
}
