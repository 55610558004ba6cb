use crate::helpers::{assert_problem, spawn_app};

on_both_backends! {
    /// The source is one plan, with its name, municipality code and period.
    async fn the_strategy_is_one_plan(backend) {
        let app = spawn_app(backend).await;
        let plans = app.json("/api/v1/plans").await;
        assert_eq!(plans["total"], 1);
        let plan = &plans["items"][0];
        assert_eq!(plan["code"], "atsugi-2");
        assert_eq!(plan["name"], "第2期厚木市まち・ひと・しごと創生総合戦略");
        assert_eq!(plan["municipality_code"], "142123");
        assert_eq!(plan["municipality_name"], "厚木市");
        assert_eq!(plan["prefecture"], "神奈川県");
        assert_eq!(plan["period_end_year"], 2026);
        assert_eq!(app.json("/api/v1/plans?code=atsugi-2").await["total"], 1);
        assert_eq!(app.json("/api/v1/plans?code=other").await["total"], 0);
    }
}

on_both_backends! {
    /// Corrections of evident typos keep the published form reachable.
    async fn a_plan_lists_its_corrections_with_the_published_form(backend) {
        let app = spawn_app(backend).await;
        let id = app.json("/api/v1/plans").await["items"][0]["id"].as_i64().unwrap();
        let plan = app.json(&format!("/api/v1/plans/{id}")).await;
        let corrections = plan["corrections"].as_array().unwrap();
        assert_eq!(corrections.len(), 2);
        let department = corrections.iter().find(|c| c["field"] == "department").unwrap();
        assert_eq!(department["published"], "子ども未来部");
        assert_eq!(department["normalised"], "こども未来部");
        assert!(department["reason"].as_str().unwrap().contains("typo"));
        assert_problem(app.get("/api/v1/plans/999999").await, 404).await;
    }
}
