//! Spawns the real application on a random port over a real database, for every test.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;
use strategy_api::config::Config;
use strategy_api::dataset::Dataset;
use strategy_api::db::{self, seed, Database};
use strategy_api::startup::Application;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs a test body against SQLite and, when `TEST_POSTGRES_URL` is set, against Postgres:
/// one body, two tests (`name::sqlite`, `name::postgres`).
#[macro_export]
macro_rules! on_both_backends {
    ($(#[$meta:meta])* async fn $name:ident($backend:ident) $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($backend: $crate::helpers::Backend) $body

            #[tokio::test]
            async fn sqlite() {
                run($crate::helpers::Backend::Sqlite).await
            }

            #[tokio::test]
            async fn postgres() {
                if $crate::helpers::postgres_server_url().is_none() {
                    eprintln!("skipped: TEST_POSTGRES_URL is not set");
                    return;
                }
                run($crate::helpers::Backend::Postgres).await
            }
        }
    };
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("request sent")
    }

    /// GETs a path that must answer 200 with JSON.
    pub async fn json(&self, path: &str) -> Value {
        let response = self.get(path).await;
        let status = response.status();
        let body = response.text().await.expect("body read");
        assert_eq!(status, 200, "GET {path} answered {status}: {body}");
        serde_json::from_str(&body).expect("JSON body")
    }

    /// Every item of a collection, following the pages.
    pub async fn all(&self, collection: &str) -> Vec<Value> {
        let separator = if collection.contains('?') { '&' } else { '?' };
        let mut items = Vec::new();
        loop {
            let page = self
                .json(&format!("{collection}{separator}limit=500&offset={}", items.len()))
                .await;
            let batch = page["items"].as_array().expect("items").clone();
            let total = page["total"].as_u64().expect("total") as usize;
            items.extend(batch);
            if items.len() >= total {
                return items;
            }
        }
    }
}

/// The Postgres server tests may create databases on.
pub fn postgres_server_url() -> Option<String> {
    std::env::var("TEST_POSTGRES_URL").ok().filter(|url| !url.is_empty())
}

/// The app over this run's shared, seeded database of the backend (for tests that only read).
pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_on(&shared_database(backend)).await
}

/// This run's shared, seeded database of the backend: for tests that write nothing to it.
pub fn shared_database(backend: Backend) -> String {
    static SQLITE: OnceLock<String> = OnceLock::new();
    static POSTGRES: OnceLock<String> = OnceLock::new();
    let cell = match backend {
        Backend::Sqlite => &SQLITE,
        Backend::Postgres => &POSTGRES,
    };
    cell.get_or_init(|| seeded_database(backend)).clone()
}

/// A new, migrated and seeded database of its own.
pub fn seeded_database(backend: Backend) -> String {
    let url = fresh_database(backend);
    let database = Database::new(&url, 2, Duration::from_secs(10));
    database
        .run_blocking(|conn| {
            db::migrate(conn)?;
            seed::seed(conn, &Dataset::atsugi_2())
        })
        .expect("database migrated and seeded");
    url
}

/// A new database with the schema and no plan: where a city loads its own.
pub fn migrated_database(backend: Backend) -> String {
    let url = fresh_database(backend);
    Database::new(&url, 2, Duration::from_secs(10))
        .run_blocking(db::migrate)
        .expect("database migrated");
    url
}

/// A new, empty database: a SQLite file or a Postgres database named after this process.
pub fn fresh_database(backend: Backend) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let pid = std::process::id();
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    match backend {
        Backend::Sqlite => {
            let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("test-databases");
            std::fs::create_dir_all(&dir).expect("test database directory");
            remove_stale(&dir);
            dir.join(format!("strategy_test_{pid}_{n}.sqlite3"))
                .display()
                .to_string()
        }
        Backend::Postgres => {
            let server = postgres_server_url().expect("TEST_POSTGRES_URL");
            let name = format!("strategy_test_{pid}_{n}");
            admin(&server, &format!("CREATE DATABASE {name}"));
            let mut url = url::Url::parse(&server).expect("TEST_POSTGRES_URL is a URL");
            url.set_path(&name);
            url.to_string()
        }
    }
}

fn admin(server: &str, statement: &str) {
    use diesel::connection::SimpleConnection;
    use diesel::Connection;
    let mut conn = diesel::PgConnection::establish(server).expect("TEST_POSTGRES_URL reachable");
    conn.batch_execute(statement)
        .unwrap_or_else(|error| panic!("{statement}: {error}"));
}

