//! The evaluation report people read: the pages (`/`, `/plans/{id}`, `/plans/{id}/kpis/{kpi}`)
//! and the workbook (`/api/v1/plans/{id}/report.xlsx`) show every KPI with the same figures as
//! the JSON, now, as of a moment and as a frozen evaluation judged them.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{seeded_database, spawn_app_on, token, TestApp};

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

async fn page(app: &TestApp, path: &str) -> String {
    let response = app.get(path).await;
    assert_eq!(response.status(), 200, "GET {path}");
    assert_eq!(
        response.headers()["content-type"],
        "text/html; charset=utf-8",
        "GET {path}"
    );
    response.text().await.unwrap()
}

async fn kpi_of(app: &TestApp, code: &str) -> Value {
    app.json(&format!("/api/v1/kpis?code={code}")).await["items"][0].clone()
}

async fn record(app: &TestApp, kpi: i64, year: i32, body: Value) {
    let writer = token(&["kpis:write"], None);
    let path = format!("/api/v1/kpis/{kpi}/results/{year}");
    let response = app.send(Method::PUT, &path, Some(&writer), None, Some(&body)).await;
    assert!(response.status().is_success(), "PUT {path}: {}", response.status());
}

/// The `<tr>` of a KPI's row in the report (from its link to the end of the row).
fn row_of(html: &str, plan: i64, kpi: i64) -> &str {
    let link = format!("href=\"/plans/{plan}/kpis/{kpi}\"");
    let start = html.find(&link).unwrap_or_else(|| panic!("KPI {kpi} is in the report"));
    let end = html[start..].find("</tr>").unwrap();
    &html[start..start + end]
}

/// The schema.org JSON-LD of a page.
fn json_ld_of(html: &str) -> Value {
    let start = html
        .find("<script type=\"application/ld+json\">")
        .expect("the page carries JSON-LD");
    let text = html[start..]
        .split_once('>')
        .unwrap()
        .1
        .split("</script>")
        .next()
        .unwrap();
    serde_json::from_str(text).expect("the JSON-LD is JSON")
}

fn percent(rate: &Value) -> String {
    match rate.as_f64() {
        Some(rate) => format!("{:.1}%", rate * 100.0),
        None => "―".into(),
    }
}

fn status_label(status: &str) -> &'static str {
    match status {
        "achieved" => "◎ 達成",
        "on_track" => "○ 順調",
        "behind" => "△ 遅れ",
        "no_data" => "－ 未把握",
        _ => "× 測定不能",
    }
}

