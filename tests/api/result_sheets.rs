//! Each year's results from a spreadsheet: the template per plan or department, and importing
//! it back as filled in by hand, as CSV or xlsx, all or nothing.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{assert_problem, latest_cursor, refused_fields, seeded_database, spawn_app_on, token, TestApp};

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

async fn plan_id(app: &TestApp) -> i64 {
    app.json("/api/v1/plans?code=atsugi-2").await["items"][0]["id"]
        .as_i64()
        .unwrap()
}

async fn kpi(app: &TestApp, code: &str) -> Value {
    app.json(&format!("/api/v1/kpis?code={code}")).await["items"][0].clone()
}

/// The CSV template as rows of cells (BOM checked and removed), header first.
async fn csv_template(app: &TestApp, query: &str) -> Vec<Vec<String>> {
    let plan = plan_id(app).await;
    let response = app
        .get(&format!("/api/v1/plans/{plan}/results/template.csv{query}"))
        .await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("atsugi-2-results"));
    let bytes = response.bytes().await.unwrap();
    let text = std::str::from_utf8(&bytes).unwrap();
    let text = text.strip_prefix('\u{feff}').expect("a BOM, so that Excel reads UTF-8");
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|record| record.unwrap().iter().map(str::to_string).collect())
        .collect()
}

fn to_csv(rows: &[Vec<String>]) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for row in rows {
        writer.write_record(row).unwrap();
    }
    String::from_utf8(writer.into_inner().unwrap()).unwrap()
}

async fn upload(app: &TestApp, token: &str, content_type: &str, body: Vec<u8>, query: &str) -> reqwest::Response {
    let plan = plan_id(app).await;
    app.client
        .post(app.url(&format!("/api/v1/plans/{plan}/results/import{query}")))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

/// Column index of a header.
fn at(header: &[String], label: &str) -> usize {
    header
        .iter()
        .position(|cell| cell == label)
        .unwrap_or_else(|| panic!("no column {label}: {header:?}"))
}

fn row_of<'a>(rows: &'a mut [Vec<String>], code: &str, year: i32) -> &'a mut Vec<String> {
    rows.iter_mut()
        .find(|row| row[0] == code && row[6] == year.to_string())
        .unwrap_or_else(|| panic!("no row {code} {year}"))
}

on_both_backends! {
    /// The template lists every KPI and year after its baseline, recorded years prefilled with
    /// their version; the department's sheet only its KPIs.
    async fn the_template_lists_each_kpi_and_year_to_fill_in(backend) {
        let app = spawn_app_on(&seeded_database(backend)).await;
        let writer = token(&["kpis:write"], None);
        let first = kpi(&app, "1-1-1-1").await;
        let put = app.send(Method::PUT, &format!("/api/v1/kpis/{}/results/2022", first["id"]), Some(&writer), None, Some(&json!({"value": "26", "analysis": "交流再開"}))).await;
        assert_eq!(put.status(), 201);

        let mut rows = csv_template(&app, "").await;
        let header = rows.remove(0);
        assert_eq!(header, ["KPI番号", "指標名", "単位", "基準値", "目標値", "担当課", "年度（西暦）", "年度", "実績値", "測定状況", "備考", "出典", "要因分析", "今後の方向性", "版"]);
        let kpis = app.all("/api/v1/kpis").await;
        let expected: i64 = kpis.iter().map(|kpi| kpi["target"]["year"].as_i64().unwrap() - kpi["baseline"]["year"].as_i64().unwrap()).sum();
        assert_eq!(rows.len() as i64, expected, "one row per KPI and year after its baseline");
        let years: Vec<&str> = rows.iter().filter(|row| row[0] == "1-1-1-1").map(|row| row[6].as_str()).collect();
        assert_eq!(years, ["2020", "2021", "2022", "2023", "2024", "2025", "2026"]);
        let recorded = row_of(&mut rows, "1-1-1-1", 2022).clone();
        assert_eq!((recorded[7].as_str(), recorded[8].as_str(), recorded[12].as_str(), recorded[14].as_str()), ("令和4(2022)年度", "26", "交流再開", "1"));
        assert_eq!(recorded[3], "22（令和元(2019)年度）");
        assert!(!recorded[5].is_empty(), "the responsible divisions: {recorded:?}");
        assert_eq!(row_of(&mut rows, "1-1-1-1", 2023)[14], "", "a year not recorded has no version");

        let department = app.all("/api/v1/departments").await[3]["id"].as_i64().unwrap();
        let mut own = csv_template(&app, &format!("?department={department}")).await;
        own.remove(0);
        let mut codes: Vec<String> = own.iter().map(|row| row[0].clone()).collect();
        codes.dedup();
        let of_department: Vec<String> = app.all(&format!("/api/v1/kpis?department={department}")).await.iter().map(|kpi| kpi["code"].as_str().unwrap().to_string()).collect();
        let mut sorted = of_department.clone();
        sorted.sort();
        let mut listed = codes.clone();
        listed.sort();
        assert_eq!(listed, sorted, "the department's sheet has its KPIs only");
        assert!(!codes.is_empty() && codes.len() < 45);

        let plan = plan_id(&app).await;
        assert_problem(app.get(&format!("/api/v1/plans/{plan}/results/template.csv?department=999999")).await, 404).await;
        assert_problem(app.get(&format!("/api/v1/plans/{plan}/results/template.csv?department=x")).await, 400).await;
        assert_problem(app.get("/api/v1/plans/999999/results/template.xlsx").await, 404).await;
    }
}