/// Test databases of runs whose process is gone are removed, so they never pile up.
fn remove_stale(dir: &std::path::Path) {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let alive = |pid: &str| std::path::Path::new("/proc").join(pid).exists();
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().to_string();
                if let Some(pid) = name
                    .strip_prefix("strategy_test_")
                    .and_then(|rest| rest.split('_').next())
                {
                    if !alive(pid) {
                        let _ = std::fs::remove_file(entry.path());
                    }
                }
            }
        }
        if let Some(server) = postgres_server_url() {
            use diesel::prelude::*;
            #[derive(QueryableByName)]
            struct Name {
                #[diesel(sql_type = diesel::sql_types::Text)]
                datname: String,
            }
            let mut conn = diesel::PgConnection::establish(&server).expect("TEST_POSTGRES_URL reachable");
            let names: Vec<Name> =
                diesel::sql_query("SELECT datname FROM pg_database WHERE datname LIKE 'strategy\\_test\\_%'")
                    .load(&mut conn)
                    .unwrap_or_default();
            for Name { datname } in names {
                let pid = datname
                    .trim_start_matches("strategy_test_")
                    .split('_')
                    .next()
                    .unwrap_or("");
                if !alive(pid) {
                    admin(&server, &format!("DROP DATABASE IF EXISTS {datname} WITH (FORCE)"));
                }
            }
        }
    });
}

/// The signing secret of the test apps.
pub const TEST_SECRET: &str = "a-test-secret-of-more-than-32-bytes!";
pub const ISSUER: &str = "strategy-api";
pub const AUDIENCE: &str = "strategy-api";

/// Valid claims for the scopes, to send as they are or to spoil one at a time.
pub fn claims(scopes: &[&str], dept: Option<i64>) -> Value {
    let now = chrono::Utc::now().timestamp();
    let mut claims = serde_json::json!({
        "sub": "tester",
        "scope": scopes.join(" "),
        "jti": format!("test-{}", uuid_like()),
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
    });
    if let Some(dept) = dept {
        claims["dept"] = dept.into();
    }
    claims
}

fn uuid_like() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    format!("{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst))
}

/// A token with these claims, signed HS256 with `secret`.
pub fn sign(claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("token signs")
}

/// Unpadded base64url (RFC 4648 §5), for hand-made tokens.
pub fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut text = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, byte)| n | (*byte as u32) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            text.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    text
}

/// A valid token of the test apps.
pub fn token(scopes: &[&str], dept: Option<i64>) -> String {
    sign(&claims(scopes, dept), TEST_SECRET)
}

impl TestApp {
    /// A write: JSON body, optional bearer token and If-Match.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        if_match: Option<&str>,
        body: Option<&Value>,
    ) -> reqwest::Response {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(if_match) = if_match {
            request = request.header("If-Match", if_match);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.expect("request sent")
    }

    /// Revises a KPI's target under its current ETag (`path` is the KPI's); answers the KPI.
    pub async fn revise_target(&self, path: &str, token: &str, revision: Value) -> Value {
        let etag = self.etag(path).await;
        let response = self
            .send(
                reqwest::Method::POST,
                &format!("{path}/target-revisions"),
                Some(token),
                Some(&etag),
                Some(&revision),
            )
            .await;
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(status, 200, "POST {path}/target-revisions {revision}: {text}");
        let kpi: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(kpi, self.json(path).await, "the 200 body is what GET returns");
        kpi
    }

    /// The current ETag of a record.
    pub async fn etag(&self, path: &str) -> String {
        let response = self.get(path).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.headers()["etag"].to_str().unwrap().to_string()
    }
}

/// The app on a given database URL, on a random port, with writes enabled.
pub async fn spawn_app_on(database_url: &str) -> TestApp {
    spawn_configured(database_url, |config| config.jwt_secret = Some(TEST_SECRET.into())).await
}

/// The app with no signing key: read-only.
pub async fn spawn_read_only_app_on(database_url: &str) -> TestApp {
    spawn_configured(database_url, |_| {}).await
}

