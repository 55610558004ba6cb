//! Moving and keeping the data: `strategy-api copy` between SQLite and Postgres keeps every
//! record, audit entry, cursor and revocation; `strategy-api backup` copies a running database.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{
    claims, cli, fresh_database, latest_cursor, postgres_server_url, seeded_database, sign, spawn_app_on, token,
    Backend, TestApp, TEST_SECRET,
};

/// Results with commentary, a revised target, a frozen evaluation and a revoked token.
async fn a_year_of_work(app: &TestApp, database: &str) -> String {
    let writer = token(&["kpis:write"], None);
    let kpi = format!(
        "/api/v1/kpis/{}",
        app.json("/api/v1/kpis?code=1-1-1-1").await["items"][0]["id"]
    );
    let body = json!({"value": "26", "analysis": "交流事業を再開", "next_steps": "継続"});
    assert_eq!(
        app.send(
            Method::PUT,
            &format!("{kpi}/results/2022"),
            Some(&writer),
            None,
            Some(&body)
        )
        .await
        .status(),
        201
    );
    app.revise_target(
        &kpi,
        &writer,
        json!({"value": "35", "year": 2026, "reason": "上方修正"}),
    )
    .await;
    let plan = app.json("/api/v1/plans?code=atsugi-2").await["items"][0]["id"].clone();
    let frozen = app
        .send(
            Method::POST,
            &format!("/api/v1/plans/{plan}/evaluations"),
            Some(&token(&["admin"], None)),
            None,
            Some(&json!({"fiscal_year": 2022, "title": "令和4年度評価"})),
        )
        .await;
    assert_eq!(frozen.status(), 201);
    let mut revoked = claims(&["admin"], None);
    revoked["jti"] = json!("revoked-before-the-move");
    let (ok, _, errors) = cli(database, &["token", "revoke", "revoked-before-the-move"]);
    assert!(ok, "{errors}");
    sign(&revoked, TEST_SECRET)
}

async fn audit(app: &TestApp) -> Value {
    app.client
        .get(app.url("/api/v1/audit?limit=500"))
        .bearer_auth(token(&["admin"], None))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()
}

async fn export(app: &TestApp) -> Value {
    let plan = app.json("/api/v1/plans?code=atsugi-2").await["items"][0]["id"].clone();
    app.json(&format!("/api/v1/plans/{plan}/export")).await
}

/// SQLite → Postgres → SQLite: every table the same (the command checks digests and says so),
/// the same answers, the same change-feed cursor, the revocation still refused, and new records
/// get new ids on the copy.
#[tokio::test]
async fn a_database_moves_to_postgres_and_back_without_losing_anything() {
    if postgres_server_url().is_none() {
        eprintln!("skipped: TEST_POSTGRES_URL is not set");
        return;
    }
    let sqlite = seeded_database(Backend::Sqlite);
    let app = spawn_app_on(&sqlite).await;
    let revoked = a_year_of_work(&app, &sqlite).await;
    let postgres = fresh_database(Backend::Postgres);
    let (ok, printed, errors) = cli(&sqlite, &["copy", "--from", &sqlite, "--to", &postgres]);
    assert!(ok, "{errors}");
    assert!(printed.contains("the target holds the same as the source"), "{printed}");
    assert!(
        printed.contains("audit_log") && printed.contains("kpi_target_revisions"),
        "{printed}"
    );

    let moved = spawn_app_on(&postgres).await;
    assert_eq!(export(&moved).await, export(&app).await, "the same plan, ids and all");
    assert_eq!(
        latest_cursor(&moved).await,
        latest_cursor(&app).await,
        "the change feed goes on where it was"
    );
    assert_eq!(audit(&moved).await, audit(&app).await, "every audit record");
    let refused = moved
        .send(
            Method::POST,
            "/api/v1/departments",
            Some(&revoked),
            None,
            Some(&json!({})),
        )
        .await;
    assert_eq!(refused.status(), 401, "a token revoked before the move stays revoked");
    let plan = moved.json("/api/v1/plans?code=atsugi-2").await["items"][0]["id"].clone();
    let created = moved
        .send(
            Method::POST,
            "/api/v1/departments",
            Some(&token(&["admin"], None)),
            None,
            Some(&json!({"plan_id": plan, "code": "D99", "name": "デジタル推進部"})),
        )
        .await;
    assert_eq!(created.status(), 201, "Postgres hands out ids after the copied ones");

    // A source that is not there is refused: it is never created empty and copied over the target.
    let missing = format!("{sqlite}.missing");
    let before = export(&moved).await;
    let (ok, _, errors) = cli(&sqlite, &["copy", "--from", &missing, "--to", &postgres, "--force"]);
    assert!(!ok && errors.contains("is not a SQLite file"), "{errors}");
    assert!(!std::path::Path::new(&missing).exists());
    assert_eq!(export(&moved).await, before, "the target is as it was");

    // A target that holds data is refused unless --force.
    let (ok, _, errors) = cli(&sqlite, &["copy", "--from", &sqlite, "--to", &postgres]);
    assert!(!ok && errors.contains("--force"), "{errors}");
    let (ok, _, errors) = cli(&sqlite, &["copy", "--from", &sqlite, "--to", &postgres, "--force"]);
    assert!(ok, "{errors}");

    // And back to SQLite.
    let back = fresh_database(Backend::Sqlite);
    let (ok, printed, errors) = cli(&back, &["copy", "--from", &postgres, "--to", &back]);
    assert!(ok, "{errors}: {printed}");
    let returned = spawn_app_on(&back).await;
    assert_eq!(export(&returned).await, export(&app).await);
}

/// A backup taken while the service writes opens as a database with the same data.
#[tokio::test]
async fn a_backup_of_a_running_database_restores_to_the_same_data() {
    let sqlite = seeded_database(Backend::Sqlite);
    let app = spawn_app_on(&sqlite).await;
    a_year_of_work(&app, &sqlite).await;
    let file = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("test-databases")
        .join(format!("backup-{}.sqlite3", std::process::id()));
    let _ = std::fs::remove_file(&file);
    let (ok, printed, errors) = cli(&sqlite, &["backup", file.to_str().unwrap()]);
    assert!(ok, "{errors}");
    assert!(printed.contains("backed up"), "{printed}");
    let (ok, _, errors) = cli(&sqlite, &["backup", file.to_str().unwrap()]);
    assert!(
        !ok && errors.contains("exists"),
        "a backup never overwrites a file: {errors}"
    );

    // Restoring is putting the file in place: the service opens it with everything in it.
    let restored = spawn_app_on(file.to_str().unwrap()).await;
    assert_eq!(export(&restored).await, export(&app).await);
    assert_eq!(latest_cursor(&restored).await, latest_cursor(&app).await);
    let check = fresh_database(Backend::Sqlite);
    let (ok, printed, errors) = cli(&check, &["copy", "--from", file.to_str().unwrap(), "--to", &check]);
    assert!(ok && printed.contains("the same"), "{errors}");
    let _ = std::fs::remove_file(&file);
}