on_both_backends! {
    /// A sheet filled in by hand (full-width digits, separators, ％, the unit, spaces) is read
    /// exactly; the dry run shows each row's diff and records nothing; the import records every
    /// row, audited; a second import of the same sheet changes nothing.
    async fn a_hand_filled_sheet_is_checked_then_recorded(backend) {
        let app = spawn_app_on(&seeded_database(backend)).await;
        let writer = token(&["kpis:write"], None);
        let percent = app.all("/api/v1/kpis?unit=%25").await[0].clone();
        let percent_code = percent["code"].as_str().unwrap().to_string();
        let percent_year = percent["baseline"]["year"].as_i64().unwrap() as i32 + 1;
        let mut rows = csv_template(&app, "").await;
        let header = rows[0].clone();
        let (value, status, note, analysis) = (at(&header, "実績値"), at(&header, "測定状況"), at(&header, "備考"), at(&header, "要因分析"));
        row_of(&mut rows, "1-1-1-1", 2020)[value] = "２４ 件 ".into();
        row_of(&mut rows, "1-1-1-1", 2020)[analysis] = "交流事業を再開した。".into();
        row_of(&mut rows, "1-1-1-1", 2021)[status] = "not_measurable".into();
        row_of(&mut rows, "1-1-1-1", 2021)[note] = "感染症の影響で中止".into();
        row_of(&mut rows, &percent_code, percent_year)[value] = "98.90％".into();
        row_of(&mut rows, "1-1-1-2", 2022)[value] = "1,234".into();
        let sheet = format!("\u{feff}{}", to_csv(&rows)).into_bytes();

        let cursor = latest_cursor(&app).await;
        let checked = upload(&app, &writer, "text/csv", sheet.clone(), "?dry_run=true").await;
        assert_eq!(checked.status(), 200);
        let report: Value = checked.json().await.unwrap();
        assert_eq!(report["dry_run"], true);
        assert_eq!(report["counts"], json!({"created": 4, "changed": 0, "unchanged": 0, "refused": 0}), "{report}");
        assert_eq!(report["rows"][0]["outcome"], "created");
        assert_eq!(latest_cursor(&app).await, cursor, "a dry run records nothing");

        let recorded = upload(&app, &writer, "text/csv; charset=utf-8", sheet.clone(), "").await;
        assert_eq!(recorded.status(), 200);
        let first = kpi(&app, "1-1-1-1").await;
        let results = app.json(&format!("/api/v1/kpis/{}/results", first["id"])).await;
        assert_eq!(results["items"][0]["value_text"], "24");
        assert_eq!(results["items"][0]["analysis"], "交流事業を再開した。");
        assert_eq!((results["items"][1]["status"].as_str(), results["items"][1]["note"].as_str()), (Some("not_measurable"), Some("感染症の影響で中止")));
        let percent_results = app.json(&format!("/api/v1/kpis/{}/results", percent["id"])).await;
        assert_eq!(percent_results["items"][0]["value_text"], "98.90", "the digits as typed");
        let second = kpi(&app, "1-1-1-2").await;
        assert_eq!(app.json(&format!("/api/v1/kpis/{}/results/2022", second["id"])).await["value_text"], "1234");
        let changes = app.json(&format!("/api/v1/changes?since={cursor}")).await;
        let creates: Vec<&Value> = changes["items"].as_array().unwrap().iter().filter(|item| item["resource"] == "kpi_result" && item["operation"] == "create").collect();
        assert_eq!(creates.len(), 4, "each result is audited like a PUT");

        // The same sheet again: its versions are now stale.
        let stale = upload(&app, &writer, "text/csv", sheet, "").await;
        let problem = assert_problem(stale, 409).await;
        assert_eq!(problem["errors"].as_array().unwrap().len(), 4, "{problem}");
        assert!(problem["errors"][0]["field"].as_str().unwrap().ends_with("版 (version)"), "{problem}");

        // A fresh sheet with one figure corrected: one change, from → to; the rest unchanged.
        let mut rows = csv_template(&app, "").await;
        row_of(&mut rows, "1-1-1-1", 2020)[value] = "25".into();
        let report: Value = upload(&app, &writer, "text/csv", to_csv(&rows).into_bytes(), "?dry_run=true").await.json().await.unwrap();
        assert_eq!(report["counts"], json!({"created": 0, "changed": 1, "unchanged": 3, "refused": 0}), "{report}");
        let changed = report["rows"].as_array().unwrap().iter().find(|row| row["outcome"] == "changed").unwrap().clone();
        assert_eq!(changed["changes"], json!([{"field": "value", "from": "24", "to": "25"}]));
    }
}

