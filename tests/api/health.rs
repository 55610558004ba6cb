use crate::helpers::{assert_problem, spawn_app, spawn_app_on, Backend};

on_both_backends! {
    async fn liveness_and_readiness_answer(backend) {
        let app = spawn_app(backend).await;
        assert_eq!(app.json("/healthz").await["status"], "ok");
        let ready = app.json("/readyz").await;
        assert_eq!(ready["status"], "ready");
        let expected = match backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        };
        assert_eq!(ready["database"], expected);
    }
}

#[tokio::test]
async fn an_unreachable_database_is_a_503_not_a_crash() {
    // Nothing listens on port 9 of loopback: connections are refused at once.
    let app = spawn_app_on("postgres://postgres@127.0.0.1:9/none?connect_timeout=1").await;
    assert_eq!(app.json("/healthz").await["status"], "ok");
    let problem = assert_problem(app.get("/readyz").await, 503).await;
    assert!(problem["detail"].as_str().unwrap().contains("unavailable"), "{problem}");
    let response = app.get("/api/v1/goals").await;
    assert_eq!(response.headers()["retry-after"], "5");
    assert_problem(response, 503).await;
}

/// A SQLite database that cannot be written (here opened read-only) refuses writes with a clear
/// 503 and keeps serving reads.
#[tokio::test]
async fn an_unwritable_sqlite_file_refuses_writes_and_still_serves_reads() {
    use reqwest::Method;
    let path = crate::helpers::seeded_database(Backend::Sqlite);
    let app = spawn_app_on(&format!("file:{path}?mode=ro")).await;
    assert_eq!(app.json("/api/v1/kpis").await["total"], 45);
    let etag = app.etag("/api/v1/goals/1").await;
    let admin = crate::helpers::token(&["admin"], None);
    let body = serde_json::json!({"title": "書けない"});
    let response = app
        .send(Method::PATCH, "/api/v1/goals/1", Some(&admin), Some(&etag), Some(&body))
        .await;
    assert_eq!(response.headers()["retry-after"], "5");
    assert_problem(response, 503).await;
    assert_eq!(app.json("/api/v1/goals/1").await["version"], 1);
}