on_both_backends! {
    /// The report lists every KPI of the plan with its baseline, target, results, achievement
    /// and status as the JSON gives them; a revised target shows the original beside it; the
    /// summary counts agree with the roll-up; the KPI page shows the commentary and revisions.
    async fn the_report_shows_every_kpi_with_the_figures_of_the_json(backend) {
        let app = spawn_app_on(&seeded_database(backend)).await;
        let exchanges = kpi_of(&app, "1-1-1-1").await;
        let id = exchanges["id"].as_i64().unwrap();
        let plan = exchanges["plan_id"].as_i64().unwrap();
        record(&app, id, 2022, json!({"value": 26, "analysis": "オンライン交流が定着した。", "next_steps": "対面交流を再開する。"})).await;
        let population = kpi_of(&app, "1-2-1-1").await["id"].as_i64().unwrap();
        record(&app, population, 2023, json!({"value": "3500000"})).await;
        let writer = token(&["kpis:write"], None);
        app.revise_target(&format!("/api/v1/kpis/{id}"), &writer, json!({"value": 40, "year": 2026, "reason": "上方修正"})).await;

        let index = page(&app, "/").await;
        let progress = app.json(&format!("/api/v1/progress?plan={plan}")).await;
        let counts = &progress["counts"];
        let line = format!(
            "{}指標のうち達成 {}・順調 {}・遅れ {}・未把握 {}",
            progress["kpis"], counts["achieved"], counts["on_track"], counts["behind"], counts["no_data"]
        );
        assert!(index.contains(&line), "the index says {line}");
        assert!(index.contains(&format!("href=\"/plans/{plan}\"")));
        assert!(index.contains("令和3(2021)年度～令和8(2026)年度"));
        // Each plan links its machine-readable forms, the export among them; so does a KPI page.
        let whole_plan = [
            (format!("/api/v1/plans/{plan}/export"), "application/json"),
            (format!("/api/v1/plans/{plan}/export.zip"), "application/zip"),
            (format!("/api/v1/kpis?plan={plan}&#38;limit=all&#38;format=csv"), "text/csv; charset=utf-8"),
        ];
        for (link, content_type) in [(format!("/api/v1/plans/{plan}"), "application/json")].iter().chain(&whole_plan) {
            assert!(index.contains(&format!("href=\"{link}\"")), "the index links {link}");
            let response = app.get(&link.replace("&#38;", "&")).await;
            assert_eq!(response.status(), 200, "{link}");
            assert_eq!(response.headers()["content-type"], *content_type, "{link}");
        }

        let html = page(&app, &format!("/plans/{plan}")).await;
        assert!(html.starts_with("<!DOCTYPE html>\n<html lang=\"ja\">"));
        assert!(html.contains(&line), "the report's summary says {line}");
        let kpis = app.all(&format!("/api/v1/kpis?plan={plan}")).await;
        assert_eq!(kpis.len(), 45);
        for kpi in &kpis {
            let row = row_of(&html, plan, kpi["id"].as_i64().unwrap());
            assert!(row.contains(kpi["name"].as_str().unwrap()), "{row}");
            assert!(row.contains(&format!(">{}<", percent(&kpi["progress"]["achievement"]))), "{row}");
            assert!(row.contains(status_label(kpi["progress"]["status"].as_str().unwrap())), "{row}");
            let baseline = kpi["baseline"]["label"].as_str().unwrap();
            assert!(row.contains(&format!("（{baseline}）")), "{row}");
        }
        // 22 → 40: (26 − 22) / 18; against the original 30: half way.
        let row = row_of(&html, plan, id);
        assert!(row.contains(">26<") && row.contains(">22.2%<"), "{row}");
        assert!(row.contains("当初目標値 30（令和8(2026)年度）<br>当初目標に対する達成率 50.0%"), "{row}");
        assert!(row_of(&html, plan, population).contains(">3,500,000<"), "figures are grouped by thousands");
        // The projects of each initiative, with their divisions.
        let projects = app.all(&format!("/api/v1/projects?plan={plan}")).await;
        for project in projects.iter().take(20) {
            assert!(html.contains(project["name"].as_str().unwrap()), "{}", project["name"]);
        }
        // schema.org Dataset for dataset search engines, with absolute distribution addresses.
        let json_ld = json_ld_of(&html);
        assert_eq!(json_ld["@type"], "Dataset");
        assert_eq!(json_ld["name"], "第2期厚木市まち・ひと・しごと創生総合戦略");
        assert_eq!(json_ld["temporalCoverage"], "2021-04-01/2027-03-31");
        assert_eq!(json_ld["spatialCoverage"]["address"]["addressLocality"], "厚木市");
        assert!(json_ld.get("license").is_none(), "no licence is invented while the city states none");
        let moment = |value: &Value| chrono::DateTime::parse_from_rfc3339(value.as_str().unwrap()).unwrap();
        let revised_at = app.json(&format!("/api/v1/kpis/{id}")).await["updated_at"].clone();
        assert_eq!(moment(&json_ld["dateModified"]), moment(&revised_at), "modified with the newest change it shows");
        for distribution in json_ld["distribution"].as_array().unwrap() {
            let url = distribution["contentUrl"].as_str().unwrap();
            assert!(url.starts_with(&app.address), "{url}");
            let response = app.client.get(url).send().await.unwrap();
            assert_eq!(response.status(), 200, "{url}");
        }

        let kpi_page = page(&app, &format!("/plans/{plan}/kpis/{id}")).await;
        for text in ["国内友好都市との交流活動件数", "オンライン交流が定着した。", "対面交流を再開する。", "上方修正",
                     "<svg", "<figcaption>", "26 件", "当初目標値", "30 件（令和8(2026)年度）", "40 件（令和8(2026)年度）"] {
            assert!(kpi_page.contains(text), "the KPI page shows {text}");
        }
        for link in [format!("/api/v1/kpis/{id}"), format!("/api/v1/kpis/{id}/results"), format!("/api/v1/kpis/{id}/chart.svg")] {
            assert!(kpi_page.contains(&format!("href=\"{link}\"")), "{link}");
            assert_eq!(app.get(&link).await.status(), 200, "{link}");
        }
        assert!(kpi_page.contains(&format!("href=\"/api/v1/kpis?plan={plan}&#38;code=1-1-1-1&#38;format=csv\"")));
        for (link, _) in &whole_plan {
            assert!(kpi_page.contains(&format!("href=\"{link}\"")), "the KPI page links {link}");
        }
        let csv = app.get(&format!("/api/v1/kpis?plan={plan}&code=1-1-1-1&format=csv")).await.text().await.unwrap();
        assert_eq!(csv.lines().count(), 2, "the KPI's CSV is its one row");
        assert_eq!(app.get("/assets/report.css").await.headers()["content-type"], "text/css; charset=utf-8");
    }
}

