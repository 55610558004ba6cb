//! `sort` on every collection: each sortable field, ascending and descending, in pairs, across
//! pages, on both backends; the two backends give the same order; unknown fields are named.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use strategy_api::dataset::Dataset;
use strategy_api::db::{self, seed, Database};

use crate::helpers::{
    assert_problem, claims, postgres_server_url, seeded_database, sign, spawn_app, spawn_app_on, Backend, TestApp,
    TEST_SECRET,
};

/// A sortable collection: its path, whether reading it needs an admin, and each sort field with
/// where its value is in an item (a JSON pointer).
struct Collection {
    path: String,
    admin_only: bool,
    fields: Vec<(&'static str, &'static str)>,
}

/// Every collection with a `sort` parameter and, for each allowed field, its JSON value.
fn collections(plan: i64) -> Vec<Collection> {
    let listed = |path: &str, fields: &[(&'static str, &'static str)]| Collection {
        path: path.to_string(),
        admin_only: false,
        fields: fields.to_vec(),
    };
    vec![
        listed(
            "/api/v1/plans",
            &[
                ("id", "/id"),
                ("code", "/code"),
                ("name", "/name"),
                ("period_start_year", "/period_start_year"),
                ("period_end_year", "/period_end_year"),
                ("updated_at", "/updated_at"),
            ],
        ),
        listed(
            "/api/v1/goals",
            &[
                ("id", "/id"),
                ("code", "/code"),
                ("number", "/number"),
                ("category", "/category"),
                ("title", "/title"),
                ("updated_at", "/updated_at"),
            ],
        ),
        listed(
            "/api/v1/measures",
            &[
                ("id", "/id"),
                ("code", "/code"),
                ("number", "/number"),
                ("title", "/title"),
                ("goal_id", "/goal_id"),
                ("updated_at", "/updated_at"),
            ],
        ),
        listed(
            "/api/v1/initiatives",
            &[
                ("id", "/id"),
                ("code", "/code"),
                ("number", "/number"),
                ("title", "/title"),
                ("measure_id", "/measure_id"),
                ("updated_at", "/updated_at"),
            ],
        ),
        listed(
            "/api/v1/kpis",
            &[
                ("id", "/id"),
                ("code", "/code"),
                ("name", "/name"),
                ("unit", "/unit"),
                ("cumulative", "/cumulative"),
                ("direction", "/direction"),
                ("initiative_id", "/initiative_id"),
                ("baseline_year", "/baseline/year"),
                ("target_year", "/target/year"),
                ("updated_at", "/updated_at"),
            ],
        ),
        listed(
            "/api/v1/projects",
            &[
                ("id", "/id"),
                ("code", "/code"),
                ("name", "/name"),
                ("account", "/account"),
                ("updated_at", "/updated_at"),
            ],
        ),
        listed(
            "/api/v1/departments",
            &[
                ("id", "/id"),
                ("code", "/code"),
                ("name", "/name"),
                ("updated_at", "/updated_at"),
            ],
        ),
        listed(
            "/api/v1/divisions",
            &[
                ("id", "/id"),
                ("code", "/code"),
                ("name", "/name"),
                ("department_id", "/department_id"),
                ("updated_at", "/updated_at"),
            ],
        ),
        listed(
            &format!("/api/v1/plans/{plan}/evaluations"),
            &[
                ("id", "/id"),
                ("fiscal_year", "/fiscal_year"),
                ("title", "/title"),
                ("created_at", "/created_at"),
            ],
        ),
        Collection {
            path: "/api/v1/webhooks".to_string(),
            admin_only: true,
            fields: vec![
                ("id", "/id"),
                ("url", "/url"),
                ("status", "/status"),
                ("created_at", "/created_at"),
                ("updated_at", "/updated_at"),
            ],
        },
        // The first subscription of `prepared_app`, which every change after it reaches.
        Collection {
            path: "/api/v1/webhooks/1/deliveries".to_string(),
            admin_only: true,
            fields: vec![("id", "/id"), ("created_at", "/created_at")],
        },
        Collection {
            path: "/api/v1/audit".to_string(),
            admin_only: true,
            fields: vec![
                ("id", "/id"),
                ("occurred_at", "/occurred_at"),
                ("subject", "/subject"),
                ("resource", "/resource"),
                ("record_id", "/record_id"),
                ("operation", "/operation"),
            ],
        },
    ]
}

