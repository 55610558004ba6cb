use reqwest::Method;
use serde_json::json;

use crate::helpers::{seeded_database, spawn_app, spawn_app_on, spawn_tuned_app_on, token};

on_both_backends! {
    /// Every read carries an ETag and Last-Modified; either validator answers 304 with no body;
    /// public caches may keep reads briefly.
    async fn reads_are_conditional_and_cacheable(backend) {
        let app = spawn_app(backend).await;
        for path in ["/api/v1/kpis?goal=1", "/api/v1/kpis/1", "/api/v1/goals/1", "/api/v1/progress", "/api/v1/changes"] {
            let response = app.get(path).await;
            assert_eq!(response.status(), 200, "{path}");
            let etag = response.headers()["etag"].to_str().unwrap().to_string();
            let modified = response.headers()["last-modified"].to_str().unwrap().to_string();
            assert!(etag.starts_with('"') && !etag.starts_with("W/"), "{path}: strong {etag}");
            assert_eq!(response.headers()["cache-control"], "public, max-age=60", "{path}");
            let vary: Vec<&str> = response.headers().get_all("vary").iter().filter_map(|v| v.to_str().ok()).collect();
            assert!(vary.iter().any(|v| v.contains("Accept")), "{path}: Vary {vary:?}");
            let again = app.client.get(app.url(path)).header("If-None-Match", &etag).send().await.unwrap();
            assert_eq!(again.status(), 304, "{path}");
            assert_eq!(again.headers()["etag"], etag.as_str());
            assert!(again.bytes().await.unwrap().is_empty());
            let since = app.client.get(app.url(path)).header("If-Modified-Since", &modified).send().await.unwrap();
            assert_eq!(since.status(), 304, "{path}");
            let stale = app.client.get(app.url(path)).header("If-None-Match", "\"other\"").send().await.unwrap();
            assert_eq!(stale.status(), 200, "{path}");
        }
    }
}

on_both_backends! {
    /// A write anywhere that changes a response changes its ETag and Last-Modified, also as seen
    /// by a second instance on the same database.
    async fn a_write_changes_the_validators_everywhere(backend) {
        let url = seeded_database(backend);
        let first = spawn_app_on(&url).await;
        let second = spawn_app_on(&url).await;
        let path = "/api/v1/goals/1";
        let before = second.get(path).await;
        let etag = before.headers()["etag"].to_str().unwrap().to_string();
        let modified = before.headers()["last-modified"].to_str().unwrap().to_string();
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;

        // Changing a measure changes the goal's tree, so the goal's representation.
        let measure = "/api/v1/measures/1";
        let measure_etag = first.etag(measure).await;
        let changed = first
            .send(Method::PATCH, measure, Some(&token(&["admin"], None)), Some(&measure_etag), Some(&json!({"title": "関係人口を創出する"})))
            .await;
        assert_eq!(changed.status(), 200);
        let after = second.client.get(second.url(path)).header("If-None-Match", &etag).send().await.unwrap();
        assert_eq!(after.status(), 200, "the old ETag no longer matches");
        assert_ne!(after.headers()["etag"].to_str().unwrap(), etag);
        let since = second.client.get(second.url(path)).header("If-Modified-Since", &modified).send().await.unwrap();
        assert_eq!(since.status(), 200, "modified since");
        let collection = second.client.get(second.url("/api/v1/measures")).header("If-None-Match", &etag).send().await.unwrap();
        assert_eq!(collection.status(), 200);
    }
}

on_both_backends! {
    /// Authenticated reads are never stored by caches.
    async fn authenticated_reads_are_not_cached(backend) {
        let app = spawn_app(backend).await;
        // An anonymous read first, which the response cache keeps: the token's read must not get it.
        assert_eq!(app.get("/api/v1/kpis").await.headers()["cache-control"], "public, max-age=60");
        let response = app.client.get(app.url("/api/v1/audit")).bearer_auth(token(&["admin"], None)).send().await.unwrap();
        assert_eq!(response.headers()["cache-control"], "no-store");
        let response = app.client.get(app.url("/api/v1/kpis")).bearer_auth(token(&["admin"], None)).send().await.unwrap();
        assert_eq!(response.headers()["cache-control"], "no-store");
    }
}