on_both_backends! {
    /// A report as it stood at a moment shows the results and the targets of then; a report of a
    /// frozen evaluation shows the figures it froze, not what was recorded or revised later.
    async fn the_report_looks_back_to_a_moment_and_to_an_evaluation(backend) {
        let app = spawn_app_on(&seeded_database(backend)).await;
        let kpi = kpi_of(&app, "1-1-1-1").await;
        let (id, plan) = (kpi["id"].as_i64().unwrap(), kpi["plan_id"].as_i64().unwrap());
        record(&app, id, 2022, json!({"value": 26})).await;
        let admin = token(&["admin"], None);
        let body = json!({"fiscal_year": 2022, "title": "令和4年度 総合戦略評価"});
        let response = app.send(Method::POST, &format!("/api/v1/plans/{plan}/evaluations"), Some(&admin), None, Some(&body)).await;
        assert_eq!(response.status(), 201);
        let evaluation = response.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
        // Strictly after the evaluation, on a clock of microseconds.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let between = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        record(&app, id, 2023, json!({"value": 29})).await;
        let writer = token(&["kpis:write"], None);
        app.revise_target(&format!("/api/v1/kpis/{id}"), &writer, json!({"value": 40, "year": 2026, "reason": "上方修正"})).await;
        let kpi_path = format!("/api/v1/kpis/{id}");
        let etag = app.etag(&kpi_path).await;
        let renamed = app.send(Method::PATCH, &kpi_path, Some(&writer), Some(&etag), Some(&json!({"name": "改称した指標"}))).await;
        assert_eq!(renamed.status(), 200);
        let removed = kpi_of(&app, "4-3-1-1").await;
        let removed_code = removed["code"].as_str().unwrap().to_string();
        let deleted = app.send(Method::DELETE, &format!("/api/v1/kpis/{}", removed["id"]), Some(&writer), Some(&app.etag(&format!("/api/v1/kpis/{}", removed["id"])).await), None).await;
        assert_eq!(deleted.status(), 204);

        let now = page(&app, &format!("/plans/{plan}")).await;
        let row = row_of(&now, plan, id);
        assert!(row.contains(">29<") && row.contains(">38.9%<"), "(29 − 22) / 18: {row}");

        let frozen = page(&app, &format!("/plans/{plan}?evaluation={evaluation}")).await;
        assert!(frozen.contains("令和4年度 総合戦略評価（令和4(2022)年度の評価、"), "the standing is named");
        let row = row_of(&frozen, plan, id);
        assert!(row.contains(">26<") && !row.contains(">29<"), "only what the evaluation saw: {row}");
        assert!(row.contains(">50.0%<") && row.contains("○ 順調") && !row.contains("当初目標値"), "{row}");
        // A correction, a new name and a deleted KPI after the evaluation do not change it.
        assert!(row.contains("国内友好都市との交流活動件数") && !row.contains("改称"), "{row}");
        assert!(frozen.contains("45指標のうち"), "the evaluation's own count");
        assert!(frozen.contains("その後削除された指標") && frozen.contains(&format!("{removed_code}　")), "the deleted KPI is named");

        // As of a moment between: the 2022 result and the target of then (30), JSON and page alike.
        let encoded = between.replace('+', "%2B").replace(':', "%3A");
        let standing = page(&app, &format!("/plans/{plan}?as_of={encoded}")).await;
        let row = row_of(&standing, plan, id);
        assert!(row.contains(">26<") && !row.contains(">29<") && row.contains(">50.0%<"), "{row}");
        assert!(row.contains(">30<") && !row.contains(">40<"), "the target of then: {row}");
        let rollup = app.json(&format!("/api/v1/progress?plan={plan}&as_of={encoded}")).await;
        let item = rollup["items"].as_array().unwrap().iter().find(|item| item["id"] == id).unwrap().clone();
        assert_eq!(item["target"]["value_text"], "30");
        assert_eq!(item["target_revisions"], json!([]));
        assert_eq!(item["progress"]["achievement"], 0.5);
        // Before anything was recorded, nothing is known.
        let before = page(&app, &format!("/plans/{plan}?as_of=2020-01-01")).await;
        assert!(before.contains("44指標のうち達成 0・順調 0・遅れ 0・未把握 44"), "the 44 KPIs there are now");
        // The blank fields of the page's own form are left out, not refused.
        page(&app, &format!("/plans/{plan}?as_of=&evaluation=")).await;

        // The workbook shows the same moments.
        let response = app.get(&format!("/api/v1/plans/{plan}/evaluations/{evaluation}/report.xlsx")).await;
        assert_eq!(response.headers()["content-disposition"], format!("attachment; filename=\"atsugi-2-report-evaluation-{evaluation}.xlsx\""));
        assert_eq!(response.status(), 200);
        let rows = workbook_rows(response.bytes().await.unwrap().to_vec());
        let line = rows.iter().find(|row| row[3] == "1-1-1-1").unwrap();
        let header = &rows[0];
        let at = |label: &str| header.iter().position(|cell| cell == label).unwrap_or_else(|| panic!("{label}"));
        assert_eq!(line[at("令和4(2022)年度実績")], "26");
        assert_eq!(line[at("令和5(2023)年度実績")], "");
        assert_eq!(line[at("目標値")], "30");
        assert_eq!(line[at("達成率")], "0.5");
    }
}

