//! Faults: a database that vanishes and comes back, a pool whose only connection is held, and a
//! SIGTERM in the middle of writes. Every test is bounded in time (a hang fails it) and leaves no
//! process behind. A SQLite file that cannot be written is in `health.rs`.

use std::future::Future;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use reqwest::Method;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::helpers::{
    assert_problem, claims, fresh_database, postgres_server_url, seeded_database, sign, spawn_tuned_app_on, token,
    Backend, Service, TestApp, TEST_SECRET,
};

/// The pool timeout of the apps under test, and how much later than it an answer may come on a
/// loaded machine: a hang detector, not a speed test.
const POOL_TIMEOUT_SECS: u64 = 2;
const MARGIN: Duration = Duration::from_secs(5);

/// Fails the test instead of hanging it when `body` takes longer than `limit`; whatever the body
/// owns (child processes, proxies, locks) is dropped with it.
async fn bounded<T>(limit: Duration, what: &str, body: impl Future<Output = T>) -> T {
    match tokio::time::timeout(limit, body).await {
        Ok(value) => value,
        Err(_) => panic!("{what} did not finish within {limit:?}"),
    }
}

/// A response within `limit`, or a failed test naming the request.
async fn answered(limit: Duration, what: &str, request: reqwest::RequestBuilder) -> (reqwest::Response, Duration) {
    let started = Instant::now();
    let response = bounded(limit, what, request.send())
        .await
        .unwrap_or_else(|error| panic!("{what}: no HTTP answer: {error}"));
    (response, started.elapsed())
}

/// A 503 problem with `Retry-After`, within the pool timeout plus the margin.
async fn assert_unavailable(what: String, request: reqwest::RequestBuilder) {
    let what = what.as_str();
    let limit = Duration::from_secs(POOL_TIMEOUT_SECS) + MARGIN;
    let (response, took) = answered(limit + Duration::from_secs(1), what, request).await;
    eprintln!("{what}: {} in {took:?}", response.status());
    assert!(took <= limit, "{what} answered after {took:?}, more than {limit:?}");
    assert_eq!(
        response.status(),
        503,
        "{what}: {}",
        response.text().await.unwrap_or_default()
    );
    assert!(
        response.headers().contains_key("retry-after"),
        "{what}: a 503 says when to retry"
    );
    assert_problem(response, 503).await;
}

// ---------------------------------------------------------------------------------------------
// A database that vanishes: a TCP proxy between the app and Postgres.

/// What the proxy does with connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    /// Forwards to Postgres.
    Up,
    /// Closes every open connection and each new one as soon as it is accepted.
    Refused,
    /// Closes every open connection and holds new ones unanswered (a partitioned host); when the
    /// link comes back they are forwarded, as a healed network would deliver them.
    Blackholed,
}

/// A TCP proxy on loopback with a switch: cutting it drops every forwarded connection at once.
struct Proxy {
    port: u16,
    link: watch::Sender<Link>,
    /// Connections being forwarded to Postgres now.
    open: Arc<AtomicUsize>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy binds");
        let port = listener.local_addr().unwrap().port();
        let (link, template) = watch::channel(Link::Up);
        let open = Arc::new(AtomicUsize::new(0));
        let counter = open.clone();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(forward(client, upstream, template.clone(), counter.clone()));
            }
        });
        Proxy {
            port,
            link,
            open,
            accept,
        }
    }

    fn open_connections(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    fn set(&self, link: Link) {
        self.link.send_replace(link);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.link.send_replace(Link::Refused);
    }
}

async fn forward(mut client: TcpStream, upstream: SocketAddr, mut link: watch::Receiver<Link>, open: Arc<AtomicUsize>) {
    let up = match link.wait_for(|state| *state != Link::Blackholed).await {
        Ok(state) => *state == Link::Up,
        Err(_) => false,
    };
    if !up {
        return;
    }
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    open.fetch_add(1, Ordering::SeqCst);
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        _ = link.wait_for(|state| *state != Link::Up) => {}
    }
    open.fetch_sub(1, Ordering::SeqCst);
}

/// The Postgres server of `TEST_POSTGRES_URL`, as a socket address.
async fn postgres_address(server: &str) -> SocketAddr {
    let url = url::Url::parse(server).expect("TEST_POSTGRES_URL is a URL");
    let host = url.host_str().unwrap_or("127.0.0.1").to_string();
    let port = url.port().unwrap_or(5432);
    let mut addresses = tokio::net::lookup_host((host.as_str(), port))
        .await
        .expect("Postgres host resolves");
    addresses.next().expect("an address")
}

