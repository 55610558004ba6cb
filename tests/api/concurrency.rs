use reqwest::Method;
use serde_json::json;

use crate::helpers::{postgres_server_url, seeded_database, spawn_app_on, token, Backend, TestApp};

const EDITORS: usize = 24;

/// Many editors PATCH one KPI with the ETag they all read: exactly one wins, the rest get 412,
/// and the audit record holds exactly that one change.
async fn race_on_one_record(apps: &[TestApp]) {
    let admin = token(&["admin"], None);
    let path = "/api/v1/kpis?code=4-4-1-2";
    let kpi = apps[0].json(path).await["items"][0].clone();
    let item = format!("/api/v1/kpis/{}", kpi["id"]);
    let etag = apps[0].etag(&item).await;

    let editors = (0..EDITORS).map(|editor| {
        let app = &apps[editor % apps.len()];
        let body = json!({"source": format!("市民意識調査（第{}回）", editor + 11)});
        let (item, etag, admin) = (item.clone(), etag.clone(), admin.clone());
        async move {
            let response = app
                .send(Method::PATCH, &item, Some(&admin), Some(&etag), Some(&body))
                .await;
            (response.status().as_u16(), body)
        }
    });
    let outcomes = futures_util::future::join_all(editors).await;

    let winners: Vec<_> = outcomes.iter().filter(|(status, _)| *status == 200).collect();
    let refused = outcomes.iter().filter(|(status, _)| *status == 412).count();
    assert_eq!(winners.len(), 1, "exactly one editor wins: {outcomes:?}");
    assert_eq!(
        refused,
        EDITORS - 1,
        "every other editor is told the record changed: {outcomes:?}"
    );

    let after = apps[apps.len() - 1].json(&item).await;
    assert_eq!(after["source"], winners[0].1["source"]);
    assert_eq!(after["version"], kpi["version"].as_i64().unwrap() + 1);

    let history = apps[0]
        .client
        .get(apps[0].url(&format!("/api/v1/audit?resource=kpi&id={}", kpi["id"])))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(history["total"], 1, "one change on record: {history}");
    assert_eq!(history["items"][0]["after"], after);
}

on_both_backends! {
    /// No lost update on one instance.
    async fn concurrent_patches_with_one_etag_let_exactly_one_through(backend) {
        let app = spawn_app_on(&seeded_database(backend)).await;
        race_on_one_record(&[app]).await;
    }
}

/// No lost update across two instances sharing one Postgres database.
#[tokio::test]
async fn two_instances_sharing_postgres_let_exactly_one_patch_through() {
    if postgres_server_url().is_none() {
        eprintln!("skipped: TEST_POSTGRES_URL is not set");
        return;
    }
    let url = seeded_database(Backend::Postgres);
    let first = spawn_app_on(&url).await;
    let second = spawn_app_on(&url).await;
    race_on_one_record(&[first, second]).await;
}
