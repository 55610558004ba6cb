use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{assert_problem, seeded_database, spawn_app, spawn_app_on, token};

fn field<'a>(items: &'a [Value], name: &str) -> Vec<&'a Value> {
    items.iter().map(|item| &item[name]).collect()
}

on_both_backends! {
    /// `sort` orders every collection by the fields it names, `-` descending, id breaking ties;
    /// an unknown field is a 400 naming the sortable ones.
    async fn collections_sort_by_the_fields_asked_for(backend) {
        let app = spawn_app(backend).await;
        let kpis = app.all("/api/v1/kpis?sort=-target_year,name").await;
        assert_eq!(kpis.len(), 45);
        let keys: Vec<(i64, String)> = kpis.iter().map(|k| (k["target"]["year"].as_i64().unwrap(), k["name"].as_str().unwrap().to_string())).collect();
        let mut sorted = keys.clone();
        sorted.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        assert_eq!(keys, sorted);
        let newest_first = app.json("/api/v1/projects?sort=-id&limit=3").await;
        let ids: Vec<i64> = newest_first["items"].as_array().unwrap().iter().map(|p| p["id"].as_i64().unwrap()).collect();
        assert!(ids.windows(2).all(|pair| pair[0] > pair[1]), "{ids:?}");
        let by_name = app.all("/api/v1/departments?sort=name").await;
        let names: Vec<&str> = by_name.iter().map(|d| d["name"].as_str().unwrap()).collect();
        let mut expected = names.clone();
        expected.sort();
        assert_eq!(names, expected);
        // Pages of a sorted collection neither overlap nor skip.
        let first = app.json("/api/v1/kpis?sort=unit&limit=20").await;
        let second = app.json("/api/v1/kpis?sort=unit&limit=20&offset=20").await;
        let mut seen: Vec<i64> = [first, second].iter().flat_map(|page| page["items"].as_array().unwrap().iter().map(|k| k["id"].as_i64().unwrap()).collect::<Vec<_>>()).collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 40);
        for path in ["/api/v1/kpis?sort=colour", "/api/v1/goals?sort=name", "/api/v1/projects?sort=id,id"] {
            let problem = assert_problem(app.get(path).await, 400).await;
            assert_eq!(problem["errors"][0]["field"], "sort", "{path}");
        }
        let problem = assert_problem(app.get("/api/v1/kpis?sort=colour").await, 400).await;
        assert!(problem["detail"].as_str().unwrap().contains("baseline_year"), "{problem}");
    }
}

on_both_backends! {
    /// KPIs filter by unit, cumulative and direction.
    async fn kpis_filter_by_unit_cumulative_and_direction(backend) {
        let app = spawn_app(backend).await;
        let percent = app.all("/api/v1/kpis?unit=%25").await;
        assert!(percent.len() > 20 && percent.iter().all(|k| k["unit"] == "%"));
        let per_person = app.all("/api/v1/kpis?unit=m%C2%B2%2F%E4%BA%BA").await;
        assert_eq!(field(&per_person, "name"), [&json!("市民一人当たりの公園及び緑地面積")]);
        let cumulative = app.all("/api/v1/kpis?cumulative=true").await;
        assert_eq!(cumulative.len(), 5);
        assert_eq!(app.json("/api/v1/kpis?cumulative=false").await["total"], 40);
        assert_eq!(app.all("/api/v1/kpis?direction=decrease").await[0]["name"], "刑法犯認知件数");
        assert_eq!(app.json("/api/v1/kpis?direction=maintain&cumulative=true").await["total"], 0);
        for (path, name) in [("/api/v1/kpis?cumulative=yes", "cumulative"), ("/api/v1/kpis?direction=up", "direction"), ("/api/v1/kpis?status=done", "status")] {
            let problem = assert_problem(app.get(path).await, 400).await;
            assert_eq!(problem["errors"][0]["field"], name);
        }
    }
}

on_both_backends! {
    /// `status` filters by each KPI's current progress, kept up to date by every result written.
    async fn kpis_filter_by_progress_status(backend) {
        let app = spawn_app_on(&seeded_database(backend)).await;
        assert_eq!(app.json("/api/v1/kpis?status=no_data").await["total"], 45);
        let writer = token(&["kpis:write"], None);
        let id = app.json("/api/v1/kpis?code=1-1-1-1").await["items"][0]["id"].as_i64().unwrap();
        let path = format!("/api/v1/kpis/{id}/results/2022");
        assert_eq!(app.send(Method::PUT, &path, Some(&writer), None, Some(&json!({"value": "26"}))).await.status(), 201);
        let on_track = app.all("/api/v1/kpis?status=on_track").await;
        assert_eq!(field(&on_track, "id"), [&json!(id)]);
        assert_eq!(app.json("/api/v1/kpis?status=no_data").await["total"], 44);
        let etag = app.etag(&path).await;
        assert_eq!(app.send(Method::PUT, &path, Some(&writer), Some(&etag), Some(&json!({"value": "30"}))).await.status(), 200);
        assert_eq!(field(&app.all("/api/v1/kpis?status=achieved").await, "id"), [&json!(id)]);
        // A changed target changes the status too.
        let kpi = format!("/api/v1/kpis/{id}");
        app.revise_target(&kpi, &writer, json!({"value": "60", "year": 2026, "reason": "上方修正"})).await;
        assert_eq!(field(&app.all("/api/v1/kpis?status=behind").await, "id"), [&json!(id)]);
        let etag = app.etag(&path).await;
        assert_eq!(app.send(Method::DELETE, &path, Some(&writer), Some(&etag), None).await.status(), 204);
        assert_eq!(app.json("/api/v1/kpis?status=no_data").await["total"], 45);
    }
}