/// Reads, a write and `/readyz` all answer 503 in time while the database is away; `/healthz`
/// still answers 200.
async fn assert_outage(app: &TestApp, kpi: &str, etag: &str, admin: &str, when: &str) {
    let limit = Duration::from_secs(POOL_TIMEOUT_SECS) + MARGIN;
    let client = &app.client;
    tokio::join!(
        assert_unavailable(
            format!("{when}: GET /api/v1/goals"),
            client.get(app.url("/api/v1/goals"))
        ),
        assert_unavailable(format!("{when}: GET {kpi}"), client.get(app.url(kpi))),
        assert_unavailable(
            format!("{when}: PATCH {kpi}"),
            client
                .patch(app.url(kpi))
                .bearer_auth(admin)
                .header("If-Match", etag)
                .json(&json!({"name": format!("届かない変更 ({when})")}))
        ),
        assert_unavailable(format!("{when}: GET /readyz"), client.get(app.url("/readyz"))),
    );
    let (response, _) = answered(limit, &format!("{when}: GET /healthz"), client.get(app.url("/healthz"))).await;
    assert_eq!(response.status(), 200, "{when}: the process itself stays alive");
}

/// After the database is back, the same app serves again: waits (bounded) until readiness says
/// so, then every following request must succeed — more requests than the pool has connections,
/// so a connection that died in the outage and stayed pooled would show.
async fn assert_recovers(app: &TestApp, kpi: &str, when: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    loop {
        let request = app.client.get(app.url("/readyz"));
        let (response, _) = answered(Duration::from_secs(15), &format!("{when}: GET /readyz"), request).await;
        seen.push(response.status().as_u16());
        if response.status() == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{when}: /readyz did not answer 200 within 30 s of the database coming back: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for round in 0..4 {
        for path in ["/readyz", "/api/v1/goals", kpi] {
            let request = app.client.get(app.url(path));
            let (response, _) = answered(Duration::from_secs(15), &format!("{when}: GET {path}"), request).await;
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            assert_eq!(
                status, 200,
                "{when}: GET {path} (round {round} after /readyz recovered) answered {status}: {body}"
            );
        }
    }
}

/// The PATCH under `etag` succeeds (so no earlier, refused attempt was applied) and bumps the
/// version by one; returns the new ETag.
async fn patch_kpi(app: &TestApp, kpi: &str, etag: &str, admin: &str, name: &str, version: i64) -> String {
    let body = json!({ "name": name });
    let response = app.send(Method::PATCH, kpi, Some(admin), Some(etag), Some(&body)).await;
    let status = response.status();
    let new_etag = response
        .headers()
        .get("etag")
        .map(|value| value.to_str().unwrap().to_string());
    let text = response.text().await.unwrap();
    assert_eq!(status, 200, "PATCH {kpi} with the ETag from before the outage: {text}");
    let record: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(record["version"], version, "{record}");
    assert_eq!(record["name"], name, "{record}");
    new_etag.expect("a PATCH answers with the new ETag")
}

/// Postgres goes away twice behind a proxy — once refusing connections, once holding them
/// unanswered — with connections open in the pool. Each time reads, a write and `/readyz` answer
/// 503 problem+json with `Retry-After` within the pool timeout (plus a margin), and the same app
/// serves again once the database is back, without a restart. The refused writes were not
/// applied: the ETag from before each outage still matches afterwards, and the audit record holds
/// exactly the two writes that succeeded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vanished_database_answers_503_in_time_and_the_same_app_recovers() {
    let Some(server) = postgres_server_url() else {
        eprintln!("skipped: TEST_POSTGRES_URL is not set");
        return;
    };
    bounded(Duration::from_secs(180), "the outage test", async {
        let proxy = Proxy::start(postgres_address(&server).await).await;
        let mut url = url::Url::parse(&seeded_database(Backend::Postgres)).unwrap();
        url.set_host(Some("127.0.0.1")).unwrap();
        url.set_port(Some(proxy.port)).unwrap();
        let app = spawn_tuned_app_on(url.as_str(), |config| {
            config.pool_size = 4;
            config.pool_timeout_secs = POOL_TIMEOUT_SECS;
        })
        .await;
        let admin = token(&["admin"], None);
        let kpi = "/api/v1/kpis/1";

        // Fill the pool with concurrent reads, so that several open connections are cut.
        for _ in 0..50 {
            let reads = (0..8).map(|_| app.client.get(app.url("/api/v1/projects?limit=500")).send());
            for response in futures_util::future::join_all(reads).await {
                assert_eq!(response.expect("answered").status(), 200);
            }
            if proxy.open_connections() >= 3 {
                break;
            }
        }
        let pooled = proxy.open_connections();
        assert!(
            pooled >= 2,
            "the pool holds several open connections before the cut: {pooled}"
        );
        let mut etag = app.etag(kpi).await;
        let mut version = 1;

        for link in [Link::Refused, Link::Blackholed] {
            proxy.set(link);
            let when = format!("{link:?}");
            assert_outage(&app, kpi, &etag, &admin, &format!("{when}, open connections cut")).await;
            assert_outage(&app, kpi, &etag, &admin, &format!("{when}, no new connection")).await;
            proxy.set(Link::Up);
            assert_recovers(&app, kpi, &format!("after {when}")).await;
            version += 1;
            etag = patch_kpi(&app, kpi, &etag, &admin, &format!("障害後の変更 ({when})"), version).await;
        }

        let audit = app
            .send(Method::GET, "/api/v1/audit?resource=kpi&id=1", Some(&admin), None, None)
            .await;
        assert_eq!(audit.status(), 200);
        let audit: Value = audit.json().await.unwrap();
        let versions: Vec<&Value> = audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|entry| &entry["after"]["version"])
            .collect();
        assert_eq!(
            versions,
            [&json!(2), &json!(3)],
            "only the writes that succeeded: {audit}"
        );
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// A pool whose only connection is held by a request waiting on a lock.

/// Another client holding the write lock (SQLite) or an exclusive lock on `kpis` (Postgres), as a
/// long transaction or a migration would; released on drop.
struct HeldLock(strategy_api::db::DbConnection);

impl HeldLock {
    fn take(backend: Backend, url: &str) -> HeldLock {
        let mut conn = strategy_api::db::Backend::from_url(url)
            .connect()
            .expect("lock holder connects");
        let statement = match backend {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN; LOCK TABLE kpis IN ACCESS EXCLUSIVE MODE",
        };
        conn.batch_execute(statement).expect("lock taken");
        HeldLock(conn)
    }
}

impl Drop for HeldLock {
    fn drop(&mut self) {
        let _ = self.0.batch_execute("ROLLBACK");
    }
}

on_both_backends! {
    /// With a pool of one connection held by a write waiting on another client's lock, a read
    /// answers 503 problem+json with `Retry-After` within the pool timeout (plus a margin) instead
    /// of queueing behind it; once the lock goes, the held write completes (200, version 2) and
    /// reads answer 200 again.
    async fn an_exhausted_pool_answers_503_in_time_and_the_held_write_completes(backend) {
        bounded(Duration::from_secs(90), "the pool exhaustion test", async {
            let url = seeded_database(backend);
            // One second: well inside SQLite's 5 s busy timeout, so the held write can still win.
            let pool_timeout = 1;
            let app = spawn_tuned_app_on(&url, |config| {
                config.pool_size = 1;
                config.pool_timeout_secs = pool_timeout;
            })
            .await;
            let admin = token(&["admin"], None);
            let kpi = "/api/v1/kpis/2";
            let etag = app.etag(kpi).await;
            let other = "/api/v1/kpis/3";
            let other_etag = app.etag(other).await;
            app.json("/api/v1/goals").await;

            let lock = HeldLock::take(backend, &url);
            let write = tokio::spawn(
                app.client
                    .patch(app.url(kpi))
                    .bearer_auth(&admin)
                    .header("If-Match", etag)
                    .json(&json!({"name": "待たされた変更"}))
                    .send(),
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
            assert!(!write.is_finished(), "the write waits on the lock, holding the only connection");

            let limit = Duration::from_secs(pool_timeout) + MARGIN;
            // Not read before: the response cache would answer a repeated read without a connection.
            let read = app.client.get(app.url("/api/v1/goals?sort=-id"));
            let (response, took) = answered(limit + Duration::from_secs(1), "GET /api/v1/goals", read).await;
            assert!(took <= limit, "an exhausted pool answered after {took:?}, more than {limit:?}");
            assert!(
                took >= Duration::from_millis(900),
                "the read waited for a connection before giving up ({took:?}), so it met an exhausted pool"
            );
            assert!(response.headers().contains_key("retry-after"), "a 503 says when to retry");
            assert_problem(response, 503).await;
            // A read answered before is served from the response cache, whose version check needs no
            // pooled connection on either backend (on Postgres it has a connection of its own): the
            // write holding the pool has not committed, so the cached answer is still exact.
            let cached = app.get("/api/v1/goals").await;
            assert_eq!(cached.status(), 200, "the cached read is answered");
            // A second write gives up the same way, and must then never happen: the client was told it failed.
            let refused = app
                .client
                .patch(app.url(other))
                .bearer_auth(&admin)
                .header("If-Match", other_etag)
                .json(&json!({"name": "諦められた変更"}));
            let (refused, _) = answered(limit + Duration::from_secs(1), "the queued PATCH", refused).await;
            assert_problem(refused, 503).await;
            assert!(!write.is_finished(), "the write was still holding the connection");

            drop(lock);
            let response = bounded(Duration::from_secs(10), "the held write", write)
                .await
                .expect("task")
                .expect("the held write is answered");
            let status = response.status();
            let text = response.text().await.unwrap();
            assert_eq!(status, 200, "the held write completes once the lock goes: {text}");
            assert_eq!(serde_json::from_str::<Value>(&text).unwrap()["version"], 2);
            assert_eq!(app.json(kpi).await["name"], "待たされた変更");
            app.json("/api/v1/goals").await;
            tokio::time::sleep(Duration::from_millis(500)).await;
            let untouched = app.json(other).await;
            assert_eq!(untouched["version"], 1, "the refused write never ran: {untouched}");
            assert_ne!(untouched["name"], "諦められた変更");
        })
        .await;
    }
}

// ---------------------------------------------------------------------------------------------
// SIGTERM during writes: the real binary, stopped and started again on one SQLite file.

/// Seconds the service may take to finish in-flight requests after SIGTERM (`SHUTDOWN_GRACE_SECS`).
const GRACE_SECS: u64 = 5;
/// KPIs 1..=WRITERS each have one writer; KPI WRITERS + 1 gets a slow request that is in flight at
/// SIGTERM and then completes, KPI WRITERS + 2 one whose client never finishes sending it.
const WRITERS: i64 = 4;
const ROUNDS: usize = 3;

/// What became of one write.
#[derive(Debug, Clone)]
enum Outcome {
    /// 200: the service says the write is done, as this version.
    Acknowledged { version: i64 },
    /// A 503 while stopping: refused, so it must not have been applied.
    Refused,
    /// No connection could be made: it never reached the service.
    NotConnected,
    /// The client never finished sending the body: it must not have been applied.
    Unfinished,
    /// The connection failed after the request went out: it may or may not have been applied.
    Unknown(String),
}

#[derive(Debug, Clone)]
struct Attempt {
    kpi: i64,
    name: String,
    started: Instant,
    outcome: Outcome,
}

/// PATCHes one KPI's name again and again (each under the ETag of the previous answer) until the
/// service stops answering.
async fn write_until_stopped(
    client: reqwest::Client,
    base: String,
    admin: String,
    kpi: i64,
    round: usize,
) -> Vec<Attempt> {
    let path = format!("{base}/api/v1/kpis/{kpi}");
    let response = client.get(&path).send().await.expect("GET before writing");
    assert_eq!(response.status(), 200);
    let mut etag = response.headers()["etag"].to_str().unwrap().to_string();
    let mut attempts = Vec::new();
    for n in 0..5000 {
        let name = format!("停止試験 r{round} k{kpi} n{n}");
        let started = Instant::now();
        let sent = client
            .patch(&path)
            .bearer_auth(&admin)
            .header("If-Match", &etag)
            .json(&json!({ "name": name }))
            .send()
            .await;
        let outcome = match sent {
            Ok(response) => {
                let status = response.status();
                let next_etag = response
                    .headers()
                    .get("etag")
                    .map(|value| value.to_str().unwrap().to_string());
                match response.text().await {
                    Ok(text) if status == 200 => {
                        let record: Value = serde_json::from_str(&text).expect("JSON record");
                        assert_eq!(record["name"], name.as_str(), "{record}");
                        etag = next_etag.expect("ETag of the write");
                        Outcome::Acknowledged {
                            version: record["version"].as_i64().unwrap(),
                        }
                    }
                    Ok(_) if status == 503 => Outcome::Refused,
                    Ok(text) => panic!("PATCH {path} answered {status}: {text}"),
                    Err(error) => Outcome::Unknown(format!("{status}, then the body failed: {error}")),
                }
            }
            Err(error) if error.is_connect() => Outcome::NotConnected,
            Err(error) => Outcome::Unknown(format!("{error:?}")),
        };
        let done = !matches!(outcome, Outcome::Acknowledged { .. });
        attempts.push(Attempt {
            kpi,
            name,
            started,
            outcome,
        });
        if done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    attempts
}

/// A PATCH whose body is half sent, over a raw connection: in flight for as long as the test
/// wants. `finish` sends the rest and returns the status and the JSON body.
struct SlowWrite {
    stream: TcpStream,
    rest: Vec<u8>,
}

impl SlowWrite {
    async fn begin(port: u16, kpi: i64, etag: &str, admin: &str, name: &str) -> SlowWrite {
        let body = serde_json::to_vec(&json!({ "name": name })).unwrap();
        let head = format!(
            "PATCH /api/v1/kpis/{kpi} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {admin}\r\n\
             If-Match: {etag}\r\nContent-Type: application/merge-patch+json\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n",
            body.len()
        );
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.expect("connects");
        let half = body.len() / 2;
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(&body[..half]).await.unwrap();
        stream.flush().await.unwrap();
        SlowWrite {
            stream,
            rest: body[half..].to_vec(),
        }
    }

    async fn finish(mut self) -> (u16, Value) {
        self.stream
            .write_all(&self.rest)
            .await
            .expect("the in-flight request's connection is still open after SIGTERM");
        let mut answer = Vec::new();
        self.stream
            .read_to_end(&mut answer)
            .await
            .expect("the in-flight request is answered, not reset");
        let text = String::from_utf8_lossy(&answer).to_string();
        let (head, body) = text
            .split_once("\r\n\r\n")
            .unwrap_or_else(|| panic!("the in-flight request got no HTTP answer: {text:?}"));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("no status line: {head}"));
        let chunked = head.to_ascii_lowercase().contains("transfer-encoding: chunked");
        let body = if chunked { dechunk(body) } else { body.to_string() };
        (status, serde_json::from_str(&body).unwrap_or(Value::String(body)))
    }
}

fn dechunk(mut text: &str) -> String {
    let mut body = String::new();
    while let Some((size, rest)) = text.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 || rest.len() < size {
            break;
        }
        body.push_str(&rest[..size]);
        text = rest[size..].trim_start_matches("\r\n");
    }
    body
}

/// Does a connection opened now get an HTTP answer? (After SIGTERM it must not.)
async fn served_on_new_connection(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    let request = format!("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).await.is_err() {
        return false;
    }
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), stream.read_to_end(&mut answer)).await;
    answer.starts_with(b"HTTP/1.1 200")
}

