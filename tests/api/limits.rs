//! Limits that keep one client from exhausting the service: request size, nesting, rate,
//! and slow clients.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{assert_problem, seeded_database, spawn_app, spawn_tuned_app_on, token, Backend};

#[tokio::test]
async fn writes_over_the_rate_limit_get_429_with_retry_after_and_reads_go_on() {
    let app = spawn_tuned_app_on(&seeded_database(Backend::Sqlite), |config| config.write_rate_limit = 2).await;
    let admin = token(&["admin"], None);
    let mut statuses = Vec::new();
    let mut refused = None;
    for _ in 0..8 {
        let response = app
            .client
            .patch(app.url("/api/v1/kpis/1"))
            .bearer_auth(&admin)
            .header("Content-Type", "application/merge-patch+json")
            .body(r#"{"source": "rate test"}"#)
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
        if response.status() == 429 && refused.is_none() {
            refused = Some(response);
        }
    }
    // A burst of twice the rate passes (here 4; they fail later for want of If-Match), the rest wait.
    assert_eq!(
        statuses.iter().filter(|status| **status != 429).count(),
        4,
        "{statuses:?}"
    );
    let refused = refused.expect("a 429");
    let retry_after: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry_after), "Retry-After {retry_after}");
    let problem = assert_problem(refused, 429).await;
    assert!(problem["detail"].as_str().unwrap().contains("retry"), "{problem}");
    assert_eq!(
        app.get("/api/v1/kpis/1").await.status(),
        200,
        "reads are not limited by default"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let later = app
        .client
        .patch(app.url("/api/v1/kpis/1"))
        .bearer_auth(&admin)
        .header("Content-Type", "application/merge-patch+json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_ne!(later.status(), 429, "the budget refills");
}

#[tokio::test]
async fn reads_can_be_rate_limited_too() {
    let app = spawn_tuned_app_on(&seeded_database(Backend::Sqlite), |config| config.read_rate_limit = 1).await;
    let statuses: Vec<u16> = futures_util::future::join_all((0..5).map(|_| app.get("/api/v1/goals")))
        .await
        .iter()
        .map(|response| response.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|status| **status == 200).count(),
        2,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|status| **status == 429).count(),
        3,
        "{statuses:?}"
    );
}

/// A read the response cache answers counts against the client's rate like any other, and its
/// refusal is the usual problem with the usual headers.
#[tokio::test]
async fn cached_reads_are_rate_limited_too() {
    let app = spawn_tuned_app_on(&seeded_database(Backend::Sqlite), |config| config.read_rate_limit = 1).await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let response = app
            .client
            .get(app.url("/api/v1/goals/1"))
            .header("Origin", "https://opendata.example")
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
        if response.status() == 429 {
            assert_eq!(response.headers()["content-type"], "application/problem+json");
            assert_eq!(
                response.headers()["access-control-allow-origin"],
                "https://opendata.example"
            );
            assert_eq!(response.headers()["x-content-type-options"], "nosniff");
            assert!(response.headers().contains_key("retry-after"));
        }
    }
    // A burst of two, then refused, although the second and later reads are in the cache.
    assert_eq!(statuses, [200, 200, 429, 429]);
}

on_both_backends! {
    /// A request target or headers beyond the limits are refused with a problem, not cut or crashed.
    async fn oversized_targets_and_headers_are_refused(backend) {
        let app = spawn_app(backend).await;
        let long_query = format!("/api/v1/kpis?q={}", "a".repeat(5000));
        assert_problem(app.get(&long_query).await, 414).await;
        let response = app
            .client
            .get(app.url("/api/v1/goals"))
            .header("X-Filler", "x".repeat(20_000))
            .send()
            .await
            .unwrap();
        assert_problem(response, 431).await;
        assert_eq!(app.get("/api/v1/goals").await.status(), 200);
    }
}