on_both_backends! {
    /// Nothing is recorded while any row is refused: each refusal names its row and column.
    async fn a_sheet_with_a_bad_row_records_nothing(backend) {
        let app = spawn_app_on(&seeded_database(backend)).await;
        let writer = token(&["kpis:write"], None);
        let mut rows = csv_template(&app, "").await;
        let header = rows[0].clone();
        let (value, status) = (at(&header, "実績値"), at(&header, "測定状況"));
        row_of(&mut rows, "1-1-1-1", 2020)[value] = "24".into();
        row_of(&mut rows, "1-1-1-1", 2021)[value] = "1,5".into();
        row_of(&mut rows, "1-1-1-1", 2022)[value] = "50%".into();
        row_of(&mut rows, "1-1-1-1", 2023)[status] = "done".into();
        row_of(&mut rows, "1-1-1-1", 2024)[status] = "not_measurable".into();
        rows.push({
            let mut unknown = rows[1].clone();
            unknown[0] = "9-9-9-9".into();
            unknown
        });
        let number = |year: i32| rows.iter().position(|row| row[0] == "1-1-1-1" && row[6] == year.to_string()).unwrap() + 1;
        let expected = [
            format!("row {}, 実績値 (value)", number(2021)),
            format!("row {}, 実績値 (value)", number(2022)),
            format!("row {}, 測定状況 (status)", number(2023)),
            format!("row {}, 備考 (note)", number(2024)),
            format!("row {}, KPI番号 (kpi_code)", rows.len()),
        ];
        let cursor = latest_cursor(&app).await;
        let response = upload(&app, &writer, "text/csv", to_csv(&rows).into_bytes(), "").await;
        let problem = assert_problem(response, 422).await;
        let fields: Vec<&str> = problem["errors"].as_array().unwrap().iter().map(|error| error["field"].as_str().unwrap()).collect();
        assert_eq!(fields, expected, "{problem}");
        assert_eq!(latest_cursor(&app).await, cursor, "all or nothing");

        // The dry run shows the same, row by row.
        let report: Value = upload(&app, &writer, "text/csv", to_csv(&rows).into_bytes(), "?dry_run=true").await.json().await.unwrap();
        assert_eq!(report["counts"]["refused"], 5);
        assert_eq!(report["counts"]["created"], 1);

        // Not a sheet at all.
        // The document describes a sheet only as a file: what is wrong inside it is a 422.
        let headless = upload(&app, &writer, "text/csv", b"a,b\r\n1,2\r\n".to_vec(), "").await;
        assert_eq!(refused_fields(headless).await, ["row 1, KPI番号 (kpi_code)", "row 1, 実績値 (value)", "row 1, 年度（西暦） (year)"]);
        assert_problem(upload(&app, &writer, "text/csv", vec![0x82, 0xa0, b','], "").await, 422).await;
        assert_problem(upload(&app, &writer, XLSX, b"PK not really".to_vec(), "").await, 422).await;
        // A few bytes with a cell at the sheet's far corner are read cell by cell, never as a grid:
        // far to the right it is ignored, far down it is refused.
        for (row, column, expected) in [
            (1_048_575, 16_383, vec!["row 1, 実績値 (value)", "row 1, 年度（西暦） (year)"]),
            (1_048_575, 0, vec!["body"]),
        ] {
            let mut far = rust_xlsxwriter::Workbook::new();
            let sheet = far.add_worksheet();
            sheet.write_string(0, 0, "KPI番号").unwrap();
            sheet.write_string(row, column, "x").unwrap();
            let far = upload(&app, &writer, XLSX, far.save_to_buffer().unwrap(), "").await;
            assert_eq!(refused_fields(far).await, expected);
        }
        assert_problem(upload(&app, &writer, "application/json", b"{}".to_vec(), "").await, 415).await;
        assert_problem(upload(&app, &token(&["projects:write"], None), "text/csv", to_csv(&rows).into_bytes(), "").await, 403).await;
    }
}