/// The current ETag of a record.
async fn etag_of(client: &reqwest::Client, url: &str) -> String {
    let response = client.get(url).send().await.expect("GET answered");
    assert_eq!(response.status(), 200, "GET {url}");
    response.headers()["etag"].to_str().unwrap().to_string()
}

/// Every audited write of one KPI, following the pages.
async fn audit_of(client: &reqwest::Client, base: &str, admin: &str, kpi: i64) -> Vec<Value> {
    let mut entries = Vec::new();
    loop {
        let url = format!(
            "{base}/api/v1/audit?resource=kpi&id={kpi}&limit=500&offset={}",
            entries.len()
        );
        let response = client.get(url).bearer_auth(admin).send().await.expect("audit read");
        assert_eq!(response.status(), 200);
        let page: Value = response.json().await.unwrap();
        entries.extend(page["items"].as_array().unwrap().iter().cloned());
        if entries.len() as u64 >= page["total"].as_u64().unwrap() {
            return entries;
        }
    }
}

/// The service on a SQLite file is stopped with SIGTERM in the middle of concurrent writes and
/// started again, several times. Each time: a request in flight when the signal comes (its body
/// half sent) is completed with 200; no write sent well before the signal loses its connection;
/// new connections stop being served soon after it; the process exits with success within the
/// grace period (`SHUTDOWN_GRACE_SECS`) plus a margin even though another client never finishes
/// its request, and that request is not applied. At the end, every acknowledged write is there:
/// each KPI's audit record holds each acknowledged write exactly once with the acknowledged name
/// and version, versions follow one another without a gap (no change without its audit record,
/// none half-applied), no write appears that was never sent, and the record is its last audited
/// state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_in_flight_writes_and_no_acknowledged_write_is_lost() {
    bounded(Duration::from_secs(240), "the shutdown test", async {
        let database = fresh_database(Backend::Sqlite);
        let log = PathBuf::from(format!("{database}.log"));
        let admin = sign(&claims(&["admin"], None), TEST_SECRET);
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let mut attempts: Vec<Attempt> = Vec::new();
        let slow_kpi = WRITERS + 1;
        let stuck_kpi = WRITERS + 2;

        for round in 0..ROUNDS {
            let mut service = Service::start(&database, &log, &[("SHUTDOWN_GRACE_SECS", &GRACE_SECS.to_string())]);
            service.wait_ready(&client).await;
            let base = service.url("");
            let writers: Vec<_> = (1..=WRITERS)
                .map(|kpi| {
                    tokio::spawn(write_until_stopped(
                        client.clone(),
                        base.clone(),
                        admin.clone(),
                        kpi,
                        round,
                    ))
                })
                .collect();
            tokio::time::sleep(Duration::from_millis(1500)).await;

            let slow_name = format!("停止試験 r{round} 処理中");
            let etag = etag_of(&client, &service.url(&format!("/api/v1/kpis/{slow_kpi}"))).await;
            let slow = SlowWrite::begin(service.port, slow_kpi, &etag, &admin, &slow_name).await;
            let stuck_name = format!("停止試験 r{round} 未完");
            let etag = etag_of(&client, &service.url(&format!("/api/v1/kpis/{stuck_kpi}"))).await;
            let stuck = SlowWrite::begin(service.port, stuck_kpi, &etag, &admin, &stuck_name).await;
            tokio::time::sleep(Duration::from_millis(200)).await;

            let terminated = Instant::now();
            service.terminate();
            // The listener closes soon after the signal (bounded: a loaded machine may be slow to
            // handle it); connections opened before that are still served, which is fine.
            let mut served_after = true;
            while served_after && terminated.elapsed() < Duration::from_secs(3) {
                tokio::time::sleep(Duration::from_millis(100)).await;
                served_after = served_on_new_connection(service.port).await;
            }

            let finished = bounded(
                Duration::from_secs(GRACE_SECS + 10),
                "the in-flight request",
                slow.finish(),
            );
            let (status, record) = finished.await;
            let tail = service.log_tail();
            assert_eq!(
                status, 200,
                "the request in flight at SIGTERM completes: {record}\n{tail}"
            );
            attempts.push(Attempt {
                kpi: slow_kpi,
                name: slow_name,
                started: terminated,
                outcome: Outcome::Acknowledged {
                    version: record["version"].as_i64().unwrap(),
                },
            });

            let limit = Duration::from_secs(GRACE_SECS) + Duration::from_secs(10);
            let (exit, exited_after) = service.wait_exit(terminated, limit).await;
            drop(stuck);
            attempts.push(Attempt {
                kpi: stuck_kpi,
                name: stuck_name,
                started: terminated,
                outcome: Outcome::Unfinished,
            });
            let mut round_attempts = Vec::new();
            for writer in writers {
                let written = bounded(Duration::from_secs(30), "a writer", writer).await;
                round_attempts.extend(written.expect("writer task"));
            }
            let acknowledged = |attempt: &&Attempt| matches!(attempt.outcome, Outcome::Acknowledged { .. });
            let after_signal = round_attempts
                .iter()
                .filter(acknowledged)
                .filter(|attempt| attempt.started > terminated)
                .count();
            let endings: Vec<&Outcome> = round_attempts
                .iter()
                .filter(|attempt| !acknowledged(attempt))
                .map(|attempt| &attempt.outcome)
                .collect();
            eprintln!(
                "round {round}: {} writes, {} acknowledged ({after_signal} sent after SIGTERM); \
                 {exit} {exited_after:?} after SIGTERM; last attempts: {endings:?}",
                round_attempts.len(),
                round_attempts.iter().filter(acknowledged).count(),
            );
            let tail = service.log_tail();
            assert!(
                exit.success(),
                "the service exits with success after SIGTERM: {exit}\n{tail}"
            );
            assert!(!served_after, "connections opened 3 s after SIGTERM were still served");
            for kpi in 1..=WRITERS {
                assert!(
                    round_attempts.iter().any(|attempt| attempt.kpi == kpi
                        && attempt.started < terminated
                        && matches!(attempt.outcome, Outcome::Acknowledged { .. })),
                    "round {round}: the writer of KPI {kpi} had writes acknowledged before SIGTERM"
                );
            }
            let margin = Duration::from_millis(500);
            for attempt in &round_attempts {
                let lost = match &attempt.outcome {
                    Outcome::Unknown(error) => Some(error.as_str()),
                    Outcome::NotConnected => Some("not connected"),
                    _ => None,
                };
                if let (Some(error), true) = (lost, attempt.started + margin < terminated) {
                    panic!(
                        "a write sent {:?} before SIGTERM lost its connection ({error}): {}\n{}",
                        terminated - attempt.started,
                        attempt.name,
                        service.log_tail()
                    );
                }
            }
            attempts.extend(round_attempts);
        }

        let mut service = Service::start(&database, &log, &[("SHUTDOWN_GRACE_SECS", &GRACE_SECS.to_string())]);
        service.wait_ready(&client).await;
        let base = service.url("");
        for kpi in 1..=stuck_kpi {
            let sent: Vec<&Attempt> = attempts.iter().filter(|attempt| attempt.kpi == kpi).collect();
            let response = client.get(format!("{base}/api/v1/kpis/{kpi}")).send().await.unwrap();
            assert_eq!(response.status(), 200);
            let record: Value = response.json().await.unwrap();
            let audit = audit_of(&client, &base, &admin, kpi).await;

            let mut expected_version = 1;
            for entry in &audit {
                let (before, after) = (&entry["before"], &entry["after"]);
                assert_eq!(entry["operation"], "update", "{entry}");
                let follows = "versions follow one another";
                assert_eq!(before["version"], expected_version, "KPI {kpi}: {follows}: {entry}");
                expected_version += 1;
                assert_eq!(after["version"], expected_version, "KPI {kpi}: {entry}");
                let name = after["name"].as_str().unwrap();
                assert!(
                    sent.iter().any(|attempt| attempt.name == name),
                    "KPI {kpi}: an audited write nobody sent: {entry}"
                );
            }
            let last = "the record is as its last audit entry";
            assert_eq!(record["version"], expected_version, "KPI {kpi}: {last}");
            if let Some(last) = audit.last() {
                assert_eq!(record["name"], last["after"]["name"], "KPI {kpi}");
            }

            for attempt in &sent {
                let audited: Vec<&Value> = audit
                    .iter()
                    .filter(|entry| entry["after"]["name"] == attempt.name.as_str())
                    .collect();
                match &attempt.outcome {
                    Outcome::Acknowledged { version } => {
                        let once = "an acknowledged write is audited exactly once";
                        assert_eq!(audited.len(), 1, "KPI {kpi}: {once}: {attempt:?}");
                        assert_eq!(audited[0]["after"]["version"], *version, "KPI {kpi}: {attempt:?}");
                    }
                    Outcome::Refused | Outcome::NotConnected | Outcome::Unfinished => {
                        assert!(
                            audited.is_empty(),
                            "KPI {kpi}: a refused write was applied: {attempt:?}"
                        );
                    }
                    Outcome::Unknown(_) => {
                        assert!(audited.len() <= 1, "KPI {kpi}: a write applied twice: {attempt:?}");
                    }
                }
            }
        }
        let terminated = Instant::now();
        service.terminate();
        let (exit, _) = service
            .wait_exit(terminated, Duration::from_secs(GRACE_SECS + 10))
            .await;
        assert!(exit.success(), "{exit}");
    })
    .await;
}

