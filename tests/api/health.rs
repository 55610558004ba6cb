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