on_both_backends! {
    /// Responses are compressed with gzip or brotli when the client accepts it.
    async fn responses_are_compressed_when_accepted(backend) {
        let app = spawn_app(backend).await;
        let plain = app.get("/api/v1/projects?limit=100").await.bytes().await.unwrap();
        for encoding in ["gzip", "br"] {
            let response = app.client.get(app.url("/api/v1/projects?limit=100")).header("Accept-Encoding", encoding).send().await.unwrap();
            assert_eq!(response.headers()["content-encoding"], encoding);
            let compressed = response.bytes().await.unwrap();
            assert!(compressed.len() * 3 < plain.len(), "{encoding}: {} of {}", compressed.len(), plain.len());
        }
    }
}

on_both_backends! {
    /// Browsers on any site may read; only configured sites may write; preflights say so.
    async fn cors_lets_any_site_read_and_no_site_write_by_default(backend) {
        let app = spawn_app(backend).await;
        let preflight = |method: &'static str| {
            app.client
                .request(Method::OPTIONS, app.url("/api/v1/kpis"))
                .header("Origin", "https://opendata.example")
                .header("Access-Control-Request-Method", method)
                .send()
        };
        let read = preflight("GET").await.unwrap();
        assert_eq!(read.status(), 200);
        assert_eq!(read.headers()["access-control-allow-origin"], "https://opendata.example");
        let write = preflight("POST").await.unwrap();
        assert!(write.headers().get("access-control-allow-origin").is_none());
        assert_eq!(write.status(), 400);
        let simple = app.client.get(app.url("/api/v1/kpis/1")).header("Origin", "https://opendata.example").send().await.unwrap();
        assert_eq!(simple.headers()["access-control-allow-origin"], "https://opendata.example");
        let exposed = simple.headers()["access-control-expose-headers"].to_str().unwrap().to_string();
        assert!(exposed.contains("etag") && exposed.contains("link"), "{exposed}");
    }
}

on_both_backends! {
    /// HEAD answers like GET without a body: same validators, and 304 when they match.
    async fn head_answers_like_get_without_a_body(backend) {
        let app = spawn_app(backend).await;
        for path in ["/api/v1/kpis/1", "/api/v1/projects?limit=5"] {
            let get = app.get(path).await;
            let etag = get.headers()["etag"].to_str().unwrap().to_string();
            let length = get.bytes().await.unwrap().len();
            let head = app.client.head(app.url(path)).send().await.unwrap();
            assert_eq!(head.status(), 200, "{path}");
            assert_eq!(head.headers()["etag"].to_str().unwrap(), etag, "{path}");
            assert_eq!(head.headers()["content-length"].to_str().unwrap(), length.to_string(), "{path}");
            assert!(head.bytes().await.unwrap().is_empty());
            let conditional = app.client.head(app.url(path)).header("If-None-Match", &etag).send().await.unwrap();
            assert_eq!(conditional.status(), 304, "{path}");
        }
    }
}

/// Reads the response cache serves (and the ones it must not), as a client sees them.
const CACHED_READS: [(&str, &str); 6] = [
    ("/api/v1/kpis/1", "application/json"),
    ("/api/v1/kpis?limit=500", "application/json"),
    ("/api/v1/kpis?limit=500", "text/csv"),
    ("/api/v1/kpis?q=%E4%BB%B6%E6%95%B0", "application/json"),
    ("/api/v1/goals/1", "application/json"),
    ("/api/v1/projects?limit=5&format=csv", "*/*"),
];

async fn read(app: &crate::helpers::TestApp, path: &str, accept: &str) -> (String, String, String, Vec<u8>) {
    let response = app
        .client
        .get(app.url(path))
        .header("Accept", accept)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path} ({accept})");
    let header = |name: &str| response.headers()[name].to_str().unwrap().to_string();
    let (content_type, etag, modified) = (header("content-type"), header("etag"), header("last-modified"));
    (content_type, etag, modified, response.bytes().await.unwrap().to_vec())
}