/// A sort field's value as the databases compare it: numbers and booleans by value, times by
/// instant, text by code point (SQLite's BINARY collation, Postgres's "C").
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Bool(bool),
    Number(i64),
    Time(chrono::DateTime<chrono::FixedOffset>),
    Text(String),
}

fn key(item: &Value, pointer: &str) -> Option<Key> {
    let value = item
        .pointer(pointer)
        .unwrap_or_else(|| panic!("no {pointer} in {item}"));
    match value {
        Value::Null => None,
        Value::Bool(value) => Some(Key::Bool(*value)),
        Value::Number(number) => Some(Key::Number(number.as_i64().expect("integer sort field"))),
        Value::String(text) if pointer.ends_with("_at") => Some(Key::Time(
            chrono::DateTime::parse_from_rfc3339(text).unwrap_or_else(|_| panic!("time {text}")),
        )),
        Value::String(text) => Some(Key::Text(text.clone())),
        other => panic!("{pointer} is not a sortable value: {other}"),
    }
}

fn id(item: &Value) -> i64 {
    item["id"].as_i64().expect("id")
}

/// The ids of `items` in the order `sort` asks for: an empty value (NULL) before every value
/// going up and after every value going down, on both backends; ties broken by ascending id.
fn expected_order(items: &[Value], sort: &[(&str, bool)]) -> Vec<i64> {
    let mut sorted: Vec<&Value> = items.iter().collect();
    sorted.sort_by(|a, b| {
        for (pointer, descending) in sort {
            // `None < Some(_)`: an empty value sorts as the smallest.
            let order = key(a, pointer).cmp(&key(b, pointer));
            let order = if *descending { order.reverse() } else { order };
            if order != Ordering::Equal {
                return order;
            }
        }
        id(a).cmp(&id(b))
    });
    sorted.into_iter().map(id).collect()
}

fn sort_parameter(fields: &[(&str, bool)]) -> String {
    fields
        .iter()
        .map(|(field, descending)| format!("{}{field}", if *descending { "-" } else { "" }))
        .collect::<Vec<_>>()
        .join(",")
}

/// A token of an admin with this subject (the audit records who wrote).
fn admin_as(subject: &str) -> String {
    let mut claims = claims(&["admin"], None);
    claims["sub"] = subject.into();
    sign(&claims, TEST_SECRET)
}

async fn read(app: &TestApp, path: &str, token: Option<&str>) -> reqwest::Response {
    app.send(Method::GET, path, token, None, None).await
}

/// Every item of a collection, in the order asked for, following the pages of `limit`.
async fn listing(app: &TestApp, collection: &Collection, sort: &str, limit: usize) -> Vec<Value> {
    let token = collection.admin_only.then(|| admin_as("reader"));
    let mut items = Vec::new();
    loop {
        let path = format!("{}?sort={sort}&limit={limit}&offset={}", collection.path, items.len());
        let response = read(app, &path, token.as_deref()).await;
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(status, 200, "GET {path}: {text}");
        let page: Value = serde_json::from_str(&text).unwrap();
        let batch = page["items"].as_array().unwrap().clone();
        let total = page["total"].as_u64().unwrap() as usize;
        let done = batch.is_empty();
        items.extend(batch);
        if items.len() >= total || done {
            assert_eq!(items.len(), total, "GET {path}");
            return items;
        }
    }
}

