//! The write API: tokens and scopes, department limits, validation, preconditions, dependents,
//! read-only instances, and the audit record and change feed that every write leaves.

use std::time::Duration;

use reqwest::{Method, Response};
use serde_json::{json, Value};
use strategy_api::db::{self, Database};

use crate::helpers::{
    assert_problem, base64url, claims, failing_fields, fields_of, latest_cursor, refused_fields, seeded_database, sign,
    spawn_app_on, spawn_read_only_app_on, token, TestApp, TEST_SECRET,
};

/// Every writable collection.
const COLLECTIONS: [&str; 8] = [
    "plans",
    "goals",
    "measures",
    "initiatives",
    "kpis",
    "departments",
    "divisions",
    "projects",
];

/// The scope that writes a collection (admin may write everything).
fn scope_of(collection: &str) -> &'static str {
    match collection {
        "kpis" => "kpis:write",
        "projects" => "projects:write",
        _ => "admin",
    }
}

/// Valid tokens that must not write a collection.
fn wrong_scopes(collection: &str) -> Vec<&'static str> {
    match collection {
        "kpis" => vec!["projects:write", "profile"],
        "projects" => vec!["kpis:write", "profile"],
        _ => vec!["kpis:write", "projects:write", "profile"],
    }
}

/// The singular name of the feed and the audit record: `kpis` → `kpi`.
fn resource_of(collection: &str) -> &str {
    collection.strip_suffix('s').unwrap()
}

/// The text field a small edit changes.
fn text_field(collection: &str) -> &'static str {
    match collection {
        "goals" | "measures" | "initiatives" => "title",
        _ => "name",
    }
}

fn rename(collection: &str, text: &str) -> Value {
    json!({ text_field(collection): text })
}

fn item(collection: &str, id: &Value) -> String {
    format!("/api/v1/{collection}/{}", id.as_i64().expect("numeric id"))
}

/// Seeded records that new records refer to.
struct Refs {
    plan: i64,
    goal: i64,
    measure: i64,
    initiative: i64,
    department: i64,
    division: i64,
}

async fn id_of(app: &TestApp, path: &str) -> i64 {
    let page = app.json(path).await;
    assert_eq!(page["total"], 1, "{path}: {page}");
    page["items"][0]["id"].as_i64().unwrap()
}

async fn refs(app: &TestApp) -> Refs {
    Refs {
        plan: id_of(app, "/api/v1/plans?code=atsugi-2").await,
        goal: id_of(app, "/api/v1/goals?code=1").await,
        measure: id_of(app, "/api/v1/measures?code=1-1").await,
        initiative: id_of(app, "/api/v1/initiatives?code=1-1-1").await,
        department: id_of(app, "/api/v1/departments?code=D01").await,
        division: id_of(app, "/api/v1/divisions?code=D01-01").await,
    }
}

/// A valid POST body of a collection; `n` keeps codes and names unique.
fn body(collection: &str, refs: &Refs, n: u32) -> Value {
    match collection {
        "plans" => json!({
            "code": format!("test-plan-{n}"),
            "name": format!("第{n}期テスト戦略"),
            "document_title": "テスト戦略 基本目標別重要業績評価指標（KPI）及び事業一覧",
            "municipality_code": "142123",
            "municipality_name": "厚木市",
            "prefecture": "神奈川県",
            "period_start_year": 2027,
            "period_end_year": 2031,
        }),
        "goals" => json!({
            "plan_id": refs.plan, "code": format!("9{n}"), "number": 9,
            "category": "テスト", "title": format!("テストの基本目標{n}"),
        }),
        "measures" => json!({
            "goal_id": refs.goal, "code": format!("1-9{n}"), "number": 9,
            "title": format!("テストの施策{n}"),
        }),
        "initiatives" => json!({
            "measure_id": refs.measure, "code": format!("1-1-9{n}"), "number": 9,
            "title": format!("テストの取組{n}"),
        }),
        "kpis" => json!({
            "initiative_id": refs.initiative, "code": format!("1-1-1-9{n}"),
            "name": format!("テスト指標{n}"), "unit": "件",
            "baseline": {"value": "10", "year": 2019, "year_type": "fiscal"},
            "target": {"value": "20", "year": 2026, "year_type": "fiscal"},
        }),
        "departments" => json!({
            "plan_id": refs.plan, "code": format!("T{n}"), "name": format!("テスト部{n}"),
        }),
        "divisions" => json!({
            "department_id": refs.department, "code": format!("T-{n}"), "name": format!("テスト課{n}"),
        }),
        "projects" => json!({
            "plan_id": refs.plan, "code": format!("T{n}"), "name": format!("テスト事業{n}"),
            "account": null,
            "divisions": [refs.division],
            "appearances": [{"initiative_id": refs.initiative, "description": "テストのための事業です。"}],
        }),
        other => panic!("no body for {other}"),
    }
}

/// `base` with `changes` laid over it: objects merge, anything else (null too) replaces.
fn with(base: &Value, changes: Value) -> Value {
    let mut merged = base.clone();
    if let (Value::Object(target), Value::Object(changes)) = (&mut merged, changes) {
        for (key, value) in changes {
            let next = match target.get(&key) {
                Some(old) if old.is_object() && value.is_object() => with(old, value),
                _ => value,
            };
            target.insert(key, next);
        }
    }
    merged
}

/// POSTs a record that must be created; checks the 201 response against a following GET.
async fn create(app: &TestApp, collection: &str, token: &str, body: &Value) -> Value {
    let response = app
        .send(
            Method::POST,
            &format!("/api/v1/{collection}"),
            Some(token),
            None,
            Some(body),
        )
        .await;
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    assert_eq!(status, 201, "POST /api/v1/{collection}: {text}");
    let created: Value = serde_json::from_str(&text).unwrap();
    let path = item(collection, &created["id"]);
    assert_eq!(headers["location"], path.as_str());
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(created["version"], 1, "{created}");
    assert_eq!(created, app.json(&path).await, "the 201 body is what GET returns");
    assert_eq!(headers["etag"].to_str().unwrap(), app.etag(&path).await);
    created
}

/// PATCHes a record under its current ETag; must answer 200 with the body and ETag of a following GET.
async fn patch(app: &TestApp, path: &str, token: &str, changes: &Value) -> Value {
    let etag = app.etag(path).await;
    let response = app
        .send(Method::PATCH, path, Some(token), Some(&etag), Some(changes))
        .await;
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    assert_eq!(status, 200, "PATCH {path} {changes}: {text}");
    let patched: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(patched, app.json(path).await, "the 200 body is what GET returns");
    let new_etag = headers["etag"].to_str().unwrap().to_string();
    assert_eq!(new_etag, app.etag(path).await);
    assert_ne!(new_etag, etag, "a write changes the ETag");
    patched
}

