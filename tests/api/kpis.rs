use serde_json::{json, Value};

use crate::helpers::{assert_problem, spawn_app};

async fn kpi(app: &crate::helpers::TestApp, code: &str) -> Value {
    let page = app.json(&format!("/api/v1/kpis?code={code}")).await;
    assert_eq!(page["total"], 1, "KPI {code}");
    page["items"][0].clone()
}

on_both_backends! {
    /// Values keep their published places; "—" is null; years carry their type and Japanese label.
    async fn kpi_values_and_years_are_exact(backend) {
        let app = spawn_app(backend).await;
        let tax = kpi(&app, "4-4-1-2").await;
        assert_eq!(tax["name"], "市税収納率");
        assert_eq!(tax["unit"], "%");
        assert_eq!(tax["baseline"], json!({"value": 98.81, "value_text": "98.81", "year": 2019, "year_type": "fiscal", "label": "令和元(2019)年度"}));
        assert_eq!(tax["target"], json!({"value": 99.1, "value_text": "99.10", "year": 2026, "year_type": "fiscal", "label": "令和8(2026)年度"}));

        let reform = kpi(&app, "4-4-1-1").await;
        assert_eq!(reform["baseline"]["value"], Value::Null);
        assert_eq!(reform["baseline"]["value_text"], Value::Null);
        assert_eq!(reform["baseline"]["label"], "令和2(2020)年度");
        assert_eq!(reform["target"]["value_text"], "100");
        assert_eq!(reform["direction"], "increase");

        let tourists = kpi(&app, "1-1-2-1").await;
        assert_eq!(tourists["baseline"]["value"], 2942000);
        assert_eq!(tourists["baseline"]["year_type"], "calendar");
        assert_eq!(tourists["baseline"]["label"], "令和元(2019)年");

        let parks = kpi(&app, "4-3-3-1").await;
        assert_eq!(parks["unit"], "m²/人");
        assert_eq!(parks["target"]["value_text"], "9.65");
    }
}

on_both_backends! {
    /// Direction is derived from baseline and target: one KPI falls, one holds, the rest rise.
    async fn direction_and_cumulative_follow_the_document(backend) {
        let app = spawn_app(backend).await;
        let kpis = app.all("/api/v1/kpis").await;
        assert_eq!(kpis.len(), 45);
        let with = |direction: &str| -> Vec<&str> {
            kpis.iter().filter(|k| k["direction"] == direction).map(|k| k["name"].as_str().unwrap()).collect()
        };
        assert_eq!(with("decrease"), ["刑法犯認知件数"]);
        assert_eq!(with("maintain"), ["中心市街地商店街空店舗対策事業補助金交付申請店舗数"]);
        assert_eq!(with("increase").len(), 43);
        let cumulative: Vec<&str> = kpis.iter().filter(|k| k["cumulative"] == true).map(|k| k["code"].as_str().unwrap()).collect();
        assert_eq!(cumulative, ["1-3-1-1", "1-3-1-2", "2-1-1-1", "4-3-2-1", "4-3-2-2"]);
        let pedestrians = kpis.iter().find(|k| k["code"] == "1-2-1-1").unwrap();
        assert_eq!(pedestrians["baseline"]["value_text"], "109836");
        assert_eq!(pedestrians["target"]["value_text"], "112500");
    }
}