on_both_backends! {
    /// Bad addresses and queries get a page that says what is wrong, with the API's status.
    async fn bad_report_requests_get_a_page_that_names_the_problem(backend) {
        let app = spawn_app_on(&seeded_database(backend)).await;
        let plan = kpi_of(&app, "1-1-1-1").await["plan_id"].as_i64().unwrap();
        for (path, status, named) in [
            (format!("/plans/{plan}?as_of=yesterday"), 400, "<code lang=\"en\">as_of</code>"),
            (format!("/plans/{plan}?as_of=2024-01-01&evaluation=1"), 400, "<code lang=\"en\">evaluation</code>"),
            (format!("/plans/{plan}?evaluation=999"), 404, "evaluation 999"),
            ("/plans/999".to_string(), 404, "plan 999"),
            ("/plans/abc".to_string(), 400, "`id` must be"),
            (format!("/plans/{plan}/kpis/0"), 400, "`kpi` must be"),
            (format!("/plans/{plan}/kpis/99999"), 404, "kpi 99999"),
            ("/?page=0".to_string(), 400, "<code lang=\"en\">page</code>"),
            ("/?page=9".to_string(), 404, "page 9"),
        ] {
            let response = app.get(&path).await;
            assert_eq!(response.status(), status, "GET {path}");
            assert_eq!(response.headers()["content-type"], "text/html; charset=utf-8", "GET {path}");
            assert_eq!(response.headers()["cache-control"], "no-store", "GET {path}");
            let body = response.text().await.unwrap();
            assert!(body.contains("<html lang=\"ja\">") && body.contains(named), "GET {path}: {body}");
            assert!(body.contains("<span lang=\"en\">"), "the API's English detail is marked as English");
        }
        // Shared links carry parameters of their own: a page still answers.
        for path in ["/?utm_source=line".to_string(), format!("/plans/{plan}?fbclid=abc"), format!("/plans/{plan}/kpis/1?utm_medium=x")] {
            assert_eq!(app.get(&path).await.status(), 200, "GET {path}");
        }
        // A KPI of another plan is not this plan's page.
        let other = app.send(Method::POST, "/api/v1/plans", Some(&token(&["admin"], None)), None, Some(&json!({
            "code": "other", "name": "別の計画", "document_title": "別の計画", "municipality_code": "142123",
            "municipality_name": "厚木市", "prefecture": "神奈川県", "period_start_year": 2025, "period_end_year": 2029
        }))).await;
        assert_eq!(other.status(), 201);
        let other = other.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
        assert_eq!(app.get(&format!("/plans/{other}/kpis/1")).await.status(), 404);
        // The API is strict: the xlsx refuses what it does not know, as a problem document.
        let response = app.get(&format!("/api/v1/plans/{plan}/report.xlsx?as_of=2024-01-01&evaluation=1")).await;
        assert_eq!(crate::helpers::failing_fields(response).await, ["evaluation"]);
        let response = app.get(&format!("/api/v1/plans/{plan}/evaluations/999/report.xlsx")).await;
        crate::helpers::assert_problem(response, 404).await;
    }
}