/// Status, headers and body as a client receives them (nothing decompressed), but for what may
/// differ between two answers of the same bytes: the date, whether the length is sent ahead or the
/// body chunked, and the order of the CORS exposed headers (a set).
async fn exchange(
    app: &crate::helpers::TestApp,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, std::collections::BTreeMap<String, String>, Vec<u8>) {
    // One host for both instances: links and the pages' structured data give absolute addresses.
    let mut request = app.client.get(app.url(path)).header("host", "strategy.example");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let mut seen = std::collections::BTreeMap::new();
    let framing = ["date", "content-length", "transfer-encoding"];
    for (name, value) in response
        .headers()
        .iter()
        .filter(|(name, _)| !framing.contains(&name.as_str()))
    {
        let mut value = value.to_str().unwrap().to_string();
        if name == "access-control-expose-headers" {
            let mut exposed: Vec<&str> = value.split(", ").collect();
            exposed.sort_unstable();
            value = exposed.join(", ");
        }
        seen.entry(name.to_string())
            .and_modify(|values: &mut String| *values = format!("{values}, {value}"))
            .or_insert(value);
    }
    (
        response.status().as_u16(),
        seen,
        response.bytes().await.unwrap().to_vec(),
    )
}

on_both_backends! {
    /// A response served from the cache is byte for byte what the service builds without one:
    /// body, type, ETag and Last-Modified; JSON and CSV of one path are kept apart; so are the
    /// encodings a client accepts and the site a browser reads from (CORS headers), down to every
    /// header.
    async fn cached_reads_are_the_uncached_bytes(backend) {
        let url = seeded_database(backend);
        let cached = spawn_app_on(&url).await;
        let uncached = spawn_tuned_app_on(&url, |config| config.response_cache_mib = 0).await;
        for (path, accept) in CACHED_READS {
            let first = read(&cached, path, accept).await;
            let again = read(&cached, path, accept).await;
            let reference = read(&uncached, path, accept).await;
            assert_eq!(first, reference, "{path} ({accept}): first read");
            assert_eq!(again, reference, "{path} ({accept}): read again");
        }
        let variants: [&[(&str, &str)]; 5] = [
            &[("accept-encoding", "gzip")],
            &[("accept-encoding", "br")],
            &[("accept-encoding", "gzip, br")],
            &[("origin", "https://opendata.example")],
            &[("origin", "https://other.example"), ("accept-encoding", "gzip")],
        ];
        for path in ["/api/v1/projects?limit=100", "/api/v1/kpis/1", "/plans/1", "/catalog.ttl"] {
            for headers in variants {
                let first = exchange(&cached, path, headers).await;
                let again = exchange(&cached, path, headers).await;
                let reference = exchange(&uncached, path, headers).await;
                assert_eq!(reference.0, 200, "{path} {headers:?}");
                // Headers first: a body mismatch would print kilobytes of compressed bytes.
                assert_eq!((first.0, &first.1), (reference.0, &reference.1), "{path} {headers:?}: first read");
                assert_eq!((again.0, &again.1), (reference.0, &reference.1), "{path} {headers:?}: read again");
                assert!(first.2 == reference.2, "{path} {headers:?}: first read, the body differs");
                assert!(again.2 == reference.2, "{path} {headers:?}: read again, the body differs");
            }
            // Reads the key cannot tell apart are answered but not kept: two Accept-Encoding headers
            // (compressed with the better of both), a preflight's header on a plain read. Neither
            // changes what the next client gets.
            let both = exchange(&cached, path, &[("accept-encoding", "gzip"), ("accept-encoding", "br")]).await;
            assert_eq!(both.1["content-encoding"], "br", "{path}");
            let gzip = exchange(&cached, path, &[("accept-encoding", "gzip")]).await;
            assert_eq!(gzip, exchange(&uncached, path, &[("accept-encoding", "gzip")]).await, "{path}");
            let origin = ("origin", "https://opendata.example");
            let asking = exchange(&cached, path, &[origin, ("access-control-request-method", "POST")]).await;
            assert_eq!(asking.1["access-control-allow-origin"], origin.1, "{path}: a GET is judged as a GET");
            let browser = exchange(&cached, path, &[origin]).await;
            assert_eq!(browser, exchange(&uncached, path, &[origin]).await, "{path}");
            // Each variant is its own entry: a plain read after the compressed ones is not compressed.
            let plain = exchange(&cached, path, &[]).await;
            assert!(!plain.1.contains_key("content-encoding"), "{path}: {:?}", plain.1);
            assert!(!plain.1.contains_key("access-control-allow-origin"), "{path}: {:?}", plain.1);
        }
    }
}