on_both_backends! {
    /// A department's token records its own KPIs' results from its sheet, and no one else's, nor
    /// one at a time.
    async fn a_department_records_only_its_own_kpis(backend) {
        let app = spawn_app_on(&seeded_database(backend)).await;
        let department = app.all("/api/v1/departments").await[3]["id"].as_i64().unwrap();
        let staff = token(&["kpis:write"], Some(department));
        let mut own = csv_template(&app, &format!("?department={department}")).await;
        let value = at(&own[0], "実績値");
        own[1][value] = "10".into();
        let recorded = upload(&app, &staff, "text/csv", to_csv(&own).into_bytes(), "").await;
        assert_eq!(recorded.status(), 200);

        let mut all = csv_template(&app, "").await;
        let foreign = all.iter().position(|row| row[0] != "KPI番号" && !own.iter().any(|mine| mine[0] == row[0])).unwrap();
        all[foreign][value] = "10".into();
        let refused = upload(&app, &staff, "text/csv", to_csv(&all).into_bytes(), "").await;
        let problem = assert_problem(refused, 403).await;
        assert_eq!(problem["errors"][0]["field"], format!("row {}, KPI番号 (kpi_code)", foreign + 1));

        // The same reach one record at a time: results, target revisions, the KPI itself.
        let mine = kpi(&app, &own[1][0]).await;
        let theirs = kpi(&app, &all[foreign][0]).await;
        let year = |kpi: &Value| kpi["target"]["year"].as_i64().unwrap();
        let put = |kpi: &Value| format!("/api/v1/kpis/{}/results/{}", kpi["id"], year(kpi));
        assert_eq!(app.send(Method::PUT, &put(&mine), Some(&staff), None, Some(&json!({"value": 1}))).await.status(), 201);
        assert_problem(app.send(Method::PUT, &put(&theirs), Some(&staff), None, Some(&json!({"value": 1}))).await, 403).await;
        let path = format!("/api/v1/kpis/{}", theirs["id"]);
        let etag = app.etag(&path).await;
        let revision = json!({"value": 1, "year": year(&theirs), "reason": "見直し"});
        assert_problem(app.send(Method::POST, &format!("{path}/target-revisions"), Some(&staff), Some(&etag), Some(&revision)).await, 403).await;
        assert_problem(app.send(Method::PATCH, &path, Some(&staff), Some(&etag), Some(&json!({"source": "x"}))).await, 403).await;
        // An admin's token reaches everything, whatever its department.
        let admin = token(&["admin"], Some(department));
        assert_eq!(app.send(Method::PUT, &put(&theirs), Some(&admin), None, Some(&json!({"value": 1}))).await.status(), 201);
    }
}

on_both_backends! {
    /// The xlsx template opens in a spreadsheet reader with its header, frozen and filtered;
    /// filled in with a spreadsheet writer (numbers as numbers), it is read back exactly.
    async fn the_xlsx_sheet_round_trips_through_a_spreadsheet(backend) {
        use calamine::{Data, Reader, Xlsx};
        let app = spawn_app_on(&seeded_database(backend)).await;
        let plan = plan_id(&app).await;
        let response = app.get(&format!("/api/v1/plans/{plan}/results/template.xlsx")).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], XLSX);
        let bytes = response.bytes().await.unwrap().to_vec();
        let mut workbook = Xlsx::new(std::io::Cursor::new(bytes)).expect("an xlsx workbook");
        assert_eq!(workbook.sheet_names(), ["実績値入力", "記入方法"]);
        let range = workbook.worksheet_range("実績値入力").unwrap();
        let rows: Vec<Vec<String>> = range.rows().map(|row| row.iter().map(|cell| match cell {
            Data::Float(number) => number.to_string(),
            other => other.to_string(),
        }).collect()).collect();
        assert_eq!(rows[0][0], "KPI番号");
        assert_eq!(rows.len(), csv_template(&app, "").await.len());

        let mut filled = rust_xlsxwriter::Workbook::new();
        let sheet = filled.add_worksheet();
        for (r, row) in rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                sheet.write_string(r as u32, c as u16, cell).unwrap();
            }
        }
        let line = rows.iter().position(|row| row[0] == "1-1-1-1" && row[6] == "2020").unwrap() as u32;
        sheet.write_number(line, 8, 24.5).unwrap();
        sheet.write_number(line, 6, 2020.0).unwrap();
        let body = filled.save_to_buffer().unwrap();
        let response = upload(&app, &token(&["kpis:write"], None), XLSX, body, "").await;
        let report: Value = response.json().await.unwrap();
        assert_eq!(report["counts"]["created"], 1, "{report}");
        let first = kpi(&app, "1-1-1-1").await;
        assert_eq!(app.json(&format!("/api/v1/kpis/{}/results/2020", first["id"])).await["value_text"], "24.5");
    }
}