/// A read stuck behind another client's lock answers 503 problem+json with `Retry-After` once
/// `REQUEST_TIMEOUT_SECS` has passed (long before the pool's own timeout), and reads answer again
/// once the lock goes. Postgres: SQLite readers are never blocked by a writer. The stuck read is
/// one not answered before: the response cache answers a repeated read without touching `kpis`.
#[tokio::test]
async fn a_read_that_outlasts_the_request_timeout_answers_503() {
    if postgres_server_url().is_none() {
        eprintln!("skipped: TEST_POSTGRES_URL is not set");
        return;
    }
    bounded(Duration::from_secs(60), "the request timeout test", async {
        let url = seeded_database(Backend::Postgres);
        let app = spawn_tuned_app_on(&url, |config| {
            config.request_timeout_secs = 1;
            config.pool_timeout_secs = 30;
        })
        .await;
        assert_eq!(app.get("/api/v1/kpis/1").await.status(), 200);
        let lock = HeldLock::take(Backend::Postgres, &url);
        // The data did not change, so the response cache still answers what it answered before.
        assert_eq!(app.get("/api/v1/kpis/1").await.status(), 200);
        let started = Instant::now();
        let response = app.get("/api/v1/kpis/2").await;
        let waited = started.elapsed();
        assert!(
            response.headers().contains_key("retry-after"),
            "{:?}",
            response.headers()
        );
        let problem = assert_problem(response, 503).await;
        assert!(problem["detail"].as_str().unwrap().contains("1 s"), "{problem}");
        assert!(
            waited >= Duration::from_millis(900) && waited < Duration::from_secs(6),
            "answered after {waited:?}"
        );
        drop(lock);
        assert_eq!(app.get("/api/v1/kpis/1").await.status(), 200);
    })
    .await;
}