on_both_backends! {
    /// KPIs filter by goal, measure, initiative and plan, and combine filters.
    async fn kpis_filter_by_goal_measure_and_initiative(backend) {
        let app = spawn_app(backend).await;
        let id_of = |page: Value| page["items"][0]["id"].as_i64().unwrap();
        let goal2 = id_of(app.json("/api/v1/goals?code=2").await);
        let of_goal = app.all(&format!("/api/v1/kpis?goal={goal2}")).await;
        assert_eq!(of_goal.len(), 6);
        assert!(of_goal.iter().all(|k| k["code"].as_str().unwrap().starts_with("2-")));
        let measure = id_of(app.json("/api/v1/measures?code=2-2").await);
        let of_measure = app.all(&format!("/api/v1/kpis?measure={measure}")).await;
        let names: Vec<&str> = of_measure.iter().map(|k| k["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["市の支援策により創業した人数", "中小企業相談件数"]);
        let initiative = id_of(app.json("/api/v1/initiatives?code=4-2-2").await);
        let of_initiative = app.all(&format!("/api/v1/kpis?initiative={initiative}")).await;
        assert_eq!(of_initiative.len(), 2);
        assert!(of_initiative.iter().all(|k| k["initiative_id"] == initiative));
        let plan = id_of(app.json("/api/v1/plans").await);
        assert_eq!(app.json(&format!("/api/v1/kpis?plan={plan}")).await["total"], 45);
        assert_eq!(app.json(&format!("/api/v1/kpis?plan={}", plan + 1000)).await["total"], 0);
        assert_eq!(app.json(&format!("/api/v1/kpis?goal={goal2}&initiative={initiative}")).await["total"], 0);
        assert_problem(app.get("/api/v1/kpis/999999").await, 404).await;
        let one = app.json(&format!("/api/v1/kpis/{}", of_initiative[0]["id"])).await;
        assert_eq!(one, of_initiative[0]);
    }
}

on_both_backends! {
    /// `q` matches after NFKC on both sides: full-width, half-width, case and kana forms find each other.
    async fn kpi_search_matches_whatever_width_is_typed(backend) {
        let app = spawn_app(backend).await;
        let names = |page: Value| -> Vec<String> {
            page["items"].as_array().unwrap().iter().map(|k| k["name"].as_str().unwrap().to_string()).collect()
        };
        for query in ["AYUCO", "ＡＹＵＣＯ", "ａｙｕｃｏ", "ayuco"] {
            let found = names(app.json(&format!("/api/v1/kpis?q={query}")).await);
            assert_eq!(found, ["子育てパスポートAYUCOカード取得率"], "q={query}");
        }
        let count = app.json("/api/v1/kpis?q=%E4%BB%B6%E6%95%B0").await; // 件数
        assert_eq!(count["total"], 8, "{count}");
        // Half-width katakana ｾｰﾌｺﾐｭﾆﾃｨ and hiragana both find セーフコミュニティ.
        for query in ["ｾｰﾌｺﾐｭﾆﾃｨ", "せーふこみゅにてぃ"] {
            let found = names(app.json(&format!("/api/v1/kpis?q={query}")).await);
            assert_eq!(found.len(), 1, "q={query}: {found:?}");
            assert!(found[0].contains("セーフコミュニティ"));
        }
        // LIKE wildcards are literal text, not patterns.
        assert_eq!(app.json("/api/v1/kpis?q=%25").await["total"], 0);
        assert_eq!(app.json("/api/v1/kpis?q=_").await["total"], 0);
    }
}

on_both_backends! {
    /// The search index follows renames: the new name is found, the old one no longer.
    async fn search_follows_a_renamed_kpi(backend) {
        let app = crate::helpers::spawn_app_on(&crate::helpers::seeded_database(backend)).await;
        let admin = crate::helpers::token(&["admin"], None);
        let etag = app.etag("/api/v1/kpis/1").await;
        let body = json!({"name": "ほたる観察会の参加者数"});
        let response = app
            .send(reqwest::Method::PATCH, "/api/v1/kpis/1", Some(&admin), Some(&etag), Some(&body))
            .await;
        assert_eq!(response.status(), 200);
        let found = app.json("/api/v1/kpis?q=%E3%83%9B%E3%82%BF%E3%83%AB").await; // ホタル
        assert_eq!(found["total"], 1, "{found}");
        assert_eq!(found["items"][0]["id"], 1);
        let old = app.json("/api/v1/kpis?q=%E5%9B%BD%E5%86%85%E5%8F%8B%E5%A5%BD").await; // 国内友好
        assert_eq!(old["total"], 0, "{old}");
    }
}

on_both_backends! {
    /// Every two-character query, answered by the bigram index alone, finds exactly the KPIs whose
    /// searchable name contains it (the oracle: a plain substring test over all 45), and longer
    /// queries agree with the oracle too.
    async fn two_character_queries_find_exactly_the_names_that_contain_them(backend) {
        use strategy_api::domain::text::{bigrams, searchable};
        let app = spawn_app(backend).await;
        let kpis = app.all("/api/v1/kpis").await;
        let texts: Vec<(i64, String)> = kpis
            .iter()
            .map(|k| (k["id"].as_i64().unwrap(), searchable(k["name"].as_str().unwrap())))
            .collect();
        // Not the grams that straddle the control character joining a name and its kana reading.
        let mut queries: Vec<String> = texts
            .iter()
            .flat_map(|(_, text)| bigrams(text))
            .filter(|gram| !gram.chars().any(char::is_control))
            .collect();
        queries.sort();
        queries.dedup();
        queries.extend(["件数率", "市民の", "zz", "数件"].map(String::from));
        for query in &queries {
            let mut expected: Vec<i64> = texts.iter().filter(|(_, text)| text.contains(query.as_str())).map(|(id, _)| *id).collect();
            expected.sort();
            let response = app.client.get(app.url("/api/v1/kpis")).query(&[("limit", "500"), ("q", query)]).send().await.unwrap();
            assert_eq!(response.status(), 200, "q={query}");
            let page: Value = response.json().await.unwrap();
            let mut found: Vec<i64> = page["items"].as_array().unwrap().iter().map(|k| k["id"].as_i64().unwrap()).collect();
            found.sort();
            assert_eq!(found, expected, "q={query}");
        }
    }
}