on_both_backends! {
    /// Search finds a name however it is typed: NFKC, case, katakana/hiragana, and Latin words
    /// by their kana reading.
    async fn search_finds_names_however_they_are_typed(backend) {
        let app = spawn_app(backend).await;
        for query in ["ｱﾕｺ", "アユコ", "あゆこ", "AYUCO", "ａｙｕｃｏ", "Ayuco"] {
            let found = app.all(&format!("/api/v1/kpis?q={query}")).await;
            assert_eq!(field(&found, "name"), [&json!("子育てパスポートAYUCOカード取得率")], "q={query}");
        }
        for query in ["ハザード", "はざーど", "ﾊｻﾞｰﾄﾞ"] {
            let found = app.all(&format!("/api/v1/projects?q={query}")).await;
            assert!(found.iter().any(|p| p["name"] == "オールハザードマップ等作成事業"), "q={query}");
        }
        let wifi = app.all("/api/v1/projects?q=%EF%BD%97%EF%BD%89%EF%BC%8D%EF%BD%86%EF%BD%89").await; // ｗｉ－ｆｉ
        assert_eq!(field(&wifi, "name"), [&json!("公衆無線LAN整備事業")]);
    }
}

on_both_backends! {
    /// The plan carries what catalogues need; an admin completes what the source does not state,
    /// and a KPI writer records where a KPI's figures come from (shown in JSON and CSV).
    async fn the_plan_carries_catalogue_metadata(backend) {
        let app = spawn_app_on(&seeded_database(backend)).await;
        let plan_id = app.json("/api/v1/plans").await["items"][0]["id"].as_i64().unwrap();
        let path = format!("/api/v1/plans/{plan_id}");
        let plan = app.json(&path).await;
        assert_eq!((plan["municipality_code"].clone(), plan["municipality_code_5digit"].clone()), (json!("142123"), json!("14212")));
        assert_eq!((plan["prefecture"].clone(), plan["publisher"].clone()), (json!("神奈川県"), json!("厚木市")));
        assert_eq!(plan["document_title"], "第2期厚木市まち・ひと・しごと創生総合戦略 基本目標別重要業績評価指標（KPI）及び事業一覧");
        assert_eq!(plan["licence"], Value::Null, "not stated by the source: left for the city to set");

        let admin = token(&["admin"], None);
        let terms = json!({"licence": "CC BY 4.0", "licence_url": "https://creativecommons.org/licenses/by/4.0/deed.ja", "published_on": "2021-03-31"});
        let etag = app.etag(&path).await;
        let updated = app.send(Method::PATCH, &path, Some(&admin), Some(&etag), Some(&terms)).await;
        assert_eq!(updated.status(), 200);
        let plan = app.json(&path).await;
        assert_eq!((plan["licence"].clone(), plan["published_on"].clone()), (json!("CC BY 4.0"), json!("2021-03-31")));
        for (bad, field, status) in [
            // Six digits, as the document says, but the check digit is wrong: a rule, not a bound.
            (json!({"municipality_code": "142124"}), "municipality_code", 422),
            (json!({"licence_url": "creativecommons.org"}), "licence_url", 400),
            (json!({"source_url": "javascript:alert(1)"}), "source_url", 400),
            (json!({"published_on": "2021/03/31"}), "published_on", 400),
        ] {
            let etag = app.etag(&path).await;
            let problem = assert_problem(app.send(Method::PATCH, &path, Some(&admin), Some(&etag), Some(&bad)).await, status).await;
            assert_eq!(problem["errors"][0]["field"], field, "{bad}");
        }

        let kpi = format!("/api/v1/kpis/{}", app.json("/api/v1/kpis?code=1-1-2-2").await["items"][0]["id"]);
        let etag = app.etag(&kpi).await;
        let sourced = app.send(Method::PATCH, &kpi, Some(&token(&["kpis:write"], None)), Some(&etag), Some(&json!({"source": "市民意識調査"}))).await;
        assert_eq!(sourced.status(), 200);
        assert_eq!(app.json(&kpi).await["source"], "市民意識調査");
        let csv_text = app.get("/api/v1/kpis?code=1-1-2-2&format=csv").await.text().await.unwrap();
        assert!(csv_text.lines().next().unwrap().split(',').any(|column| column == "source"));
        assert!(csv_text.contains("市民意識調査"));
    }
}