/// A small filesystem of its own for one test, unmounted on drop.
struct TinyFilesystem(PathBuf);

impl Drop for TinyFilesystem {
    fn drop(&mut self) {
        // Lazily: the app under test may still hold the database file open.
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// A full disk under the SQLite file: writes answer 503 problem+json with `Retry-After` and
/// change nothing, reads go on, and once space is freed writes succeed again without a restart.
/// It mounts a 16 MiB tmpfs, which needs root (as CI has); elsewhere it says why it is skipped.
#[tokio::test]
async fn a_full_disk_refuses_writes_with_503_and_reads_go_on() {
    let mount_point = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("tinyfs-{}", std::process::id()));
    std::fs::create_dir_all(&mount_point).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=16m", "tmpfs"])
        .arg(&mount_point)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !mounted {
        let _ = std::fs::remove_dir(&mount_point);
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    }
    let filesystem = TinyFilesystem(mount_point.clone());
    bounded(Duration::from_secs(60), "the full disk test", async {
        let seeded = seeded_database(Backend::Sqlite);
        let path = mount_point.join("strategy.sqlite3");
        // A checkpointed copy: the seeded database with its WAL folded in.
        let source = strategy_api::db::Backend::from_url(&seeded).connect().unwrap();
        drop(source);
        std::fs::copy(&seeded, &path).unwrap();
        let app = spawn_tuned_app_on(path.to_str().unwrap(), |_| {}).await;
        let admin = token(&["admin"], None);
        let etag = app.etag("/api/v1/goals/1").await;

        // Fill what is left of the filesystem.
        let filler = mount_point.join("filler");
        let mut file = std::fs::File::create(&filler).unwrap();
        let block = vec![0u8; 64 * 1024];
        while file.write_all(&block).is_ok() {}
        let _ = file.sync_all();

        let body = json!({"title": "ディスクがいっぱい"});
        let response = app
            .send(Method::PATCH, "/api/v1/goals/1", Some(&admin), Some(&etag), Some(&body))
            .await;
        assert!(
            response.headers().contains_key("retry-after"),
            "{:?}",
            response.headers()
        );
        let problem = assert_problem(response, 503).await;
        assert!(
            !problem["detail"].as_str().unwrap().contains("disk"),
            "causes stay in the log: {problem}"
        );
        let goal = app.json("/api/v1/goals/1").await;
        assert_eq!(goal["version"], 1, "nothing was written");

        drop(file);
        std::fs::remove_file(&filler).unwrap();
        let response = app
            .send(Method::PATCH, "/api/v1/goals/1", Some(&admin), Some(&etag), Some(&body))
            .await;
        assert_eq!(response.status(), 200, "writes succeed once space is back");
        assert_eq!(app.json("/api/v1/goals/1").await["version"], 2);
    })
    .await;
    drop(filesystem);
}

/// A change stream never ends by itself: on SIGTERM it is told `event: shutdown` and closed, so the
/// service stops at once rather than after the whole grace period.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_change_streams_cleanly() {
    bounded(Duration::from_secs(120), "the stream shutdown test", async {
        let database = fresh_database(Backend::Sqlite);
        let log = PathBuf::from(format!("{database}.log"));
        let client = reqwest::Client::new();
        let mut service = Service::start(&database, &log, &[("SHUTDOWN_GRACE_SECS", &GRACE_SECS.to_string())]);
        service.wait_ready(&client).await;
        let mut stream = client
            .get(service.url("/api/v1/changes/stream?since=0"))
            .send()
            .await
            .unwrap();
        assert_eq!(stream.status(), 200);
        let signalled = Instant::now();
        service.terminate();
        let mut text = String::new();
        while let Some(chunk) = stream.chunk().await.expect("the stream ends cleanly") {
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
        assert!(text.ends_with("event: shutdown\ndata: {}\n\n"), "{text:?}");
        let (status, took) = service.wait_exit(signalled, Duration::from_secs(GRACE_SECS + 10)).await;
        assert!(status.success(), "{status}:\n{}", service.log_tail());
        assert!(
            took < Duration::from_secs(GRACE_SECS - 2),
            "stopped in {took:?}, not at the end of the grace period"
        );
    })
    .await;
}