/// Writes that give every sort field something to order: webhook subscriptions (which the writes
/// then give deliveries), a record of each kind changed (so `updated_at` differ and some texts tie
/// or mix scripts, widths and case), two more plans, three evaluations, and audit records by three
/// subjects. The same on every backend.
async fn prepared_app(backend: Backend) -> (TestApp, i64) {
    prepared_app_on(&seeded_database(backend)).await
}

/// The app over a seeded database, after the writes of `prepared_app`.
async fn prepared_app_on(database_url: &str) -> (TestApp, i64) {
    let app = spawn_app_on(database_url).await;
    let nth = |collection: &'static str, n: usize| {
        let app = &app;
        async move {
            let items = app.all(&format!("/api/v1/{collection}")).await;
            format!("/api/v1/{collection}/{}", id(&items[n]))
        }
    };
    for (url, status) in [
        ("https://hooks.example.jp/strategy", "active"),
        ("https://a.example.jp/hook", "paused"),
        ("https://hooks.example.jp/strategy", "paused"),
    ] {
        let body = json!({"url": url, "status": status});
        let response = app
            .send(
                Method::POST,
                "/api/v1/webhooks",
                Some(&admin_as("suzuki")),
                None,
                Some(&body),
            )
            .await;
        assert_eq!(response.status(), 201, "POST webhook {body}");
    }
    let first_category = app.all("/api/v1/goals").await[0]["category"].clone();
    let changes = [
        ("tanaka", nth("goals", 2).await, json!({"category": first_category})),
        ("tanaka", nth("measures", 4).await, json!({"title": "Wi-Fiの整備"})),
        (
            "admin-2",
            nth("initiatives", 8).await,
            json!({"title": "ｱﾕｺ カードの普及"}),
        ),
        (
            "suzuki",
            nth("kpis", 11).await,
            json!({"name": "AYUCOカード取得率", "unit": "%"}),
        ),
        ("suzuki", nth("kpis", 20).await, json!({"source": "市民意識調査"})),
        ("tanaka", nth("projects", 2).await, json!({"account": "一般会計"})),
        ("admin-2", nth("departments", 1).await, json!({"name": "DX推進部"})),
        ("suzuki", nth("divisions", 6).await, json!({"name": "ＤＸ推進課"})),
        ("tanaka", nth("goals", 0).await, json!({"title": "abc: まちづくり"})),
    ];
    for (subject, path, change) in changes {
        let etag = app.etag(&path).await;
        let response = app
            .send(
                Method::PATCH,
                &path,
                Some(&admin_as(subject)),
                Some(&etag),
                Some(&change),
            )
            .await;
        assert_eq!(response.status(), 200, "PATCH {path} {change}");
    }
    // A target moves only by a revision, which the sort then sees like any other write.
    let revised = nth("kpis", 20).await;
    let target = app.json(&revised).await["target"]["value_text"].clone();
    app.revise_target(
        &revised,
        &admin_as("suzuki"),
        json!({"value": target, "year": 2025, "reason": "前倒し"}),
    )
    .await;
    let plans = [
        ("atsugi-3", "第3期厚木市まち・ひと・しごと創生総合戦略", 2027, 2031),
        ("Atsugi-0", "Atsugi Strategy (draft)", 2021, 2025),
    ];
    for (code, name, start, end) in plans {
        let body = json!({
            "code": code, "name": name, "document_title": format!("{name} 基本目標別重要業績評価指標（KPI）"),
            "municipality_code": "142123", "municipality_name": "厚木市", "prefecture": "神奈川県",
            "period_start_year": start, "period_end_year": end,
        });
        let response = app
            .send(
                Method::POST,
                "/api/v1/plans",
                Some(&admin_as("suzuki")),
                None,
                Some(&body),
            )
            .await;
        assert_eq!(response.status(), 201, "POST plan {code}");
    }
    let plan = app.all("/api/v1/plans?code=atsugi-2").await[0]["id"].as_i64().unwrap();
    for (subject, fiscal_year, title) in [
        ("suzuki", 2024, "令和6年度 総合戦略評価"),
        ("tanaka", 2022, "令和4年度 総合戦略評価"),
        ("suzuki", 2024, "Re: 令和6年度 再評価"),
    ] {
        let body = json!({"fiscal_year": fiscal_year, "title": title});
        let path = format!("/api/v1/plans/{plan}/evaluations");
        let response = app
            .send(Method::POST, &path, Some(&admin_as(subject)), None, Some(&body))
            .await;
        assert_eq!(response.status(), 201, "POST {path} {body}");
    }
    (app, plan)
}

