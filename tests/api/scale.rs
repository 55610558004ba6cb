//! Scale mode (`seed --synthetic N`): the copies are complete plans, and the benchmark's queries
//! answer the same for the first plan whatever the number of plans.

use std::time::Duration;

use serde_json::Value;
use strategy_api::db::synthetic::{add_copies, synthetic_code, SyntheticOutcome};
use strategy_api::db::Database;

use crate::helpers::{seeded_database, spawn_app_on};

const COPIES: i64 = 4;

/// The record without what differs between copies by design: ids, versions and plan references.
fn without_ids(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(key, _)| !(key.as_str() == "id" || key.ends_with("_id") || key.ends_with("_ids")))
                .filter(|(key, _)| !matches!(key.as_str(), "plan" | "version" | "links"))
                .map(|(key, value)| (key.clone(), without_ids(value)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_ids).collect()),
        other => other.clone(),
    }
}

/// The benchmark's reads, scoped to plan 1 where the unscoped form would page across plans.
async fn first_plan_reads(app: &crate::helpers::TestApp, initiative: i64) -> Vec<(String, Value)> {
    let mut answers = Vec::new();
    for path in [
        "/api/v1/kpis?plan=1&limit=500".to_string(),
        "/api/v1/kpis/1".to_string(),
        format!("/api/v1/kpis?initiative={initiative}"),
        "/api/v1/kpis?plan=1&q=%E4%BB%B6%E6%95%B0".to_string(),
        "/api/v1/projects?plan=1&limit=500".to_string(),
        "/api/v1/goals/1".to_string(),
    ] {
        let answer = app.json(&path).await;
        answers.push((path, answer));
    }
    answers
}

on_both_backends! {
    /// N plans in all, each a complete copy of the first; the first plan's reads do not change;
    /// search finds the same records in every copy; loading again adds nothing.
    async fn synthetic_plans_are_complete_copies(backend) {
        let url = seeded_database(backend);
        let app = spawn_app_on(&url).await;
        let initiative = app.json("/api/v1/kpis/1").await["initiative_id"].as_i64().expect("initiative_id");
        let before = first_plan_reads(&app, initiative).await;
        let unscoped_search = app.json("/api/v1/kpis?q=%E4%BB%B6%E6%95%B0&limit=500").await;
        let matches_per_plan = unscoped_search["total"].as_i64().expect("total");
        assert!(matches_per_plan > 0, "件数 finds KPIs of the seeded plan");

        let database = Database::new(&url, 2, Duration::from_secs(10));
        let outcome = database.run_blocking(|conn| add_copies(conn, "atsugi-2", COPIES)).unwrap();
        assert_eq!(outcome, SyntheticOutcome { added: COPIES - 1, plans: COPIES });
        let again = database.run_blocking(|conn| add_copies(conn, "atsugi-2", COPIES)).unwrap();
        assert_eq!(again, SyntheticOutcome { added: 0, plans: COPIES });

        let after = first_plan_reads(&app, initiative).await;
        for ((path, was), (_, is)) in before.iter().zip(&after) {
            assert_eq!(was, is, "GET {path} changed when the synthetic plans were added");
        }
        assert_eq!(app.json("/api/v1/kpis?limit=1").await["total"], 45 * COPIES);
        let search = app.json("/api/v1/kpis?q=%E4%BB%B6%E6%95%B0&limit=500").await;
        assert_eq!(search["total"].as_i64(), Some(matches_per_plan * COPIES));
        let first_page: Vec<&Value> = search["items"].as_array().unwrap().iter().filter(|kpi| kpi["plan_id"] == 1).collect();
        let original: Vec<&Value> = unscoped_search["items"].as_array().unwrap().iter().collect();
        assert_eq!(first_page, original, "the unscoped search still lists the first plan's matches");

        let plans = app.all("/api/v1/plans").await;
        assert_eq!(plans.len() as i64, COPIES);
        let base = app.json("/api/v1/plans/1/export").await;
        let mut names = std::collections::HashSet::new();
        for (index, plan) in plans.iter().enumerate().skip(1) {
            let number = index as i64 + 1;
            assert_eq!(plan["code"].as_str(), Some(synthetic_code("atsugi-2", number).as_str()));
            assert!(names.insert(plan["name"].as_str().unwrap().to_string()), "plan names are distinct");
            let copy = app.json(&format!("/api/v1/plans/{}/export", plan["id"])).await;
            for part in ["departments", "goals", "projects"] {
                // Not assert_eq!: the whole plan would be printed.
                assert!(without_ids(&copy[part]) == without_ids(&base[part]), "{part} of plan {number} differ");
            }
            let scoped = app.json(&format!("/api/v1/kpis?plan={}&q=%E4%BB%B6%E6%95%B0", plan["id"])).await;
            assert_eq!(scoped["total"].as_i64(), Some(matches_per_plan), "search in plan {number}");
        }
    }
}