async fn spawn_configured(database_url: &str, adjust: impl FnOnce(&mut Config)) -> TestApp {
    let mut config = Config::with_database(database_url);
    config.bind = "127.0.0.1:0".into();
    config.workers = Some(1);
    config.pool_size = 4;
    config.pool_timeout_secs = 2;
    config.jwt_secret = None;
    config.jwt_public_key_file = None;
    // Tests write in bursts from one address; the rate-limit test turns the limit back on.
    config.write_rate_limit = 0;
    // No webhook workers unless a test delivers webhooks (tests/api/webhooks.rs).
    config.webhook_workers = 0;
    adjust(&mut config);
    let database = Database::new(&config.database_url, config.pool_size, config.pool_timeout());
    let application = Application::build(&config, database).expect("application builds");
    let address = format!("http://127.0.0.1:{}", application.port());
    tokio::spawn(application.run_until_stopped());
    TestApp {
        address,
        client: reqwest::Client::new(),
    }
}

/// Asserts a problem+json response with this status, and returns its body.
pub async fn assert_problem(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status(), status, "status of {}", response.url());
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.expect("problem body is JSON");
    assert_eq!(body["status"], status);
    assert!(body["title"].is_string() && body["detail"].is_string(), "{body}");
    body
}

/// Field names of a 400 problem (the input does not fit the document), sorted.
pub async fn failing_fields(response: reqwest::Response) -> Vec<String> {
    fields_of(response, 400).await
}

/// Field names of a 422 problem (a rule of the records refuses the input), sorted.
pub async fn refused_fields(response: reqwest::Response) -> Vec<String> {
    fields_of(response, 422).await
}

/// Field names of a problem with this status, sorted; the detail names each of them too.
pub async fn fields_of(response: reqwest::Response, status: u16) -> Vec<String> {
    let problem = assert_problem(response, status).await;
    let mut fields: Vec<String> = problem["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors: {problem}"))
        .iter()
        .map(|error| {
            assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "{problem}");
            error["field"].as_str().unwrap().to_string()
        })
        .collect();
    for field in &fields {
        assert!(
            problem["detail"].as_str().unwrap().contains(field.as_str()),
            "{problem}"
        );
    }
    fields.sort();
    fields
}

/// The newest cursor of the change feed.
pub async fn latest_cursor(app: &TestApp) -> i64 {
    app.json("/api/v1/changes").await["latest_cursor"].as_i64().unwrap()
}

/// The app with writes enabled and some settings adjusted (pool size, pool timeout): for fault tests.
pub async fn spawn_tuned_app_on(database_url: &str, adjust: impl FnOnce(&mut Config)) -> TestApp {
    spawn_configured(database_url, |config| {
        config.jwt_secret = Some(TEST_SECRET.into());
        adjust(config)
    })
    .await
}

/// Runs the binary with a database; answers (status, stdout, stderr).
pub fn cli(database: &str, args: &[&str]) -> (bool, String, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_strategy-api"))
        .args(args)
        .env("DATABASE_URL", database)
        .env("RUST_LOG", "error")
        .output()
        .expect("the binary runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The service binary as a child process, killed if the test ends before it exits.
pub struct Service {
    pub child: Child,
    pub port: u16,
    log: PathBuf,
}

impl Service {
    /// `strategy-api serve` on a free port of loopback, with these settings besides the test's own.
    pub fn start(database: &str, log: &Path, settings: &[(&str, &str)]) -> Service {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let mut output = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("log file");
        writeln!(output, "--- serve on 127.0.0.1:{port}").unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_strategy-api"))
            .arg("serve")
            .env_clear()
            .env("DATABASE_URL", database)
            .env("BIND", format!("127.0.0.1:{port}"))
            .env("JWT_SECRET", TEST_SECRET)
            .env("WORKERS", "2")
            .env("WRITE_RATE_LIMIT", "0")
            .env("RUST_LOG", "info")
            .envs(settings.iter().copied())
            .stdin(Stdio::null())
            .stdout(output.try_clone().unwrap())
            .stderr(output)
            .spawn()
            .expect("the service starts");
        Service {
            child,
            port,
            log: log.to_path_buf(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The end of the service's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    pub async fn wait_ready(&mut self, client: &reqwest::Client) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("the service exited at start-up ({status}):\n{}", self.log_tail());
            }
            if let Ok(response) = client.get(self.url("/readyz")).send().await {
                if response.status() == 200 {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "the service was not ready within 60 s:\n{}",
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -TERM {}", self.child.id());
    }

    /// The exit status and when it came after `since` (the signal), or a failed test when the
    /// process outlives `limit` after it.
    pub async fn wait_exit(&mut self, since: Instant, limit: Duration) -> (ExitStatus, Duration) {
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, since.elapsed());
            }
            assert!(
                since.elapsed() < limit,
                "the service was still running {limit:?} after SIGTERM:\n{}",
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