on_both_backends! {
    /// Exact under load: while many clients read one record through one instance, every change
    /// acknowledged by another instance is in the very next read (on Postgres the readers share
    /// version queries; none may be answered by a query sent before the change committed).
    async fn reads_under_load_see_every_acknowledged_write(backend) {
        let url = seeded_database(backend);
        let reader = std::sync::Arc::new(spawn_app_on(&url).await);
        let writer = spawn_app_on(&url).await;
        let kpi = "/api/v1/kpis/1";
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let load: Vec<_> = (0..16)
            .map(|_| {
                let (reader, stop) = (reader.clone(), stop.clone());
                tokio::spawn(async move {
                    let mut reads = 0u32;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        assert_eq!(reader.get(kpi).await.status(), 200);
                        reads += 1;
                    }
                    reads
                })
            })
            .collect();
        for round in 0..20 {
            let name = format!("観光入込客数（第{round}版）");
            let etag = writer.etag(kpi).await;
            let changed = writer
                .send(Method::PATCH, kpi, Some(&token(&["admin"], None)), Some(&etag), Some(&json!({"name": name})))
                .await;
            assert_eq!(changed.status(), 200);
            let seen: serde_json::Value = reader.get(kpi).await.json().await.unwrap();
            assert_eq!(seen["name"], name.as_str(), "round {round}: the read after the write");
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let reads: u32 = futures_util::future::join_all(load).await.into_iter().map(Result::unwrap).sum();
        assert!(reads > 100, "the load ran: {reads} reads");
    }
}

on_both_backends! {
    /// A write through another instance is visible at once on an instance that has the old
    /// responses cached: every cached response is checked against the database's data version.
    async fn the_response_cache_never_serves_what_another_instance_changed(backend) {
        let url = seeded_database(backend);
        let reader = spawn_app_on(&url).await;
        let writer = spawn_app_on(&url).await;
        for (path, accept) in CACHED_READS {
            read(&reader, path, accept).await;
            read(&reader, path, accept).await;
        }
        let kpi = "/api/v1/kpis/1";
        let etag = writer.etag(kpi).await;
        let renamed = "観光入込客数（延べ）件数";
        let changed = writer
            .send(Method::PATCH, kpi, Some(&token(&["admin"], None)), Some(&etag), Some(&json!({"name": renamed})))
            .await;
        assert_eq!(changed.status(), 200);
        // A goal's tree shows its measures.
        let measure = "/api/v1/measures/1";
        let etag = writer.etag(measure).await;
        let retitled = "関係人口を創出する";
        let changed = writer
            .send(Method::PATCH, measure, Some(&token(&["admin"], None)), Some(&etag), Some(&json!({"title": retitled})))
            .await;
        assert_eq!(changed.status(), 200);
        for (path, accept) in CACHED_READS {
            let (_, _, _, body) = read(&reader, path, accept).await;
            let body = String::from_utf8(body).unwrap();
            if path.starts_with("/api/v1/kpis") {
                assert!(body.contains(renamed), "{path} ({accept}) still shows the old name");
            }
            if path.starts_with("/api/v1/goals") {
                assert!(body.contains(retitled), "{path} ({accept}) still shows the old title");
            }
            let (_, _, _, fresh) = read(&writer, path, accept).await;
            assert_eq!(body, String::from_utf8(fresh).unwrap(), "{path} ({accept}): both instances agree");
        }
        let head = reader.client.head(reader.url(kpi)).send().await.unwrap();
        assert_eq!(head.headers()["etag"], writer.etag(kpi).await.as_str());
    }
}