on_both_backends! {
    /// A body nesting deeper than any record is refused before it is parsed, naming the body.
    async fn deeply_nested_bodies_are_refused(backend) {
        let app = spawn_app(backend).await;
        let deep = format!(r#"{{"source": {}1{}}}"#, "[".repeat(40), "]".repeat(40));
        let etag = app.etag("/api/v1/kpis/1").await;
        let response = app
            .client
            .patch(app.url("/api/v1/kpis/1"))
            .bearer_auth(token(&["admin"], None))
            .header("If-Match", etag)
            .header("Content-Type", "application/merge-patch+json")
            .body(deep)
            .send()
            .await
            .unwrap();
        let problem = assert_problem(response, 400).await;
        assert_eq!(problem["errors"][0]["field"], "body", "{problem}");
        assert!(problem["detail"].as_str().unwrap().contains("body"), "{problem}");
        assert_eq!(app.json("/api/v1/kpis/1").await["version"], 1, "nothing was written");
    }
}

/// A raw TCP connection that has sent `bytes` (perhaps not a whole request) and stays open.
async fn send_raw(host: &str, bytes: &[u8]) -> tokio::net::TcpStream {
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    stream
}

/// The host and port of a test app, for raw TCP clients.
fn authority(address: &str) -> &str {
    address.trim_start_matches("http://")
}

#[tokio::test]
async fn slow_clients_are_cut_off_and_cannot_hold_the_service() {
    let app = spawn_tuned_app_on(&seeded_database(Backend::Sqlite), |config| {
        config.client_timeout_secs = 1
    })
    .await;
    let host = authority(&app.address).to_string();
    // Slow-loris: many connections that never finish their headers, and one that never sends its body.
    let mut loris = Vec::new();
    for _ in 0..50 {
        loris.push(send_raw(&host, b"GET /api/v1/goals HTTP/1.1\r\nHost: x\r\n").await);
    }
    let mut trickle = send_raw(
        &host,
        b"PATCH /api/v1/kpis/1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
    )
    .await;
    let started = Instant::now();
    assert_eq!(
        app.get("/api/v1/goals").await.status(),
        200,
        "others are served meanwhile"
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "served without waiting for the slow ones"
    );

    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), trickle.read_to_end(&mut answer))
        .await
        .expect("the server ends a body that does not arrive")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
    for mut stream in loris {
        let mut rest = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut rest)).await;
        assert!(
            read.is_ok(),
            "the server closes a connection whose headers do not arrive"
        );
    }
    assert_eq!(app.json("/api/v1/kpis/1").await["version"], 1, "nothing was written");
}

on_both_backends! {
    /// No banner says which server or version answers.
    async fn responses_carry_no_server_banner(backend) {
        let app = spawn_app(backend).await;
        for path in ["/api/v1/goals", "/nowhere", "/openapi.json"] {
            let response = app.get(path).await;
            assert!(response.headers().get("server").is_none(), "{path}: {:?}", response.headers());
            assert_eq!(response.headers()["x-content-type-options"], "nosniff", "{path}");
        }
    }
}

/// With `MAX_CONNECTIONS` open, a further client waits until one of them goes, then is served.
#[tokio::test]
async fn connections_beyond_the_limit_wait_for_a_free_one() {
    let app = spawn_tuned_app_on(&seeded_database(Backend::Sqlite), |config| config.max_connections = 2).await;
    let host = authority(&app.address).to_string();
    let mut open = Vec::new();
    for _ in 0..2 {
        // A complete request kept alive: the connection stays open and counted.
        let mut stream = send_raw(&host, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
        let mut first = [0u8; 12];
        stream.read_exact(&mut first).await.unwrap();
        assert_eq!(&first, b"HTTP/1.1 200");
        open.push(stream);
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let refused = client.get(app.url("/api/v1/goals")).send().await;
    assert!(
        refused.is_err(),
        "a third connection is not served while two are open: {refused:?}"
    );
    drop(open.pop());
    let served = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
        .get(app.url("/api/v1/goals"))
        .send()
        .await
        .expect("served once a connection is free");
    assert_eq!(served.status(), 200);
}