/// The fields a collection says it sorts by, from the 400 an unknown field gets.
async fn allowed_fields(app: &TestApp, collection: &Collection) -> Vec<String> {
    let token = collection.admin_only.then(|| admin_as("reader"));
    let path = format!("{}?sort=colour", collection.path);
    let problem = assert_problem(read(app, &path, token.as_deref()).await, 400).await;
    assert_eq!(problem["errors"][0]["field"], "sort", "{problem}");
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains("`sort`") && detail.contains("`colour`"), "{detail}");
    let list = detail
        .split("sort by ")
        .nth(1)
        .unwrap_or_else(|| panic!("GET {path}: {detail}"));
    list.split(", ").map(str::to_string).collect()
}

on_both_backends! {
    /// Every collection lists the fields it sorts by (each covered here), and orders by each of
    /// them, ascending and descending, by the field's JSON value: numbers by value, times by
    /// instant, text by code point, ties by ascending id, an empty value first going up and last
    /// going down.
    async fn every_sort_field_of_every_collection_orders_by_its_value(backend) {
        let (app, plan) = prepared_app(backend).await;
        for collection in collections(plan) {
            let allowed = allowed_fields(&app, &collection).await;
            let covered: Vec<String> = collection.fields.iter().map(|(field, _)| field.to_string()).collect();
            assert_eq!(covered, allowed, "sort fields of {}", collection.path);

            let unsorted = listing(&app, &collection, "id", 500).await;
            assert!(unsorted.len() >= 2, "{} has something to order", collection.path);
            for (field, pointer) in &collection.fields {
                let distinct: BTreeSet<Option<Key>> = unsorted.iter().map(|item| key(item, pointer)).collect();
                assert!(
                    distinct.len() >= 2,
                    "{}: every value of `{field}` is the same, so its order proves nothing",
                    collection.path
                );
                for descending in [false, true] {
                    let sort = [(*pointer, descending)];
                    let parameter = sort_parameter(&[(field, descending)]);
                    let actual: Vec<i64> = listing(&app, &collection, &parameter, 500).await.iter().map(id).collect();
                    let expected = expected_order(&unsorted, &sort);
                    assert!(
                        actual == expected,
                        "{}?sort={parameter}:\n actual   {actual:?}\n expected {expected:?}",
                        collection.path
                    );
                }
            }
        }
    }
}

on_both_backends! {
    /// `sort=a,-b`: the second field orders the ties of the first, whichever two fields.
    async fn two_sort_fields_order_by_the_first_then_the_second(backend) {
        let (app, plan) = prepared_app(backend).await;
        for collection in collections(plan) {
            let unsorted = listing(&app, &collection, "id", 500).await;
            for (first, first_pointer) in &collection.fields {
                for (second, second_pointer) in &collection.fields {
                    if first == second || *first == "id" {
                        continue;
                    }
                    let parameter = sort_parameter(&[(first, false), (second, true)]);
                    let actual: Vec<i64> = listing(&app, &collection, &parameter, 500).await.iter().map(id).collect();
                    let sort = [(*first_pointer, false), (*second_pointer, true)];
                    let expected = expected_order(&unsorted, &sort);
                    assert!(
                        actual == expected,
                        "{}?sort={parameter}:\n actual   {actual:?}\n expected {expected:?}",
                        collection.path
                    );
                }
            }
        }
    }
}