on_both_backends! {
    /// Pages are read like the API: an ETag and a 304, compression, and the response cache,
    /// which never serves a page from before a write.
    async fn pages_are_cached_validated_and_compressed_like_every_read(backend) {
        let app = spawn_app_on(&seeded_database(backend)).await;
        let kpi = kpi_of(&app, "1-1-1-1").await;
        let (id, plan) = (kpi["id"].as_i64().unwrap(), kpi["plan_id"].as_i64().unwrap());
        let path = format!("/plans/{plan}");
        let first = app.get(&path).await;
        let etag = first.headers()["etag"].to_str().unwrap().to_string();
        assert!(first.headers().contains_key("last-modified"));
        let revalidated = app.client.get(app.url(&path)).header("If-None-Match", &etag).send().await.unwrap();
        assert_eq!(revalidated.status(), 304);
        assert_eq!(first.headers()["cache-control"], "public, no-cache", "a page revalidates");
        let compressed = app.client.get(app.url(&path)).header("Accept-Encoding", "gzip").send().await.unwrap();
        assert_eq!(compressed.headers()["content-encoding"], "gzip");
        record(&app, id, 2022, json!({"value": 26})).await;
        let after = app.client.get(app.url(&path)).header("If-None-Match", &etag).send().await.unwrap();
        assert_eq!(after.status(), 200, "a write changes the page");
        assert!(row_of(&after.text().await.unwrap(), plan, id).contains(">26<"));
        // The structured data's addresses follow the Host asked, and the cache keeps hosts apart.
        for host in ["city.example", "mirror.example:8443"] {
            let page = app.client.get(app.url(&path)).header("Host", host).send().await.unwrap().text().await.unwrap();
            assert!(page.contains(&format!("\"url\": \"http://{host}/plans/{plan}\"")), "{host}");
        }
        let hostile = app.client.get(app.url(&path)).header("Host", "evil.example?x=").send().await.unwrap().text().await.unwrap();
        assert!(!hostile.contains("evil.example"), "a Host that is not a host name is not echoed");
        // The workbook is dated by its data: the same data, the same bytes and ETag.
        let workbook = format!("/api/v1/plans/{plan}/report.xlsx");
        let first = app.get(&workbook).await.headers()["etag"].clone();
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let uncached = app.client.get(app.url(&workbook)).bearer_auth(token(&["kpis:write"], None)).send().await.unwrap();
        assert_eq!(uncached.headers()["etag"], first, "built again a second later, the workbook is the same");
    }
}

