use crate::helpers::{assert_problem, spawn_app};

on_both_backends! {
    /// Bad query parameters are 400 problems that name the parameter.
    async fn bad_parameters_are_400_problems_naming_them(backend) {
        let app = spawn_app(backend).await;
        for (path, field) in [
            ("/api/v1/kpis?limit=-1", "limit"),
            ("/api/v1/kpis?limit=abc", "limit"),
            ("/api/v1/kpis?limit=0", "limit"),
            ("/api/v1/kpis?limit=501", "limit"),
            ("/api/v1/projects?offset=-5", "offset"),
            ("/api/v1/measures?goal=x", "goal"),
            ("/api/v1/kpis?initiative=1.5", "initiative"),
            ("/api/v1/projects?department=99999999999999999999999", "department"),
            ("/api/v1/goals?plan=0", "plan"),
            ("/api/v1/kpis?q=", "q"),
            ("/api/v1/goals?code=1&code=2", "code"),
            ("/api/v1/divisions?departmnt=1", "departmnt"),
        ] {
            let problem = assert_problem(app.get(path).await, 400).await;
            assert_eq!(problem["errors"][0]["field"], field, "{path}: {problem}");
            assert!(problem["detail"].as_str().unwrap().contains(field), "{path}: {problem}");
        }
        let long = "x".repeat(201);
        assert_problem(app.get(&format!("/api/v1/kpis?q={long}")).await, 400).await;
    }
}

on_both_backends! {
    /// Unknown ids and paths are 404, a wrong method is 405 with `Allow`, a non-integer id is 400.
    async fn unknown_resources_and_methods_are_problems(backend) {
        let app = spawn_app(backend).await;
        let problem = assert_problem(app.get("/api/v1/goals/424242").await, 404).await;
        assert_eq!(problem["detail"], "goal 424242 does not exist");
        assert_problem(app.get("/api/v1/nothing-here").await, 404).await;
        assert_problem(app.get("/nothing-here").await, 404).await;
        let problem = assert_problem(app.get("/api/v1/kpis/abc").await, 400).await;
        assert_eq!(problem["errors"][0]["field"], "path");
        assert_problem(app.get("/api/v1/kpis/1/results/20x").await, 400).await;
        assert_problem(app.get("/api/v1/kpis/-1").await, 404).await;
        for (method, path, allowed) in [
            (reqwest::Method::PUT, "/api/v1/kpis/1", "GET, PATCH, DELETE"),
            (reqwest::Method::POST, "/api/v1/kpis/1", "GET, PATCH, DELETE"),
            (reqwest::Method::PUT, "/api/v1/projects", "GET, POST"),
            (reqwest::Method::DELETE, "/api/v1/changes", "GET"),
            (reqwest::Method::POST, "/healthz", "GET"),
            (reqwest::Method::POST, "/", "GET"),
            (reqwest::Method::DELETE, "/plans/1", "GET"),
            (reqwest::Method::PUT, "/plans/1/kpis/1", "GET"),
        ] {
            let response = app.client.request(method.clone(), app.url(path)).send().await.unwrap();
            assert_eq!(response.headers()["allow"], allowed, "{method} {path}");
            assert_problem(response, 405).await;
        }
    }
}

on_both_backends! {
    /// Hostile query strings (injection, encodings, control characters) are data, never a 500.
    async fn hostile_query_strings_never_cause_a_500(backend) {
        let app = spawn_app(backend).await;
        for query in [
            "q=%27%3B%20DROP%20TABLE%20kpis%3B--",
            "q=%00",
            "q=%FF%FE",
            "code=%27%20OR%201%3D1",
            "q=%5C",
            "limit=1%00",
            "%3D%3D%3D",
            "q=%E2%80%AE",
            "as_of=%00",
            "as_of=9999-99-99",
            "evaluation=99999999999999999999",
            "as_of=2024-01-01T00%3A00%3A00%2B99%3A00",
        ] {
            for path in ["/api/v1/kpis", "/plans/1", "/", "/api/v1/plans/1/report.xlsx"] {
                let response = app.get(&format!("{path}?{query}")).await;
                assert!(response.status().is_success() || response.status() == 400, "{path}?{query}: {}", response.status());
            }
        }
        assert_eq!(app.json("/api/v1/kpis").await["total"], 45);
    }
}