on_both_backends! {
    /// Sorting by a field with many ties, small pages still cover every record exactly once in
    /// the same order as one big page: the id breaks the ties.
    async fn pages_of_a_sorted_collection_never_overlap(backend) {
        let (app, plan) = prepared_app(backend).await;
        for collection in collections(plan) {
            let field = collection.fields.last().unwrap().0;
            for parameter in [format!("-{field}"), collection.fields[1].0.to_string()] {
                let whole: Vec<i64> = listing(&app, &collection, &parameter, 500).await.iter().map(id).collect();
                let paged: Vec<i64> = listing(&app, &collection, &parameter, 2).await.iter().map(id).collect();
                assert_eq!(paged, whole, "{}?sort={parameter} in pages of 2", collection.path);
            }
        }
    }
}

on_both_backends! {
    /// An unknown field, wherever it stands and with or without `-`, is a 400 problem that names
    /// it and every field the collection sorts by; so are an empty part and a field given twice.
    async fn an_unknown_sort_field_is_a_400_naming_the_sortable_fields(backend) {
        let app = spawn_app(backend).await;
        let admin = admin_as("reader");
        for collection in collections(1) {
            let allowed: Vec<&str> = collection.fields.iter().map(|(field, _)| *field).collect();
            let token = collection.admin_only.then_some(admin.as_str());
            for sort in ["colour", "-colour", "id,colour", "-id,-colour", "id,,code", "Id", "id,id", "-id,-id", "+id", " id"] {
                let path = format!("{}?{}", collection.path, url::form_urlencoded::Serializer::new(String::new()).append_pair("sort", sort).finish());
                let problem = assert_problem(read(&app, &path, token).await, 400).await;
                assert_eq!(problem["errors"].as_array().unwrap().len(), 1, "{problem}");
                assert_eq!(problem["errors"][0]["field"], "sort", "{problem}");
                let detail = problem["detail"].as_str().unwrap();
                if sort.contains("colour") {
                    assert!(detail.contains("`colour`"), "{path}: {detail}");
                }
                if !["id,id", "-id,-id"].contains(&sort) {
                    assert!(detail.contains(&allowed.join(", ")), "{path}: {detail}");
                }
            }
        }
    }
}

/// The collections the OpenAPI document gives a `sort` parameter are exactly those above.
#[tokio::test]
async fn every_collection_with_a_sort_parameter_is_covered() {
    let app = spawn_app(Backend::Sqlite).await;
    let document = app.json("/openapi.json").await;
    let mut documented: Vec<String> = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        let parameters = item["get"]["parameters"].as_array().cloned().unwrap_or_default();
        if parameters
            .iter()
            .any(|parameter| parameter["name"] == "sort" && parameter["in"] == "query")
        {
            documented.push(path.replace("{id}", "1"));
        }
    }
    documented.sort();
    let mut covered: Vec<String> = collections(1).into_iter().map(|collection| collection.path).collect();
    covered.sort();
    assert_eq!(documented, covered);
}

/// SQLite and Postgres give the same order for every sort of every collection, NULLs included
/// (SQL leaves their place to each database), over the same records.
#[tokio::test]
async fn sqlite_and_postgres_sort_alike() {
    if postgres_server_url().is_none() {
        eprintln!("skipped: TEST_POSTGRES_URL is not set");
        return;
    }
    assert_same_order_as_on_sqlite(&seeded_database(Backend::Postgres)).await;
}

