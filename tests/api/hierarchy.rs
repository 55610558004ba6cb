use serde_json::Value;

use crate::helpers::{assert_problem, spawn_app};

fn codes(items: &[Value]) -> Vec<&str> {
    items.iter().map(|item| item["code"].as_str().unwrap()).collect()
}

on_both_backends! {
    /// Four basic goals with their categories as published.
    async fn goals_are_listed_with_number_category_and_title(backend) {
        let app = spawn_app(backend).await;
        let goals = app.all("/api/v1/goals").await;
        assert_eq!(codes(&goals), ["1", "2", "3", "4"]);
        let categories: Vec<&str> = goals.iter().map(|g| g["category"].as_str().unwrap()).collect();
        assert_eq!(categories, ["転入促進", "雇用創出", "合計特殊出生率上昇", "転出抑制"]);
        assert_eq!(goals[1]["number"], 2);
        assert_eq!(goals[1]["title"], "働く場を創出し、経済活動が盛んなまちをつくる");
        let by_code = app.json("/api/v1/goals?code=3").await;
        assert_eq!(by_code["total"], 1);
        assert_eq!(by_code["items"][0]["category"], "合計特殊出生率上昇");
    }
}

on_both_backends! {
    /// A single goal carries its measures and their initiatives.
    async fn a_goal_includes_its_measures_and_initiatives(backend) {
        let app = spawn_app(backend).await;
        let id = app.json("/api/v1/goals?code=1").await["items"][0]["id"].as_i64().unwrap();
        let goal = app.json(&format!("/api/v1/goals/{id}")).await;
        assert_eq!(goal["category"], "転入促進");
        let measures = goal["measures"].as_array().unwrap();
        assert_eq!(codes(measures), ["1-1", "1-2", "1-3"]);
        assert_eq!(measures[1]["title"], "機能的でにぎわいのあるまちづくりを進める");
        assert_eq!(codes(measures[0]["initiatives"].as_array().unwrap()), ["1-1-1", "1-1-2", "1-1-3"]);
        assert_eq!(codes(measures[1]["initiatives"].as_array().unwrap()), ["1-2-1", "1-2-2"]);
        assert_eq!(measures[0]["initiatives"][2]["title"], "あつぎの魅力の発信力強化");
        assert_problem(app.get("/api/v1/goals/999999").await, 404).await;
    }
}

on_both_backends! {
    /// Measures filter by goal; a single measure carries its initiatives.
    async fn measures_filter_by_goal(backend) {
        let app = spawn_app(backend).await;
        assert_eq!(app.all("/api/v1/measures").await.len(), 13);
        let goal4 = app.json("/api/v1/goals?code=4").await["items"][0]["id"].as_i64().unwrap();
        let measures = app.all(&format!("/api/v1/measures?goal={goal4}")).await;
        assert_eq!(codes(&measures), ["4-1", "4-2", "4-3", "4-4"]);
        assert!(measures.iter().all(|m| m["goal_id"] == goal4));
        let measure = app.json(&format!("/api/v1/measures/{}", measures[3]["id"])).await;
        assert_eq!(measure["title"], "自主・自立のまちづくりを推進する");
        assert_eq!(codes(measure["initiatives"].as_array().unwrap()), ["4-4-1", "4-4-2", "4-4-3"]);
        assert_problem(app.get("/api/v1/measures/999999").await, 404).await;
    }
}

on_both_backends! {
    /// Initiatives filter by goal and by measure.
    async fn initiatives_filter_by_goal_and_measure(backend) {
        let app = spawn_app(backend).await;
        assert_eq!(app.all("/api/v1/initiatives").await.len(), 26);
        let goal3 = app.json("/api/v1/goals?code=3").await["items"][0]["id"].as_i64().unwrap();
        let of_goal = app.all(&format!("/api/v1/initiatives?goal={goal3}")).await;
        assert_eq!(codes(&of_goal), ["3-1-1", "3-2-1", "3-2-2", "3-2-3", "3-3-1"]);
        let measure = app.json("/api/v1/measures?code=3-2").await["items"][0]["id"].as_i64().unwrap();
        let of_measure = app.all(&format!("/api/v1/initiatives?measure={measure}")).await;
        assert_eq!(codes(&of_measure), ["3-2-1", "3-2-2", "3-2-3"]);
        let both = app.all(&format!("/api/v1/initiatives?goal={goal3}&measure={measure}&code=3-2-3")).await;
        assert_eq!(codes(&both), ["3-2-3"]);
        assert_eq!(both[0]["title"], "子育て環境の充実");
    }
}

on_both_backends! {
    /// A single initiative carries its KPIs and its project table, each with the description given there.
    async fn an_initiative_includes_its_kpis_and_project_appearances(backend) {
        let app = spawn_app(backend).await;
        let id = app.json("/api/v1/initiatives?code=1-1-1").await["items"][0]["id"].as_i64().unwrap();
        let initiative = app.json(&format!("/api/v1/initiatives/{id}")).await;
        assert_eq!(initiative["title"], "都市間交流の促進");
        let kpis = initiative["kpis"].as_array().unwrap();
        assert_eq!(codes(kpis), ["1-1-1-1", "1-1-1-2"]);
        assert_eq!(kpis[0]["name"], "国内友好都市との交流活動件数");
        let projects = initiative["project_appearances"].as_array().unwrap();
        let names: Vec<&str> = projects.iter().map(|p| p["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["国内交流推進事業", "国際交流推進事業", "広域都市連携推進事業", "広域連携観光推進事業"]);
        assert!(projects[0]["description"].as_str().unwrap().starts_with("国内友好都市との訪問団の受入れ"));
        assert_problem(app.get("/api/v1/initiatives/999999").await, 404).await;
    }
}