on_both_backends! {
    /// The plan page's schema.org `Dataset` describes the plan as the JSON API does: its
    /// description and publisher, and the licence once an admin sets it (none before).
    async fn the_plan_pages_dataset_carries_the_licence_description_and_publisher_of_the_plan(backend) {
        let app = spawn_app_on(&seeded_database(backend)).await;
        let plan = kpi_of(&app, "1-1-1-1").await["plan_id"].as_i64().unwrap();
        let plan_path = format!("/api/v1/plans/{plan}");
        let page_path = format!("/plans/{plan}");
        let before = json_ld_of(&page(&app, &page_path).await);
        assert!(before.get("license").is_none(), "no licence while the city states none: {before}");

        let licence = "https://creativecommons.org/licenses/by/4.0/deed.ja";
        let etag = app.etag(&plan_path).await;
        let response = app
            .client
            .patch(app.url(&plan_path))
            .bearer_auth(token(&["admin"], None))
            .header("If-Match", etag)
            .header("Content-Type", "application/merge-patch+json")
            .body(json!({"licence_url": licence}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "PATCH {plan_path}");
        let stated = app.json(&plan_path).await;
        assert_eq!(stated["licence_url"], licence);

        let json_ld = json_ld_of(&page(&app, &page_path).await);
        assert_eq!(json_ld["@type"], "Dataset");
        assert_eq!(json_ld["license"], licence, "the licence the admin set, at once (the cached page is not served)");
        let description = stated["description"].as_str().expect("the bundled plan states a description");
        assert_eq!(json_ld["description"], description);
        let publisher = stated["publisher"].as_str().expect("the bundled plan states a publisher");
        assert_eq!(json_ld["publisher"]["@type"], "GovernmentOrganization");
        assert_eq!(json_ld["publisher"]["name"], publisher);
    }
}

on_both_backends! {
    /// A configured public address is what the structured data links, whatever the Host.
    async fn the_public_base_url_is_what_the_structured_data_links(backend) {
        let app = crate::helpers::spawn_tuned_app_on(&seeded_database(backend), |config| {
            config.public_base_url = Some("https://strategy.example.jp".into());
        })
        .await;
        let plan = kpi_of(&app, "1-1-1-1").await["plan_id"].as_i64().unwrap();
        let page = page(&app, &format!("/plans/{plan}")).await;
        assert!(page.contains(&format!("\"url\": \"https://strategy.example.jp/plans/{plan}\"")));
        assert!(page.contains(&format!("\"contentUrl\": \"https://strategy.example.jp/api/v1/plans/{plan}/export\"")));
        assert!(!page.contains("127.0.0.1"), "no address of the request leaks into it");
    }
}

/// The first sheet of a workbook as text (numbers in Rust's shortest form), row by row.
fn workbook_rows(bytes: Vec<u8>) -> Vec<Vec<String>> {
    use calamine::{Data, Reader, Xlsx};
    let mut workbook = Xlsx::new(std::io::Cursor::new(bytes)).expect("an xlsx workbook");
    assert_eq!(workbook.sheet_names(), ["KPI一覧", "説明"]);
    let range = workbook.worksheet_range("KPI一覧").unwrap();
    range
        .rows()
        .map(|row| {
            row.iter()
                .map(|cell| match cell {
                    Data::Float(number) => number.to_string(),
                    Data::Empty => String::new(),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect()
}

on_both_backends! {
    /// The workbook has one row per KPI in the plan's order with the figures of the JSON:
    /// numbers as numbers, the original and the current target, a column per fiscal year.
    async fn the_report_workbook_has_a_row_per_kpi_with_the_figures_of_the_json(backend) {
        let app = spawn_app_on(&seeded_database(backend)).await;
        let kpi = kpi_of(&app, "1-1-1-1").await;
        let (id, plan) = (kpi["id"].as_i64().unwrap(), kpi["plan_id"].as_i64().unwrap());
        record(&app, id, 2022, json!({"value": 26})).await;
        app.revise_target(&format!("/api/v1/kpis/{id}"), &token(&["kpis:write"], None), json!({"value": 40, "year": 2026, "reason": "上方修正"})).await;
        let response = app.get(&format!("/api/v1/plans/{plan}/report.xlsx")).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], XLSX);
        assert_eq!(response.headers()["content-disposition"], "attachment; filename=\"atsugi-2-report.xlsx\"");
        let rows = workbook_rows(response.bytes().await.unwrap().to_vec());
        let header = &rows[0];
        assert_eq!(&header[..6], ["基本目標", "具体的な施策", "主な取組", "番号", "指標名", "単位"]);
        let years: Vec<&String> = header.iter().filter(|label| label.ends_with("年度実績")).collect();
        assert_eq!(years.first().map(|label| label.as_str()), Some("令和3(2021)年度実績"));
        assert_eq!(years.last().map(|label| label.as_str()), Some("令和8(2026)年度実績"));
        let kpis = app.all(&format!("/api/v1/kpis?plan={plan}")).await;
        assert_eq!(rows.len(), kpis.len() + 1);
        let at = |label: &str| header.iter().position(|cell| cell == label).unwrap_or_else(|| panic!("{label}"));
        for kpi in &kpis {
            let row = rows.iter().find(|row| row[3] == kpi["code"].as_str().unwrap()).unwrap();
            assert_eq!(row[at("指標名")], kpi["name"].as_str().unwrap());
            let number = |value: &Value| value.as_str().and_then(|text| text.parse::<f64>().ok()).map_or("―".to_string(), |n| n.to_string());
            assert_eq!(row[at("基準値")], number(&kpi["baseline"]["value_text"]), "{}", kpi["code"]);
            assert_eq!(row[at("目標値")], number(&kpi["target"]["value_text"]), "{}", kpi["code"]);
            let achievement = kpi["progress"]["achievement"].as_f64().map_or("―".to_string(), |rate| rate.to_string());
            assert_eq!(row[at("達成率")], achievement, "{}", kpi["code"]);
            assert_eq!(row[at("進捗状況")], status_label(kpi["progress"]["status"].as_str().unwrap()));
        }
        let row = rows.iter().find(|row| row[3] == "1-1-1-1").unwrap();
        assert_eq!((row[at("当初目標値")].as_str(), row[at("目標値")].as_str()), ("30", "40"));
        assert_eq!(row[at("令和4(2022)年度実績")], "26");
        assert_eq!(row[at("当初目標に対する達成率")], "0.5");
        assert!(row[at("担当課")].contains('課'), "{}", row[at("担当課")]);
    }
}