/// Every sort of every collection lists the same records in the same order on this Postgres
/// database as on SQLite, after the same writes on both.
async fn assert_same_order_as_on_sqlite(postgres_url: &str) {
    let (sqlite, plan) = prepared_app(Backend::Sqlite).await;
    let (postgres, postgres_plan) = prepared_app_on(postgres_url).await;
    assert_eq!(plan, postgres_plan);
    let mut differences = Vec::new();
    for collection in collections(plan) {
        // The ids compared below name the same records on both.
        let identities = |items: Vec<Value>| items.iter().map(|item| (id(item), identity(item))).collect::<Vec<_>>();
        assert_eq!(
            identities(listing(&sqlite, &collection, "id", 500).await),
            identities(listing(&postgres, &collection, "id", 500).await),
            "{} holds the same records with the same ids on both backends",
            collection.path
        );
        let values = listing(&sqlite, &collection, "id", 500).await;
        for (field, pointer) in &collection.fields {
            for parameter in [field.to_string(), format!("-{field}")] {
                let order = |items: Vec<Value>| items.iter().map(id).collect::<Vec<_>>();
                let on_sqlite = order(listing(&sqlite, &collection, &parameter, 500).await);
                let on_postgres = order(listing(&postgres, &collection, &parameter, 500).await);
                if let Some(first) = on_sqlite.iter().zip(&on_postgres).position(|(a, b)| a != b) {
                    let shown = |wanted: i64| {
                        let item = values.iter().find(|item| id(item) == wanted).unwrap();
                        format!("{wanted} ({})", item.pointer(pointer).unwrap())
                    };
                    differences.push(format!(
                        "{}?sort={parameter}: at {first} sqlite has {}, postgres {}",
                        collection.path,
                        shown(on_sqlite[first]),
                        shown(on_postgres[first])
                    ));
                }
            }
        }
    }
    assert!(
        differences.is_empty(),
        "the backends order differently:\n{}",
        differences.join("\n")
    );
}

/// What a record is, whatever its id: its code, or its title, or what an audit record says.
fn identity(item: &Value) -> String {
    match (&item["code"], &item["title"]) {
        (Value::String(code), _) => code.clone(),
        (_, Value::String(title)) => title.clone(),
        _ => format!(
            "{} {} {} by {}",
            item["operation"], item["resource"], item["record_id"], item["subject"]
        ),
    }
}

/// A Postgres database of its own, dropped when the test ends (or by the next run, if it fails).
struct OwnDatabase {
    server: String,
    name: String,
}

impl OwnDatabase {
    /// Created with `options`, then migrated and seeded.
    fn create(suffix: &str, options: &str) -> (OwnDatabase, String) {
        let server = postgres_server_url().expect("TEST_POSTGRES_URL");
        let name = format!("strategy_test_{}_{suffix}", std::process::id());
        postgres_admin(&server, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        postgres_admin(&server, &format!("CREATE DATABASE {name} {options}"));
        let mut url = url::Url::parse(&server).unwrap();
        url.set_path(&name);
        let url = url.to_string();
        Database::new(&url, 2, Duration::from_secs(10))
            .run_blocking(|conn| {
                db::migrate(conn)?;
                seed::seed(conn, &Dataset::atsugi_2())
            })
            .expect("database migrated and seeded");
        (OwnDatabase { server, name }, url)
    }
}

impl Drop for OwnDatabase {
    fn drop(&mut self) {
        postgres_admin(
            &self.server,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

fn postgres_admin(server: &str, statement: &str) {
    use diesel::connection::SimpleConnection;
    use diesel::Connection;
    let mut conn = diesel::PgConnection::establish(server).expect("TEST_POSTGRES_URL reachable");
    conn.batch_execute(statement)
        .unwrap_or_else(|error| panic!("{statement}: {error}"));
}

/// Sorts do not depend on how the Postgres server was set up: on a database whose default
/// collation is Japanese (as `initdb --locale=ja_JP.UTF-8` or an ICU locale gives; it puts
/// `abc` before `ABC` and interleaves hiragana and katakana), every collection still orders as
/// on SQLite, text by code point.
#[tokio::test]
async fn text_sorts_do_not_depend_on_the_postgres_default_collation() {
    if postgres_server_url().is_none() {
        eprintln!("skipped: TEST_POSTGRES_URL is not set");
        return;
    }
    let (_database, url) = OwnDatabase::create(
        "collation",
        "TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'ja-JP' LOCALE 'C.UTF-8'",
    );
    assert_same_order_as_on_sqlite(&url).await;
}
