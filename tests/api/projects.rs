use serde_json::Value;

use crate::helpers::{assert_problem, spawn_app, TestApp};

async fn project(app: &TestApp, name: &str) -> Value {
    let all = app.all("/api/v1/projects").await;
    all.into_iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("project {name}"))
}

async fn id_of(app: &TestApp, path: &str) -> i64 {
    app.json(path).await["items"][0]["id"].as_i64().unwrap()
}

fn names(projects: &[Value]) -> Vec<&str> {
    projects.iter().map(|p| p["name"].as_str().unwrap()).collect()
}

on_both_backends! {
    /// One record per project name; each appearance keeps the description given at that place.
    async fn a_project_is_one_record_with_every_appearance(backend) {
        let app = spawn_app(backend).await;
        let all = app.all("/api/v1/projects").await;
        assert_eq!(all.len(), 147);
        let appearances: usize = all.iter().map(|p| p["appearances"].as_array().unwrap().len()).sum();
        assert_eq!(appearances, 161);

        let compact = project(&app, "コンパクト・プラス・ネットワーク推進事業").await;
        let places: Vec<&str> = compact["appearances"].as_array().unwrap().iter().map(|a| a["initiative_code"].as_str().unwrap()).collect();
        assert_eq!(places, ["4-2-1", "4-3-1", "4-3-2"]);
        let descriptions: Vec<&str> = compact["appearances"].as_array().unwrap().iter().map(|a| a["description"].as_str().unwrap()).collect();
        assert!(descriptions[0].starts_with("災害リスクの高いハザードエリアからの移転等"));
        assert!(descriptions[1].starts_with("生活利便施設が不足している地域において"));
        assert!(descriptions[2].starts_with("路線バスの定時性及び速達性の確保のため"));
        // A paragraph break of the document is a line break in the description.
        assert!(descriptions[0].contains("補助します。\nまた、"), "{}", descriptions[0]);

        let same = project(&app, "幼稚園教諭確保助成事業").await;
        assert_eq!(same["appearances"].as_array().unwrap().len(), 3);
        let one = app.json(&format!("/api/v1/projects/{}", compact["id"])).await;
        assert_eq!(one, compact);
        assert_problem(app.get("/api/v1/projects/999999").await, 404).await;
    }
}

on_both_backends! {
    /// Several responsible divisions, each with its department; special accounts apart from the name.
    async fn divisions_and_accounts_are_kept_apart_from_the_name(backend) {
        let app = spawn_app(backend).await;
        let health = project(&app, "健康づくり事業").await;
        let divisions: Vec<(&str, &str)> = health["divisions"].as_array().unwrap().iter()
            .map(|d| (d["name"].as_str().unwrap(), d["department"]["name"].as_str().unwrap())).collect();
        assert_eq!(divisions, [("健康長寿推進課", "市民健康部"), ("健康づくり課", "市民健康部")]);
        let revenue = project(&app, "自主財源の確保").await;
        let departments: Vec<&str> = revenue["divisions"].as_array().unwrap().iter().map(|d| d["department"]["name"].as_str().unwrap()).collect();
        assert_eq!(departments, ["政策部", "財務部"]);

        let road = project(&app, "厚木秦野道路用地取得事業(用地国債)").await;
        assert_eq!(road["account"], "公共用地取得事業特別会計");
        let plain = project(&app, "国内交流推進事業").await;
        assert_eq!(plain["account"], Value::Null);
        let of_account = app.all("/api/v1/projects?account=%E4%BB%8B%E8%AD%B7%E4%BF%9D%E9%99%BA%E4%BA%8B%E6%A5%AD%E7%89%B9%E5%88%A5%E4%BC%9A%E8%A8%88").await; // 介護保険事業特別会計
        assert_eq!(names(&of_account), ["地域包括支援センター運営事業", "在宅医療・介護・生活支援推進事業"]);
        // Stray spaces of the PDF's line wrapping are gone.
        project(&app, "中町第2-2地区周辺整備事業").await;
    }
}

on_both_backends! {
    /// Projects filter by goal, initiative, department and division.
    async fn projects_filter_by_place_and_responsibility(backend) {
        let app = spawn_app(backend).await;
        let initiative = id_of(&app, "/api/v1/initiatives?code=1-1-1").await;
        let of_initiative = app.all(&format!("/api/v1/projects?initiative={initiative}")).await;
        assert_eq!(names(&of_initiative), ["国内交流推進事業", "国際交流推進事業", "広域都市連携推進事業", "広域連携観光推進事業"]);

        let goal2 = id_of(&app, "/api/v1/goals?code=2").await;
        let of_goal = app.all(&format!("/api/v1/projects?goal={goal2}")).await;
        assert!(of_goal.iter().all(|p| p["appearances"].as_array().unwrap().iter().any(|a| a["initiative_code"].as_str().unwrap().starts_with("2-"))));
        assert_eq!(of_goal.len(), 17);

        let fire = id_of(&app, "/api/v1/departments?code=D13").await;
        let of_department = app.all(&format!("/api/v1/projects?department={fire}")).await;
        assert_eq!(names(&of_department), ["消防団活性化事業", "消防庁舎整備事業", "消防資器材整備事業"]);

        let finance = id_of(&app, "/api/v1/divisions?code=D15-01").await;
        let of_division = app.all(&format!("/api/v1/projects?division={finance}")).await;
        assert_eq!(names(&of_division), ["自主財源の確保"]);
        assert_eq!(app.json(&format!("/api/v1/projects?division={finance}&initiative={initiative}")).await["total"], 0);
        assert_eq!(app.json("/api/v1/projects?code=P001").await["items"][0]["name"], "国内交流推進事業");
    }
}

on_both_backends! {
    /// `q` searches names and descriptions in whatever form is typed.
    async fn project_search_covers_names_and_descriptions(backend) {
        let app = spawn_app(backend).await;
        for query in ["ハザード", "ﾊｻﾞｰﾄﾞ", "はざーど"] {
            let found = app.all(&format!("/api/v1/projects?q={query}")).await;
            let found = names(&found);
            assert!(found.contains(&"オールハザードマップ等作成事業"), "q={query}: {found:?}");
            // the other match is a description: the relocation subsidy of コンパクト・プラス・ネットワーク推進事業
            assert!(found.contains(&"コンパクト・プラス・ネットワーク推進事業"), "q={query}: {found:?}");
        }
        let wifi = app.all("/api/v1/projects?q=%EF%BC%B7%EF%BD%89%EF%BC%8D%EF%BC%A6%EF%BD%89").await; // Ｗｉ－Ｆｉ
        assert_eq!(names(&wifi), ["公衆無線LAN整備事業"]);
    }
}