/// DELETEs a record under its current ETag; must answer 204, and the record is gone.
async fn delete(app: &TestApp, path: &str, token: &str) {
    let etag = app.etag(path).await;
    let response = app.send(Method::DELETE, path, Some(token), Some(&etag), None).await;
    assert_eq!(
        response.status(),
        204,
        "DELETE {path}: {}",
        response.text().await.unwrap()
    );
    assert_problem(app.get(path).await, 404).await;
}

/// A request with a raw body and content type.
async fn send_raw(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    if_match: Option<&str>,
    content_type: Option<&str>,
    body: &str,
) -> Response {
    let mut request = app.client.request(method, app.url(path)).bearer_auth(token);
    if let Some(if_match) = if_match {
        request = request.header("If-Match", if_match);
    }
    if let Some(content_type) = content_type {
        request = request.header("Content-Type", content_type);
    }
    request.body(body.to_string()).send().await.expect("request sent")
}

fn sorted(fields: &[&str]) -> Vec<String> {
    let mut fields: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
    fields.sort();
    fields
}

fn unsigned_token(claims: &Value) -> String {
    let header = base64url(br#"{"alg":"none","typ":"JWT"}"#);
    assert_eq!(header, "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0");
    let payload = base64url(claims.to_string().as_bytes());
    // The same claims signed for real carry the same payload: the encoder is right.
    assert_eq!(sign(claims, TEST_SECRET).split('.').nth(1), Some(payload.as_str()));
    format!("{header}.{payload}.")
}

/// A correctly signed token with these scopes whose `jti` is revoked in the database.
fn revoked_token(database_url: &str, scopes: &[&str]) -> String {
    let claims = claims(scopes, None);
    let jti = claims["jti"].as_str().unwrap().to_string();
    Database::new(database_url, 2, Duration::from_secs(10))
        .run_blocking(|conn| strategy_api::db::write::revoke_token(conn, "", &jti, db::now()))
        .expect("token revoked");
    sign(&claims, TEST_SECRET)
}

/// Tokens every write must refuse with 401: (case, token, whether `error="invalid_token"`).
fn bad_tokens(scope: &str, revoked: &str) -> Vec<(&'static str, Option<String>, bool)> {
    let now = chrono::Utc::now().timestamp();
    let spoiled = |change: &dyn Fn(&mut Value)| {
        let mut claims = claims(&[scope], None);
        change(&mut claims);
        sign(&claims, TEST_SECRET)
    };
    vec![
        ("no token", None, false),
        ("malformed", Some("not-a-jwt".to_string()), true),
        (
            "wrong signature",
            Some(sign(&claims(&[scope], None), "another-secret-of-more-than-32-bytes!")),
            true,
        ),
        (
            "expired",
            Some(spoiled(&|c| {
                c["iat"] = (now - 7200).into();
                c["nbf"] = (now - 7200).into();
                c["exp"] = (now - 120).into();
            })),
            true,
        ),
        ("not yet valid", Some(spoiled(&|c| c["nbf"] = (now + 300).into())), true),
        ("alg none", Some(unsigned_token(&claims(&[scope], None))), true),
        (
            "wrong audience",
            Some(spoiled(&|c| c["aud"] = "another-api".into())),
            true,
        ),
        (
            "wrong issuer",
            Some(spoiled(&|c| c["iss"] = "someone-else".into())),
            true,
        ),
        (
            "missing jti",
            Some(spoiled(&|c| {
                c.as_object_mut().unwrap().remove("jti");
            })),
            true,
        ),
        ("revoked", Some(revoked.to_string()), true),
    ]
}

/// A 401 problem with the RFC 6750 challenge, which never echoes the token.
async fn assert_unauthorized(response: Response, invalid_token: bool, token: Option<&str>, case: &str) {
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    assert_eq!(status, 401, "{case}: {text}");
    assert_eq!(headers["content-type"], "application/problem+json", "{case}");
    let challenge = headers
        .get("www-authenticate")
        .unwrap_or_else(|| panic!("{case}: no WWW-Authenticate"))
        .to_str()
        .unwrap();
    if invalid_token {
        assert!(
            challenge.starts_with(r#"Bearer realm="strategy-api""#) && challenge.contains(r#"error="invalid_token""#),
            "{case}: {challenge}"
        );
    } else {
        assert_eq!(challenge, r#"Bearer realm="strategy-api""#, "{case}");
    }
    if let Some(token) = token {
        for part in token.split('.').filter(|part| part.len() > 8) {
            assert!(!text.contains(part), "{case}: the problem echoes the token: {text}");
        }
    }
    let problem: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(problem["status"], 401, "{case}");
}

on_both_backends! {
    /// Every POST, PATCH and DELETE of the 8 resources refuses each kind of bad token with 401 and
    /// a valid token without the scope with 403, changing nothing; the right scope creates, patches
    /// and deletes a fresh record.
    async fn every_write_endpoint_refuses_bad_tokens_and_wrong_scopes(backend) {
        let url = seeded_database(backend);
        let app = spawn_app_on(&url).await;
        let refs = refs(&app).await;
        let start = latest_cursor(&app).await;
        for collection in COLLECTIONS {
            let scope = scope_of(collection);
            let right = token(&[scope], None);
            let record = create(&app, collection, &right, &body(collection, &refs, 1)).await;
            let path = item(collection, &record["id"]);
            let etag = app.etag(&path).await;
            let revoked = revoked_token(&url, &[scope]);
            let another = body(collection, &refs, 2);
            let edit = rename(collection, "変更後の名称");
            let writes = [
                (Method::POST, format!("/api/v1/{collection}"), None, Some(&another)),
                (Method::PATCH, path.clone(), Some(etag.as_str()), Some(&edit)),
                (Method::DELETE, path.clone(), Some(etag.as_str()), None),
            ];
            for (method, target, if_match, payload) in &writes {
                for (case, bad, invalid) in bad_tokens(scope, &revoked) {
                    let response = app.send(method.clone(), target, bad.as_deref(), *if_match, *payload).await;
                    assert_unauthorized(response, invalid, bad.as_deref(), &format!("{case}: {method} {target}")).await;
                }
                for wrong in wrong_scopes(collection) {
                    let response = app.send(method.clone(), target, Some(&token(&[wrong], None)), *if_match, *payload).await;
                    let problem = assert_problem(response, 403).await;
                    assert!(problem["detail"].as_str().unwrap().contains(scope), "{wrong}: {method} {target}: {problem}");
                }
            }
            assert_eq!(app.json(&path).await, record, "refused writes changed nothing");
            assert_eq!(app.json(&format!("/api/v1/{collection}?code={}", another["code"].as_str().unwrap())).await["total"], 0);

            let patched = patch(&app, &path, &right, &edit).await;
            assert_eq!(patched[text_field(collection)], "変更後の名称");
            assert_eq!(patched["version"], 2);
            delete(&app, &path, &right).await;
        }
        // Admin may write every resource.
        let admin = token(&["admin"], None);
        for collection in ["kpis", "projects"] {
            let record = create(&app, collection, &admin, &body(collection, &refs, 3)).await;
            let path = item(collection, &record["id"]);
            patch(&app, &path, &admin, &rename(collection, "管理者による変更")).await;
            delete(&app, &path, &admin).await;
        }

        // Only the accepted writes reached the feed: create, update, delete of each resource.
        let changes = app.json(&format!("/api/v1/changes?since={start}")).await;
        let seen: Vec<(String, String)> = changes["items"].as_array().unwrap().iter()
            .map(|c| (c["resource"].as_str().unwrap().to_string(), c["operation"].as_str().unwrap().to_string()))
            .collect();
        let mut expected = Vec::new();
        for collection in COLLECTIONS.into_iter().chain(["kpis", "projects"]) {
            for operation in ["create", "update", "delete"] {
                expected.push((resource_of(collection).to_string(), operation.to_string()));
            }
        }
        assert_eq!(seen, expected);
    }
}

on_both_backends! {
    /// `nbf` up to the 30 s leeway in the future is still accepted (clock skew), beyond it not.
    async fn not_before_is_checked_with_the_clock_leeway(backend) {
        let app = spawn_app_on(&seeded_database(backend)).await;
        let refs = refs(&app).await;
        let now = chrono::Utc::now().timestamp();
        let mut soon = claims(&["admin"], None);
        soon["nbf"] = (now + 10).into();
        create(&app, "goals", &sign(&soon, TEST_SECRET), &body("goals", &refs, 1)).await;
        let mut later = claims(&["admin"], None);
        later["nbf"] = (now + 90).into();
        let token = sign(&later, TEST_SECRET);
        let response = app.send(Method::POST, "/api/v1/goals", Some(&token), None, Some(&body("goals", &refs, 2))).await;
        assert_unauthorized(response, true, Some(&token), "nbf 90 s ahead").await;
    }
}

on_both_backends! {
    /// A revoked token is a 401 whatever else is wrong with the request: it never learns whether
    /// it has the scope, whether its If-Match is missing or whether its body is valid.
    async fn revoked_tokens_are_refused_before_anything_else_is_checked(backend) {
        let url = seeded_database(backend);
        let app = spawn_app_on(&url).await;
        let refs = refs(&app).await;
        let revoked = revoked_token(&url, &["kpis:write"]);
        let kpi = id_of(&app, "/api/v1/kpis?code=1-1-1-1").await;
        let path = format!("/api/v1/kpis/{kpi}");
        let cases = [
            ("without the scope", Method::POST, "/api/v1/goals".to_string(), None, Some(body("goals", &refs, 1))),
            ("PATCH without If-Match", Method::PATCH, path.clone(), None, Some(json!({"name": "x"}))),
            ("DELETE without If-Match", Method::DELETE, path.clone(), None, None),
            ("invalid body", Method::POST, "/api/v1/kpis".to_string(), None, Some(json!({"code": ""}))),
        ];
        let mut answers = Vec::new();
        for (case, method, target, if_match, payload) in &cases {
            let response = app.send(method.clone(), target, Some(&revoked), *if_match, payload.as_ref()).await;
            answers.push(format!("{case}: {}", response.status().as_u16()));
        }
        let expected: Vec<String> = cases.iter().map(|(case, ..)| format!("{case}: 401")).collect();
        assert_eq!(answers, expected);
        for (case, method, target, if_match, payload) in cases {
            let response = app.send(method, &target, Some(&revoked), if_match, payload.as_ref()).await;
            assert_unauthorized(response, true, Some(&revoked), case).await;
        }
    }
}

/// The project named so, from the full list.
async fn project_named(app: &TestApp, name: &str) -> Value {
    app.all("/api/v1/projects")
        .await
        .into_iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("project {name}"))
}

fn departments_of(project: &Value) -> Vec<i64> {
    project["divisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["department"]["id"].as_i64().unwrap())
        .collect()
}

on_both_backends! {
    /// `projects:write` with a `dept` claim reaches only projects with a responsible division of that
    /// department, before and after the change.
    async fn a_department_token_writes_only_its_departments_projects(backend) {
        let app = spawn_app_on(&seeded_database(backend)).await;
        let refs = refs(&app).await;
        let own = project_named(&app, "国内交流推進事業").await;
        assert_eq!(own["divisions"][0]["department"]["name"], "政策部");
        let dept = own["divisions"][0]["department"]["id"].as_i64().unwrap();
        let own_path = item("projects", &own["id"]);
        let other = app.all("/api/v1/projects").await.into_iter()
            .find(|p| !departments_of(p).contains(&dept))
            .expect("a project of another department");
        let other_path = item("projects", &other["id"]);
        let other_division = other["divisions"][0]["id"].clone();
        let staff = token(&["projects:write"], Some(dept));

        let patched = patch(&app, &own_path, &staff, &json!({"name": "国内交流推進事業（改）"})).await;
        assert_eq!(patched["name"], "国内交流推進事業（改）");

        let etag = app.etag(&other_path).await;
        let response = app.send(Method::PATCH, &other_path, Some(&staff), Some(&etag), Some(&json!({"name": "他部の事業"}))).await;
        assert_problem(response, 403).await;
        let response = app.send(Method::DELETE, &other_path, Some(&staff), Some(&etag), None).await;
        assert_problem(response, 403).await;
        assert_eq!(app.json(&other_path).await, other, "the other department's project is untouched");

        // Handing its own project entirely to another department is refused...
        let before = app.json(&own_path).await;
        let etag = app.etag(&own_path).await;
        let response = app.send(Method::PATCH, &own_path, Some(&staff), Some(&etag), Some(&json!({"divisions": [other_division]}))).await;
        assert_problem(response, 403).await;
        assert_eq!(app.json(&own_path).await, before);
        // ...sharing it with another department is not: the department stays responsible.
        let shared = patch(&app, &own_path, &staff, &json!({"divisions": [refs.division, other_division]})).await;
        assert_eq!(departments_of(&shared), [dept, other["divisions"][0]["department"]["id"].as_i64().unwrap()]);

        // Creating a project only another department is responsible for is refused too.
        let mut foreign = body("projects", &refs, 1);
        foreign["divisions"] = json!([other_division]);
        assert_problem(app.send(Method::POST, "/api/v1/projects", Some(&staff), None, Some(&foreign)).await, 403).await;
        create(&app, "projects", &staff, &body("projects", &refs, 2)).await;
    }
}

on_both_backends! {
    /// Each rule fails with a 400 naming exactly the failing field, and nothing is written.
    async fn each_validation_rule_names_its_field(backend) {
        let app = spawn_app_on(&seeded_database(backend)).await;
        let refs = refs(&app).await;
        let admin = token(&["admin"], None);
        let start = latest_cursor(&app).await;
        let long = |n: usize| "あ".repeat(n);
        // 400: the field does not fit the document; 422: it fits, but a rule of the records refuses it.
        let cases: Vec<(&str, Value, &[&str], u16)> = vec![
            ("plans", json!({"name": ""}), &["name"], 400),
            ("plans", json!({"document_title": long(201)}), &["document_title"], 400),
            ("plans", json!({"municipality_code": "14212"}), &["municipality_code"], 400),
            ("plans", json!({"municipality_code": "14212a"}), &["municipality_code"], 400),
            ("plans", json!({"period_start_year": 1899}), &["period_start_year"], 400),
            ("plans", json!({"period_end_year": 2101}), &["period_end_year"], 400),
            ("plans", json!({"period_end_year": 2026}), &["period_end_year"], 422),
            ("plans", json!({"code": "atsugi-2"}), &["code"], 422),
            ("goals", json!({"title": ""}), &["title"], 400),
            ("goals", json!({"category": "   "}), &["category"], 400),
            ("goals", json!({"title": long(201)}), &["title"], 400),
            ("goals", json!({"code": "x".repeat(51)}), &["code"], 400),
            ("goals", json!({"number": 0}), &["number"], 400),
            ("goals", json!({"number": 1000}), &["number"], 400),
            ("goals", json!({"plan_id": 999999}), &["plan_id"], 422),
            ("goals", json!({"code": "1"}), &["code"], 422),
            ("measures", json!({"goal_id": 999999}), &["goal_id"], 422),
            ("measures", json!({"title": long(201)}), &["title"], 400),
            ("measures", json!({"code": "1-1"}), &["code"], 422),
            ("initiatives", json!({"measure_id": 999999}), &["measure_id"], 422),
            ("initiatives", json!({"code": "1-1-1"}), &["code"], 422),
            ("kpis", json!({"initiative_id": 999999}), &["initiative_id"], 422),
            ("kpis", json!({"name": " "}), &["name"], 400),
            ("kpis", json!({"unit": "x".repeat(51)}), &["unit"], 400),
            ("kpis", json!({"code": "1-1-1-1"}), &["code"], 422),
            ("kpis", json!({"baseline": {"year": 1899}}), &["baseline.year"], 400),
            ("kpis", json!({"target": {"year": 2101}}), &["target.year"], 400),
            ("kpis", json!({"target": {"year": 2018}}), &["target.year"], 422),
            ("kpis", json!({"baseline": {"value": "1,000"}}), &["baseline.value"], 400),
            ("kpis", json!({"target": {"value": "1e3"}}), &["target.value"], 400),
            ("kpis", json!({"target": {"value": ".5"}}), &["target.value"], 400),
            ("kpis", json!({"target": {"value": null}}), &["target.value"], 422),
            ("kpis", json!({"baseline": {"year_type": "yearly"}}), &["baseline.year_type"], 400),
            ("kpis", json!({"direction": "decrease"}), &["direction"], 422),
            ("departments", json!({"plan_id": 999999}), &["plan_id"], 422),
            ("departments", json!({"name": ""}), &["name"], 400),
            ("departments", json!({"code": "D01"}), &["code"], 422),
            ("divisions", json!({"department_id": 999999}), &["department_id"], 422),
            ("divisions", json!({"code": "D01-01"}), &["code"], 422),
            ("projects", json!({"name": long(201)}), &["name"], 400),
            ("projects", json!({"name": "国内交流推進事業"}), &["name"], 422),
            ("projects", json!({"code": "P001"}), &["code"], 422),
            ("projects", json!({"divisions": []}), &["divisions"], 400),
            ("projects", json!({"divisions": [999999]}), &["divisions[0]"], 422),
            ("projects", json!({"appearances": []}), &["appearances"], 400),
            ("projects", json!({"appearances": [{"initiative_id": 999999, "description": "説明"}]}), &["appearances[0].initiative_id"], 422),
            ("projects", json!({"appearances": [{"initiative_id": refs.initiative, "description": long(2001)}]}), &["appearances[0].description"], 400),
            ("projects", json!({"appearances": [{"initiative_id": refs.initiative, "description": ""}]}), &["appearances[0].description"], 400),
        ];
        for (collection, changes, expected, status) in cases {
            let invalid = with(&body(collection, &refs, 1), changes.clone());
            let response = app.send(Method::POST, &format!("/api/v1/{collection}"), Some(&admin), None, Some(&invalid)).await;
            assert_eq!(fields_of(response, status).await, sorted(expected), "POST {collection} with {changes}");
        }
        // A PATCH breaking a bound and a rule is a 400 naming both.
        let goal = item("goals", &json!(refs.goal));
        let before = app.json(&goal).await;
        let etag = app.etag(&goal).await;
        let response = app.send(Method::PATCH, &goal, Some(&admin), Some(&etag), Some(&json!({"number": 0, "code": "2"}))).await;
        assert_eq!(failing_fields(response).await, sorted(&["number", "code"]));
        assert_eq!(app.json(&goal).await, before);
        assert_eq!(latest_cursor(&app).await, start, "no refused write was recorded");

        // The limits themselves are allowed: 200-character titles, 50-character codes,
        // 2000-character descriptions with line breaks, the first and last years.
        create(&app, "goals", &admin, &with(&body("goals", &refs, 1), json!({"title": long(200), "code": "c".repeat(50), "number": 999}))).await;
        create(&app, "plans", &admin, &with(&body("plans", &refs, 1), json!({"period_start_year": 1900, "period_end_year": 2100}))).await;
        let description = format!("{}\n{}", long(1000), long(999));
        create(&app, "projects", &admin, &with(&body("projects", &refs, 1), json!({"appearances": [{"initiative_id": refs.initiative, "description": description}]}))).await;
        create(&app, "kpis", &admin, &with(&body("kpis", &refs, 1), json!({"baseline": {"value": "99.10"}, "target": {"value": "-1.5", "year": 2019}, "direction": "decrease"}))).await;
    }
}

on_both_backends! {
    /// Several failures in one body are all named at once, for POST and for PATCH.
    async fn every_failing_field_of_a_body_is_named(backend) {
        let app = spawn_app_on(&seeded_database(backend)).await;
        let refs = refs(&app).await;
        let admin = token(&["admin"], None);
        let kpi = with(&body("kpis", &refs, 1), json!({
            "initiative_id": 999999, "name": "", "unit": "x".repeat(51),
            "baseline": {"year": 1800}, "target": {"value": "abc"},
        }));
        let response = app.send(Method::POST, "/api/v1/kpis", Some(&admin), None, Some(&kpi)).await;
        assert_eq!(failing_fields(response).await, sorted(&["initiative_id", "name", "unit", "baseline.year", "target.value"]));

        let project = with(&body("projects", &refs, 1), json!({
            "code": "", "name": "あ".repeat(201), "divisions": [999999],
            "appearances": [{"initiative_id": 999999, "description": " "}],
        }));
        let response = app.send(Method::POST, "/api/v1/projects", Some(&admin), None, Some(&project)).await;
        assert_eq!(failing_fields(response).await, sorted(&["code", "name", "divisions[0]", "appearances[0].initiative_id", "appearances[0].description"]));

        let plan = with(&body("plans", &refs, 1), json!({"code": "atsugi-2", "municipality_code": "1", "period_start_year": 2200, "period_end_year": 2000}));
        let response = app.send(Method::POST, "/api/v1/plans", Some(&admin), None, Some(&plan)).await;
        assert_eq!(failing_fields(response).await, sorted(&["code", "municipality_code", "period_start_year", "period_end_year"]));

        let path = format!("/api/v1/kpis/{}", id_of(&app, "/api/v1/kpis?code=1-1-1-1").await);
        let before = app.json(&path).await;
        let etag = app.etag(&path).await;
        let changes = json!({"name": "", "code": "1-1-1-2", "baseline": {"year": 2030}, "target": {"value": "9.9.9"}});
        let response = app.send(Method::PATCH, &path, Some(&admin), Some(&etag), Some(&changes)).await;
        assert_eq!(failing_fields(response).await, sorted(&["name", "code", "target.year", "target.value"]));
        assert_eq!(app.json(&path).await, before);
    }
}

on_both_backends! {
    /// An unknown field is a 400 naming it, in a POST and in a PATCH, and nothing is written.
    async fn an_unknown_field_is_named(backend) {
        let app = spawn_app_on(&seeded_database(backend)).await;
        let refs = refs(&app).await;
        let admin = token(&["admin"], None);
        let goal = with(&body("goals", &refs, 1), json!({"colour": "red"}));
        let response = app.send(Method::POST, "/api/v1/goals", Some(&admin), None, Some(&goal)).await;
        assert_eq!(failing_fields(response).await, ["colour"]);
        let path = format!("/api/v1/kpis/{}", id_of(&app, "/api/v1/kpis?code=1-1-1-1").await);
        let etag = app.etag(&path).await;
        let response = app.send(Method::PATCH, &path, Some(&admin), Some(&etag), Some(&json!({"baseline": {"note": "x"}}))).await;
        assert_eq!(failing_fields(response).await, ["baseline.note"]);
        assert_eq!(app.etag(&path).await, etag);
        assert_eq!(app.json("/api/v1/goals?code=91").await["total"], 0);
    }
}

on_both_backends! {
    /// Two unknown fields in one body are both named.
    async fn several_unknown_fields_are_all_named(backend) {
        let app = spawn_app_on(&seeded_database(backend)).await;
        let refs = refs(&app).await;
        let goal = with(&body("goals", &refs, 1), json!({"colour": "red", "weight": 3}));
        let response = app.send(Method::POST, "/api/v1/goals", Some(&token(&["admin"], None)), None, Some(&goal)).await;
        assert_eq!(failing_fields(response).await, ["colour", "weight"]);
    }
}

on_both_backends! {
    /// A field of the wrong JSON type or a missing one is named together with the other failures.
    async fn mistyped_and_missing_fields_are_named_with_the_others(backend) {
        let app = spawn_app_on(&seeded_database(backend)).await;
        let refs = refs(&app).await;
        let goal = json!({"plan_id": refs.plan, "code": "", "number": "nine", "category": "テスト"});
        let response = app.send(Method::POST, "/api/v1/goals", Some(&token(&["admin"], None)), None, Some(&goal)).await;
        assert_eq!(failing_fields(response).await, sorted(&["code", "number", "title"]));
    }
}

on_both_backends! {
    /// Codes are unique within a plan, not across plans; no record moves to another plan, by its
    /// own plan_id or by a parent of another plan; a project cannot name another plan's division.
    async fn records_stay_in_their_plan(backend) {
        let app = spawn_app_on(&seeded_database(backend)).await;
        let refs = refs(&app).await;
        let admin = token(&["admin"], None);
        let plan = create(&app, "plans", &admin, &body("plans", &refs, 3)).await["id"].as_i64().unwrap();
        let goal = create(&app, "goals", &admin, &json!({"plan_id": plan, "code": "1", "number": 1, "category": "次期", "title": "次期の基本目標"})).await["id"].as_i64().unwrap();
        let measure = create(&app, "measures", &admin, &json!({"goal_id": goal, "code": "1-1", "number": 1, "title": "次期の施策"})).await["id"].as_i64().unwrap();
        let initiative = create(&app, "initiatives", &admin, &json!({"measure_id": measure, "code": "1-1-1", "number": 1, "title": "次期の取組"})).await["id"].as_i64().unwrap();
        let department = create(&app, "departments", &admin, &json!({"plan_id": plan, "code": "D01", "name": "政策部"})).await["id"].as_i64().unwrap();
        let division = create(&app, "divisions", &admin, &json!({"department_id": department, "code": "D01-01", "name": "企画政策課"})).await["id"].as_i64().unwrap();

        let kpi = id_of(&app, "/api/v1/kpis?code=1-1-1-1").await;
        let project = id_of(&app, "/api/v1/projects?code=P001").await;
        let moves = [
            (item("goals", &json!(refs.goal)), json!({"plan_id": plan}), "plan_id"),
            (item("measures", &json!(refs.measure)), json!({"goal_id": goal}), "goal_id"),
            (item("initiatives", &json!(refs.initiative)), json!({"measure_id": measure}), "measure_id"),
            (item("kpis", &json!(kpi)), json!({"initiative_id": initiative}), "initiative_id"),
            (item("departments", &json!(refs.department)), json!({"plan_id": plan}), "plan_id"),
            (item("divisions", &json!(refs.division)), json!({"department_id": department}), "department_id"),
            (item("projects", &json!(project)), json!({"plan_id": plan}), "plan_id"),
        ];
        for (path, changes, field) in moves {
            let before = app.json(&path).await;
            let etag = app.etag(&path).await;
            let response = app.send(Method::PATCH, &path, Some(&admin), Some(&etag), Some(&changes)).await;
            let fields = refused_fields(response).await;
            assert!(fields.contains(&field.to_string()), "{path} {changes}: {fields:?}");
            assert_eq!(app.json(&path).await, before, "{path}");
        }
        let foreign = with(&body("projects", &refs, 1), json!({"divisions": [division], "appearances": [{"initiative_id": initiative, "description": "説明"}]}));
        let response = app.send(Method::POST, "/api/v1/projects", Some(&admin), None, Some(&foreign)).await;
        assert_eq!(refused_fields(response).await, sorted(&["divisions[0]", "appearances[0].initiative_id"]));
    }
}

on_both_backends! {
    /// PATCH and DELETE need If-Match (428), a stale ETag is 412 and changes nothing; a write
    /// bumps `version` and the ETag; If-None-Match answers 304 for the current ETag only.
    async fn writes_need_the_current_etag(backend) {
        let app = spawn_app_on(&seeded_database(backend)).await;
        let admin = token(&["admin"], None);
        let path = format!("/api/v1/kpis/{}", id_of(&app, "/api/v1/kpis?code=1-1-1-1").await);
        let original = app.json(&path).await;
        assert_eq!(original["version"], 1);
        let first = app.etag(&path).await;
        assert!(first.starts_with('"') && !first.starts_with("W/"), "strong ETag: {first}");

        let rename = json!({"name": "国内友好都市との交流活動の件数"});
        let problem = assert_problem(app.send(Method::PATCH, &path, Some(&admin), None, Some(&rename)).await, 428).await;
        assert!(problem["detail"].as_str().unwrap().contains("If-Match"), "{problem}");
        assert_problem(app.send(Method::DELETE, &path, Some(&admin), None, None).await, 428).await;
        assert_eq!(app.json(&path).await, original);

        let not_modified = app.client.get(app.url(&path)).header("If-None-Match", &first).send().await.unwrap();
        assert_eq!(not_modified.status(), 304);
        assert_eq!(not_modified.headers()["etag"], first.as_str());
        assert!(not_modified.text().await.unwrap().is_empty());

        let patched = patch(&app, &path, &admin, &rename).await;
        assert_eq!(patched["version"], 2);
        let second = app.etag(&path).await;
        assert_ne!(second, first);

        // Someone else's write made the first ETag stale.
        for (method, payload) in [(Method::PATCH, Some(json!({"unit": "回"}))), (Method::DELETE, None)] {
            let response = app.send(method.clone(), &path, Some(&admin), Some(&first), payload.as_ref()).await;
            assert_problem(response, 412).await;
        }
        assert_eq!(app.json(&path).await, patched, "stale writes changed nothing");
        let stale = app.client.get(app.url(&path)).header("If-None-Match", &first).send().await.unwrap();
        assert_eq!(stale.status(), 200);
        assert_eq!(stale.headers()["etag"], second.as_str());
        let current = app.client.get(app.url(&path)).header("If-None-Match", &second).send().await.unwrap();
        assert_eq!(current.status(), 304);

        let again = patch(&app, &path, &admin, &json!({"unit": "回"})).await;
        assert_eq!(again["version"], 3);
    }
}

/// `view` without the fields a write always changes.
fn without_bookkeeping(view: &Value, also: &[&str]) -> Value {
    let mut view = view.clone();
    for key in ["version", "updated_at"].iter().chain(also) {
        view.as_object_mut().unwrap().remove(*key);
    }
    view
}

on_both_backends! {
    /// A merge patch changes only the fields it names: nested objects merge, `null` clears an
    /// optional field, lists and everything else stay as they were.
    async fn a_merge_patch_changes_only_what_it_names(backend) {
        let app = spawn_app_on(&seeded_database(backend)).await;
        let admin = token(&["admin"], None);

        let kpi = format!("/api/v1/kpis/{}", id_of(&app, "/api/v1/kpis?code=4-4-1-2").await);
        let before = app.json(&kpi).await;
        let after = patch(&app, &kpi, &admin, &json!({"name": "市税の収納率"})).await;
        assert_eq!(after["name"], "市税の収納率");
        assert_eq!(without_bookkeeping(&after, &["name"]), without_bookkeeping(&before, &["name"]));
        let after = patch(&app, &kpi, &admin, &json!({"baseline": {"year": 2018}})).await;
        assert_eq!(after["baseline"]["year"], 2018);
        assert_eq!(after["baseline"]["value_text"], before["baseline"]["value_text"], "a nested object merges");
        assert_eq!(after["target"], before["target"]);

        let special = app.all("/api/v1/projects").await.into_iter().find(|p| p["account"].is_string()).expect("a project of a special account");
        let project = item("projects", &special["id"]);
        let cleared = patch(&app, &project, &admin, &json!({"account": null})).await;
        assert_eq!(cleared["account"], Value::Null);
        assert_eq!(without_bookkeeping(&cleared, &["account"]), without_bookkeeping(&special, &["account"]));
        let renamed = patch(&app, &project, &admin, &json!({"name": format!("{}（改）", special["name"].as_str().unwrap())})).await;
        assert_eq!(renamed["account"], Value::Null, "a field left out of the patch is not cleared");
        assert_eq!(renamed["divisions"], special["divisions"]);
        assert_eq!(renamed["appearances"], special["appearances"]);
        assert_eq!(renamed["version"], 3);

        // application/merge-patch+json is the media type of a merge patch.
        let etag = app.etag(&project).await;
        let response = send_raw(&app, Method::PATCH, &project, &admin, Some(&etag), Some("application/merge-patch+json"), r#"{"account": "一般会計"}"#).await;
        assert_eq!(response.status(), 200);
        assert_eq!(app.json(&project).await["account"], "一般会計");
    }
}

on_both_backends! {
    /// Bodies must be JSON (415 otherwise), and a merge patch a JSON object (400 otherwise).
    async fn bodies_must_be_json_objects(backend) {
        let app = spawn_app_on(&seeded_database(backend)).await;
        let refs = refs(&app).await;
        let admin = token(&["admin"], None);
        let goal = body("goals", &refs, 1).to_string();
        for content_type in [Some("text/plain"), Some("application/x-www-form-urlencoded"), None] {
            let response = send_raw(&app, Method::POST, "/api/v1/goals", &admin, None, content_type, &goal).await;
            assert_problem(response, 415).await;
        }
        let path = item("goals", &json!(refs.goal));
        let etag = app.etag(&path).await;
        for content_type in [Some("text/plain"), Some("application/xml"), None] {
            let response = send_raw(&app, Method::PATCH, &path, &admin, Some(&etag), content_type, r#"{"title": "x"}"#).await;
            assert_problem(response, 415).await;
        }
        for text in ["[1]", r#""title""#, "42", "null", "{", ""] {
            let response = send_raw(&app, Method::PATCH, &path, &admin, Some(&etag), Some("application/merge-patch+json"), text).await;
            let problem = assert_problem(response, 400).await;
            assert_eq!(problem["errors"][0]["field"], "body", "{text}: {problem}");
        }
        for text in ["42", r#""goal""#, "{"] {
            let response = send_raw(&app, Method::POST, "/api/v1/goals", &admin, None, Some("application/json"), text).await;
            assert_problem(response, 400).await;
        }
        assert_eq!(app.etag(&path).await, etag);
        let response = send_raw(&app, Method::POST, "/api/v1/goals", &admin, None, Some("application/json; charset=utf-8"), &goal).await;
        assert_eq!(response.status(), 201);
    }
}

on_both_backends! {
    /// A JSON array is not a record, even one listing the fields' values in order.
    async fn a_json_array_is_not_a_record(backend) {
        let app = spawn_app_on(&seeded_database(backend)).await;
        let refs = refs(&app).await;
        let positional = json!([refs.plan, "98", 9, "テスト", "配列で送った基本目標"]).to_string();
        let response = send_raw(&app, Method::POST, "/api/v1/goals", &token(&["admin"], None), None, Some("application/json"), &positional).await;
        let status = response.status();
        assert_eq!(status, 400, "{}", response.text().await.unwrap());
        assert_eq!(app.json("/api/v1/goals?code=98").await["total"], 0);
    }
}

on_both_backends! {
    /// A record others depend on is not deleted: 409 naming what depends on it.
    async fn deleting_a_record_others_depend_on_is_a_conflict(backend) {
        let app = spawn_app_on(&seeded_database(backend)).await;
        let refs = refs(&app).await;
        let admin = token(&["admin"], None);
        let goal = app.json(&item("goals", &json!(refs.goal))).await;
        let department = app.json(&item("departments", &json!(refs.department))).await;
        let initiative = app.json(&item("initiatives", &json!(refs.initiative))).await;
        let projects_of_division = app.json(&format!("/api/v1/projects?division={}", refs.division)).await["total"].as_i64().unwrap();
        let goals_of_plan = app.json(&format!("/api/v1/goals?plan={}", refs.plan)).await["total"].as_i64().unwrap();
        let cases = [
            (item("goals", &json!(refs.goal)), format!("{} measures", goal["measures"].as_array().unwrap().len())),
            (item("departments", &json!(refs.department)), format!("{} divisions", department["divisions"].as_array().unwrap().len())),
            (item("initiatives", &json!(refs.initiative)), format!("{} KPIs", initiative["kpis"].as_array().unwrap().len())),
            (item("divisions", &json!(refs.division)), format!("{projects_of_division} projects")),
            (item("plans", &json!(refs.plan)), format!("{goals_of_plan} goals")),
        ];
        for (_, dependents) in &cases {
            assert!(!dependents.starts_with('0'), "{dependents}");
        }
        let start = latest_cursor(&app).await;
        for (path, dependents) in cases {
            let before = app.json(&path).await;
            let etag = app.etag(&path).await;
            let problem = assert_problem(app.send(Method::DELETE, &path, Some(&admin), Some(&etag), None).await, 409).await;
            assert!(problem["detail"].as_str().unwrap().contains(&dependents), "{path}: {problem}");
            assert_eq!(app.json(&path).await, before, "{path} is still there");
        }
        assert_eq!(latest_cursor(&app).await, start, "nothing was deleted");
    }
}

on_both_backends! {
    /// The direction is derived again when a revision moves the target below, to, or above the
    /// baseline, or a patch moves the baseline.
    async fn direction_is_re_derived_when_the_target_moves(backend) {
        let app = spawn_app_on(&seeded_database(backend)).await;
        let writer = token(&["kpis:write"], None);
        let path = format!("/api/v1/kpis/{}", id_of(&app, "/api/v1/kpis?code=1-1-1-1").await);
        let kpi = app.json(&path).await;
        assert_eq!((kpi["baseline"]["value_text"].as_str(), kpi["target"]["value_text"].as_str(), kpi["direction"].as_str()), (Some("22"), Some("30"), Some("increase")));
        let below = app.revise_target(&path, &writer, json!({"value": "10", "year": 2026, "reason": "見直し"})).await;
        assert_eq!(below["direction"], "decrease");
        assert_eq!(below["target"]["value_text"], "10");
        let level = app.revise_target(&path, &writer, json!({"value": "22.0", "year": 2026, "reason": "見直し"})).await;
        assert_eq!(level["direction"], "maintain");
        let above = patch(&app, &path, &writer, &json!({"baseline": {"value": "5"}})).await;
        assert_eq!(above["direction"], "increase");
        // A direction that contradicts the numbers is refused.
        let etag = app.etag(&path).await;
        let response = app.send(Method::PATCH, &path, Some(&writer), Some(&etag), Some(&json!({"direction": "decrease"}))).await;
        assert_eq!(refused_fields(response).await, ["direction"]);

        // Without a baseline value the direction is given, and kept.
        let open = format!("/api/v1/kpis/{}", id_of(&app, "/api/v1/kpis?code=4-4-1-1").await);
        assert_eq!(app.json(&open).await["baseline"]["value"], Value::Null);
        let given = patch(&app, &open, &writer, &json!({"direction": "maintain"})).await;
        assert_eq!(given["direction"], "maintain");
        let kept = app.revise_target(&open, &writer, json!({"value": "90", "year": 2026, "reason": "見直し"})).await;
        assert_eq!(kept["direction"], "maintain");
    }
}

on_both_backends! {
    /// Without a signing key every write is a 503 saying writes are disabled; reads still work.
    async fn a_read_only_instance_refuses_writes_and_serves_reads(backend) {
        let app = spawn_read_only_app_on(&seeded_database(backend)).await;
        let refs = refs(&app).await;
        let admin = token(&["admin"], None);
        for collection in COLLECTIONS {
            let first = app.json(&format!("/api/v1/{collection}?limit=1")).await["items"][0]["id"].clone();
            let path = item(collection, &first);
            let record = app.json(&path).await;
            let etag = app.etag(&path).await;
            let post = body(collection, &refs, 1);
            let edit = rename(collection, "変更");
            for bearer in [Some(admin.as_str()), None] {
                for (method, target, if_match, payload) in [
                    (Method::POST, format!("/api/v1/{collection}"), None, Some(&post)),
                    (Method::PATCH, path.clone(), Some(etag.as_str()), Some(&edit)),
                    (Method::DELETE, path.clone(), Some(etag.as_str()), None),
                ] {
                    let response = app.send(method.clone(), &target, bearer, if_match, payload).await;
                    let problem = assert_problem(response, 503).await;
                    assert!(problem["detail"].as_str().unwrap().contains("writes are disabled"), "{method} {target}: {problem}");
                }
            }
            assert_eq!(app.json(&path).await, record);
        }
        assert_eq!(app.json("/api/v1/kpis").await["total"], 45);
        assert_eq!(app.json("/api/v1/changes").await["items"], json!([]));
    }
}

on_both_backends! {
    /// Create, update and delete appear in the public feed in commit order without who made them;
    /// the admins' audit record has the subject, jti, method, and the record before and after as GET
    /// returned it; the audit record is for admins only and filters by resource, id and subject.
    async fn writes_leave_a_feed_and_an_audit_record(backend) {
        let app = spawn_app_on(&seeded_database(backend)).await;
        let refs = refs(&app).await;
        let start = latest_cursor(&app).await;
        let writer_claims = claims(&["kpis:write"], None);
        let jti = writer_claims["jti"].as_str().unwrap().to_string();
        let writer = sign(&writer_claims, TEST_SECRET);

        let created = create(&app, "kpis", &writer, &body("kpis", &refs, 1)).await;
        let id = created["id"].as_i64().unwrap();
        let path = item("kpis", &created["id"]);
        let department = create(&app, "departments", &token(&["admin"], None), &body("departments", &refs, 1)).await;
        let updated = patch(&app, &path, &writer, &json!({"name": "更新した指標"})).await;
        delete(&app, &path, &writer).await;

        let response = app.get(&format!("/api/v1/changes?since={start}")).await;
        assert_eq!(response.status(), 200);
        let text = response.text().await.unwrap();
        assert!(!text.contains("tester") && !text.contains(&jti), "the feed names nobody: {text}");
        let feed: Value = serde_json::from_str(&text).unwrap();
        let items = feed["items"].as_array().unwrap();
        let seen: Vec<(&str, i64, &str)> = items.iter()
            .map(|c| (c["resource"].as_str().unwrap(), c["id"].as_i64().unwrap(), c["operation"].as_str().unwrap()))
            .collect();
        let department_id = department["id"].as_i64().unwrap();
        assert_eq!(seen, [("kpi", id, "create"), ("department", department_id, "create"), ("kpi", id, "update"), ("kpi", id, "delete")]);
        let cursors: Vec<i64> = items.iter().map(|c| c["cursor"].as_i64().unwrap()).collect();
        assert!(cursors.windows(2).all(|pair| pair[0] < pair[1]) && cursors[0] > start, "{cursors:?}");
        for change in items {
            let mut keys: Vec<&str> = change.as_object().unwrap().keys().map(String::as_str).collect();
            keys.sort();
            assert_eq!(keys, ["cursor", "id", "occurred_at", "operation", "resource"]);
        }
        assert_eq!(feed["next_cursor"], cursors[3]);
        assert_eq!(feed["latest_cursor"], cursors[3]);
        // Paging through the feed one change at a time gives the same changes.
        let mut since = start;
        for cursor in &cursors {
            let page = app.json(&format!("/api/v1/changes?since={since}&limit=1")).await;
            assert_eq!(page["items"].as_array().unwrap().len(), 1);
            assert_eq!(page["items"][0]["cursor"], *cursor);
            since = page["next_cursor"].as_i64().unwrap();
        }
        assert_eq!(app.json(&format!("/api/v1/changes?since={since}")).await["items"], json!([]));

        let admin = token(&["admin"], None);
        let audit_path = format!("/api/v1/audit?resource=kpi&id={id}");
        let response = app.send(Method::GET, &audit_path, Some(&admin), None, None).await;
        assert_eq!(response.status(), 200);
        let audit: Value = response.json().await.unwrap();
        assert_eq!(audit["total"], 3, "{audit}");
        let records = audit["items"].as_array().unwrap();
        let expected = [
            ("POST", "create", Value::Null, created.clone()),
            ("PATCH", "update", created.clone(), updated.clone()),
            ("DELETE", "delete", updated.clone(), Value::Null),
        ];
        for (record, (method, operation, before, after)) in records.iter().zip(expected) {
            assert_eq!(record["subject"], "tester");
            assert_eq!(record["jti"], jti.as_str());
            assert_eq!(record["method"], method);
            assert_eq!(record["resource"], "kpi");
            assert_eq!(record["record_id"], id);
            assert_eq!(record["operation"], operation);
            assert_eq!(record["before"], before, "{operation}: before");
            assert_eq!(record["after"], after, "{operation}: after");
            assert!(record["occurred_at"].is_string());
        }

        // Filters: another id, another resource, a subject.
        let count = |path: String| {
            let app = &app;
            let admin = admin.clone();
            async move {
                let response = app.send(Method::GET, &path, Some(&admin), None, None).await;
                assert_eq!(response.status(), 200, "{path}");
                let page: Value = response.json().await.unwrap();
                page["items"].as_array().unwrap().iter().map(|r| (r["resource"].as_str().unwrap().to_string(), r["record_id"].as_i64().unwrap())).collect::<Vec<_>>()
            }
        };
        assert_eq!(count(format!("/api/v1/audit?resource=department&id={department_id}")).await, [("department".to_string(), department_id)]);
        assert!(count(format!("/api/v1/audit?resource=department&id={id}")).await.is_empty());
        assert_eq!(count("/api/v1/audit?resource=kpi".into()).await.len(), 3);
        assert_eq!(count("/api/v1/audit?subject=tester".into()).await.len(), 4);
        assert!(count("/api/v1/audit?subject=nobody".into()).await.is_empty());

        // Only admins read the audit record.
        for scope in ["kpis:write", "projects:write"] {
            let response = app.send(Method::GET, &audit_path, Some(&token(&[scope], None)), None, None).await;
            assert_problem(response, 403).await;
        }
        let response = app.send(Method::GET, &audit_path, None, None, None).await;
        assert_unauthorized(response, false, None, "audit without a token").await;
        let mut wrong = claims(&["admin"], None);
        wrong["aud"] = "another-api".into();
        let wrong = sign(&wrong, TEST_SECRET);
        let response = app.send(Method::GET, &audit_path, Some(&wrong), None, None).await;
        assert_unauthorized(response, true, Some(&wrong), "audit with a token for another audience").await;
    }
}

on_both_backends! {
    /// Every length the document states for a body's text field is the validator's: the longest
    /// text it allows is accepted, one character more is a 400 naming the field.
    async fn the_documented_lengths_of_body_fields_are_the_enforced_ones(backend) {
        let app = spawn_app_on(&seeded_database(backend)).await;
        let refs = refs(&app).await;
        let admin = token(&["admin"], None);
        let document: Value = serde_json::from_str(&strategy_api::openapi::document_json()).unwrap();
        let schemas = &document["components"]["schemas"];
        let mut probed = 0;
        let mut n = 100;
        for (collection, form) in [
            ("plans", "PlanForm"),
            ("goals", "GoalForm"),
            ("measures", "MeasureForm"),
            ("initiatives", "InitiativeForm"),
            ("kpis", "KpiForm"),
            ("departments", "DepartmentForm"),
            ("divisions", "DivisionForm"),
            ("projects", "ProjectForm"),
        ] {
            for (field, schema) in schemas[form]["properties"].as_object().unwrap() {
                let is_url = schema["pattern"].as_str().is_some_and(|pattern| pattern.starts_with("^https?"));
                let Some(longest) = schema["maxLength"].as_u64().filter(|_| !is_url) else {
                    continue;
                };
                let longest = longest as usize;
                n += 1;
                let is_email = schema["pattern"].as_str().is_some_and(|pattern| pattern.contains('@'));
                // Distinct text per record, so that codes and names stay unique in the plan; an
                // address is a 64-letter local part and host labels up to the length.
                let text = |length: usize| {
                    if !is_email {
                        return format!("{n}{}", "あ".repeat(length - n.to_string().len()));
                    }
                    let mut address = format!("{n}{}@", "k".repeat(64 - n.to_string().len()));
                    while length - address.len() > 63 {
                        address.push_str(&format!("{}.", "d".repeat(59)));
                    }
                    address.push_str(&"j".repeat(length - address.len()));
                    address
                };
                let fits = with(&body(collection, &refs, n), json!({ field: text(longest) }));
                let response = app.send(Method::POST, &format!("/api/v1/{collection}"), Some(&admin), None, Some(&fits)).await;
                assert_eq!(response.status(), 201, "POST {collection} with a {longest}-character {field}");
                let too_long = with(&body(collection, &refs, n + 1000), json!({ field: text(longest + 1) }));
                let response = app.send(Method::POST, &format!("/api/v1/{collection}"), Some(&admin), None, Some(&too_long)).await;
                assert_eq!(failing_fields(response).await, vec![field.to_string()], "POST {collection} with {} characters of {field}", longest + 1);
                probed += 1;
            }
        }
        assert!(probed >= 20, "only {probed} lengths probed");
    }
}
