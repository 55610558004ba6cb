//! Revising a KPI's target keeps the original on record: progress is read against both, and an
//! evaluation keeps which target it judged by.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{
    assert_problem, failing_fields, latest_cursor, refused_fields, seeded_database, spawn_app_on, token,
};

async fn kpi_path(app: &crate::helpers::TestApp, code: &str) -> String {
    let kpi = &app.json(&format!("/api/v1/kpis?code={code}")).await["items"][0];
    format!("/api/v1/kpis/{}", kpi["id"])
}

on_both_backends! {
    /// A target is revised only with a reason, under the KPI's ETag; the KPI shows the current
    /// target, every revision and its progress against the original target too.
    async fn a_revised_target_keeps_the_original_and_the_reason(backend) {
        let app = spawn_app_on(&seeded_database(backend)).await;
        let writer = token(&["kpis:write"], None);
        // 1-1-1-1: 22 → 30 件 (2019 → 2026); 26 in 2022 is half way.
        let kpi = kpi_path(&app, "1-1-1-1").await;
        let created = app.send(Method::PUT, &format!("{kpi}/results/2022"), Some(&writer), None, Some(&json!({"value": 26}))).await;
        assert_eq!(created.status(), 201);
        let before = app.json(&kpi).await;
        assert_eq!(before["target_revisions"], json!([]));
        assert_eq!(before["original_target_progress"], Value::Null);
        assert_eq!(before["progress"]["achievement"], 0.5);

        // A patch cannot move the target: that would silently change every achievement.
        let etag = app.etag(&kpi).await;
        let patched = app.send(Method::PATCH, &kpi, Some(&writer), Some(&etag), Some(&json!({"target": {"value": "40"}}))).await;
        assert_eq!(refused_fields(patched).await, ["target.value"]);

        let revisions = format!("{kpi}/target-revisions");
        let revision = json!({"value": "40", "year": 2026, "reason": "国の目標見直しに合わせて上方修正"});
        let unconditional = app.send(Method::POST, &revisions, Some(&writer), None, Some(&revision)).await;
        assert_problem(unconditional, 428).await;
        let stale = app.send(Method::POST, &revisions, Some(&writer), Some("\"stale\""), Some(&revision)).await;
        assert_problem(stale, 412).await;
        let reasonless = app.send(Method::POST, &revisions, Some(&writer), Some(&etag), Some(&json!({"value": "40", "year": 2026}))).await;
        assert_eq!(failing_fields(reasonless).await, ["reason"]);
        let blank = app.send(Method::POST, &revisions, Some(&writer), Some(&etag), Some(&json!({"value": "40", "year": 2026, "reason": " "}))).await;
        assert_eq!(failing_fields(blank).await, ["reason"]);
        let early = app.send(Method::POST, &revisions, Some(&writer), Some(&etag), Some(&json!({"value": "40", "year": 2018, "reason": "x"}))).await;
        assert_eq!(refused_fields(early).await, ["year"]);
        let empty = app.send(Method::POST, &revisions, Some(&writer), Some(&etag), Some(&json!({"value": null, "year": 2026, "reason": "x"}))).await;
        assert_eq!(refused_fields(empty).await, ["value"]);
        let readers = app.send(Method::POST, &revisions, Some(&token(&["projects:write"], None)), Some(&etag), Some(&revision)).await;
        assert_problem(readers, 403).await;
        assert_eq!(app.json(&kpi).await, before, "refused revisions change nothing");

        let revised = app.revise_target(&kpi, &writer, revision).await;
        assert_eq!(revised["target"]["value_text"], "40");
        assert_eq!(revised["version"], before["version"].as_i64().unwrap() + 1);
        let history = revised["target_revisions"].as_array().unwrap();
        assert_eq!(history.len(), 1);
        assert_eq!(history[0]["previous"]["value_text"], "30");
        assert_eq!(history[0]["previous"]["label"], "令和8(2026)年度");
        assert_eq!(history[0]["target"]["value_text"], "40");
        assert_eq!(history[0]["reason"], "国の目標見直しに合わせて上方修正");
        assert_eq!(history[0]["revised_by"], "tester");
        assert!(history[0]["revised_at"].is_string());
        // (26 − 22) / (40 − 22) against the current target; still 0.5 against the original one.
        assert_eq!(revised["progress"]["achievement"], 0.2222);
        assert_eq!(revised["original_target_progress"]["achievement"], 0.5);
        assert_eq!(revised["original_target_progress"]["status"], "on_track");

        // A second revision keeps the first one: the original is the first one's `previous`.
        let again = app.revise_target(&kpi, &writer, json!({"value": 35, "year": 2025, "reason": "再度の見直し"})).await;
        let history = again["target_revisions"].as_array().unwrap();
        assert_eq!(history.len(), 2);
        assert_eq!(history[1]["previous"]["value_text"], "40");
        assert_eq!((again["target"]["value_text"].as_str(), again["target"]["year"].as_i64()), (Some("35"), Some(2025)));
        assert_eq!(again["original_target_progress"]["achievement"], 0.5);

        // The revision is one audited update of the KPI, in the change feed.
        let latest = latest_cursor(&app).await;
        let changes = app.json(&format!("/api/v1/changes?since={}", latest - 1)).await;
        let last = changes["items"][0].clone();
        assert_eq!((last["resource"].as_str(), last["operation"].as_str()), (Some("kpi"), Some("update")));

        // An evaluation freezes the target it judged by, and the original one.
        let plan = before["plan_id"].as_i64().unwrap();
        let admin = token(&["admin"], None);
        let frozen = app
            .send(Method::POST, &format!("/api/v1/plans/{plan}/evaluations"), Some(&admin), None, Some(&json!({"fiscal_year": 2022, "title": "令和4年度評価"})))
            .await;
        assert_eq!(frozen.status(), 201);
        let evaluation: Value = frozen.json().await.unwrap();
        let item = evaluation["items"].as_array().unwrap().iter().find(|item| item["kpi_code"] == "1-1-1-1").unwrap().clone();
        assert_eq!(
            (&item["target_value"], &item["target_year"], &item["original_target_value"], &item["original_target_year"], &item["original_achievement"]),
            (&json!("35"), &json!(2025), &json!("30"), &json!(2026), &json!(0.5))
        );
        let unrevised = evaluation["items"].as_array().unwrap().iter().find(|item| item["kpi_code"] == "1-1-1-2").unwrap().clone();
        assert_eq!(unrevised["original_target_value"], Value::Null);

        // A KPI with revisions is not deleted behind their back.
        let etag = app.etag(&kpi).await;
        let deleted = app.send(Method::DELETE, &kpi, Some(&admin), Some(&etag), None).await;
        let problem = assert_problem(deleted, 409).await;
        assert!(problem["detail"].as_str().unwrap().contains("2 target revisions"), "{problem}");
    }
}
