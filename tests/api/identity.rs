//! Tokens from an identity provider: key sets by URL and file, rotation, failures of the provider,
//! refused headers, Entra ID and Keycloak token shapes mapped to scopes, revocation by issuer and
//! token id, and tokens limited to a plan. A key-set server runs inside the test, on loopback.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{
    assert_problem, base64url, seeded_database, shared_database, spawn_tuned_app_on, TestApp, TEST_SECRET,
};
use strategy_api::config::Config;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
const ISSUER: &str = "https://idp.example.jp/realms/atsugi";
const AUDIENCE: &str = "strategy-api";

/// The fixture key set's public keys, by kid.
fn public_key(kid: &str) -> Value {
    let text = std::fs::read_to_string(format!("{FIXTURES}/idp-jwks.json")).unwrap();
    let set: Value = serde_json::from_str(&text).unwrap();
    set["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|key| key["kid"] == kid)
        .unwrap_or_else(|| panic!("no fixture key {kid}"))
        .clone()
}

fn key_set(kids: &[&str]) -> Value {
    json!({"keys": kids.iter().map(|kid| public_key(kid)).collect::<Vec<_>>()})
}

/// The private key of a fixture kid, and the algorithm it signs with by default.
fn signing_key(kid: &str) -> EncodingKey {
    let pem = |name: &str| std::fs::read(format!("{FIXTURES}/{name}")).unwrap();
    match kid {
        "rsa-1" | "rsa-2" => EncodingKey::from_rsa_pem(&pem(&format!("idp-{kid}-private.pem"))).unwrap(),
        "p256-1" => EncodingKey::from_ec_pem(&pem("idp-p256-private.pem")).unwrap(),
        "p384-1" => EncodingKey::from_ec_pem(&pem("idp-p384-private.pem")).unwrap(),
        "ed25519-1" => EncodingKey::from_ed_pem(&pem("idp-ed25519-private.pem")).unwrap(),
        other => panic!("no private key {other}"),
    }
}

/// A token signed by the fixture key `signer`, with `alg` and the header's `kid` as given.
fn sign_with(signer: &str, alg: Algorithm, kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_string);
    jsonwebtoken::encode(&header, claims, &signing_key(signer)).expect("token signs")
}

/// A provider token of the fixture key `kid` (its own algorithm), with these extra claims.
fn provider_token(kid: &str, extra: Value) -> String {
    let alg = match kid {
        "rsa-1" | "rsa-2" => Algorithm::RS256,
        "p256-1" => Algorithm::ES256,
        "p384-1" => Algorithm::ES384,
        _ => Algorithm::EdDSA,
    };
    sign_with(kid, alg, Some(kid), &provider_claims(extra))
}

static IDS: AtomicUsize = AtomicUsize::new(0);

fn provider_claims(extra: Value) -> Value {
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "f3b1c2d4-0000-4000-8000-00000000beef",
        "jti": format!("kc-{}-{}", std::process::id(), IDS.fetch_add(1, Ordering::SeqCst)),
        "iat": now,
        "exp": now + 600,
        "scope": "admin",
    });
    for (key, value) in extra.as_object().unwrap() {
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(key);
        } else {
            claims[key] = value.clone();
        }
    }
    claims
}

/// A key-set server on loopback whose answers the test sets, counting the fetches.
#[derive(Clone)]
struct KeyServer {
    url: String,
    state: Arc<Mutex<Answer>>,
    fetches: Arc<AtomicUsize>,
    /// When each fetch arrived, for lifetimes measured between fetches rather than by the test's sleeps.
    arrivals: Arc<Mutex<Vec<Instant>>>,
}

struct Answer {
    status: u16,
    body: String,
    cache_control: Option<String>,
    /// A `Location` header, for a redirect.
    location: Option<String>,
    delay: Duration,
}

impl KeyServer {
    async fn start(keys: Value) -> KeyServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = KeyServer {
            url: format!("http://127.0.0.1:{}/jwks", listener.local_addr().unwrap().port()),
            state: Arc::new(Mutex::new(Answer {
                status: 200,
                body: keys.to_string(),
                cache_control: Some("public, max-age=600".into()),
                location: None,
                delay: Duration::ZERO,
            })),
            fetches: Arc::new(AtomicUsize::new(0)),
            arrivals: Arc::new(Mutex::new(Vec::new())),
        };
        let serving = server.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let serving = serving.clone();
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buffer = [0u8; 1024];
                    while !request.windows(4).any(|window| window == b"\r\n\r\n") {
                        match stream.read(&mut buffer).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buffer[..n]),
                        }
                    }
                    serving.arrivals.lock().unwrap().push(Instant::now());
                    serving.fetches.fetch_add(1, Ordering::SeqCst);
                    let (status, body, cache_control, location, delay) = {
                        let answer = serving.state.lock().unwrap();
                        (
                            answer.status,
                            answer.body.clone(),
                            answer.cache_control.clone(),
                            answer.location.clone(),
                            answer.delay,
                        )
                    };
                    tokio::time::sleep(delay).await;
                    let header = |name: &str, value: Option<String>| {
                        value.map_or(String::new(), |value| format!("{name}: {value}\r\n"))
                    };
                    let response = format!(
                        "HTTP/1.1 {status} Answer\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{}{}Connection: close\r\n\r\n{body}",
                        body.len(),
                        header("Cache-Control", cache_control),
                        header("Location", location),
                    );
                    let _ = stream.write_all(response.as_bytes()).await;
                });
            }
        });
        server
    }

    fn serve(&self, keys: Value) {
        self.state.lock().unwrap().body = keys.to_string();
    }

    fn set(&self, change: impl FnOnce(&mut Answer)) {
        change(&mut self.state.lock().unwrap());
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    /// The time between the arrival of fetch `n` (counted from 1) and the one after it.
    fn gap_after(&self, n: usize) -> Duration {
        let arrivals = self.arrivals.lock().unwrap();
        arrivals[n] - arrivals[n - 1]
    }

    /// Waits until the server has had at least `count` fetches (within `limit`).
    async fn wait_for_fetches(&self, count: usize, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.fetches() < count {
            assert!(
                Instant::now() < deadline,
                "{} fetches within {limit:?}, not {count}",
                self.fetches()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Settings of an app that trusts the fixture issuer, with the key set's lifetimes short enough to test.
fn provider_settings(config: &mut Config) {
    config.jwt_issuer = ISSUER.into();
    config.jwt_audience = AUDIENCE.into();
    config.jwt_jwks_timeout_secs = 1;
    config.jwt_jwks_min_ttl_secs = 1;
    config.jwt_jwks_cooldown_secs = 1;
}

async fn app_with_url(url: &str, server: &KeyServer, adjust: impl FnOnce(&mut Config)) -> TestApp {
    let jwks = server.url.clone();
    let app = spawn_tuned_app_on(url, move |config| {
        provider_settings(config);
        config.jwt_jwks_url = Some(jwks);
        adjust(config);
    })
    .await;
    app
}

/// Waits until `/readyz` says the keys are (or are not) usable.
async fn wait_for_keys(app: &TestApp, loaded: bool) -> Value {
    wait_for_keys_within(app, loaded, Duration::from_secs(10)).await
}

/// The same, for at most `limit`.
async fn wait_for_keys_within(app: &TestApp, loaded: bool, limit: Duration) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let ready = app.json("/readyz").await;
        if ready["verification_keys"]["loaded"] == loaded {
            return ready;
        }
        assert!(
            Instant::now() < deadline,
            "the keys were not loaded={loaded} within {limit:?}: {ready}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `/readyz` once the first fetch of the key set has failed (the second attempt, after a backoff,
/// comes only then), or at once should the keys have loaded.
async fn after_a_failed_fetch(app: &TestApp, server: &KeyServer) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    while server.fetches() < 2 {
        let ready = app.json("/readyz").await;
        if ready["verification_keys"]["loaded"] == true {
            return ready;
        }
        assert!(Instant::now() < deadline, "no second fetch within 15 s: {ready}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.json("/readyz").await
}

/// A write that passes authentication and the scope check and then stops at the missing If-Match
/// (428) without changing anything: 401, 403 and 503 show where a token stops instead.
async fn probe(app: &TestApp, path: &str, token: &str) -> (u16, Value) {
    let response = app.send(Method::DELETE, path, Some(token), None, None).await;
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

const KPI: &str = "/api/v1/kpis/1";
const GOAL: &str = "/api/v1/goals/1";

on_both_backends! {
    /// RS256, PS256, ES256 and EdDSA tokens verify with the key set's keys; a key set that mixes
    /// encryption, symmetric and malformed keys serves the keys that can verify.
    async fn tokens_of_every_key_family_verify(backend) {
        let mut keys = key_set(&["rsa-1", "rsa-2", "p256-1", "p384-1", "ed25519-1"]);
        keys["keys"].as_array_mut().unwrap().extend([
            json!({"kty": "RSA", "use": "enc", "alg": "RSA-OAEP", "kid": "enc-1", "n": public_key("rsa-1")["n"], "e": "AQAB"}),
            json!({"kty": "oct", "kid": "hmac", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"}),
            json!({"kty": "EC", "crv": "P-256", "kid": "broken"}),
            json!("not a key"),
        ]);
        let server = KeyServer::start(keys).await;
        let app = app_with_url(&shared_database(backend), &server, |_| {}).await;
        let ready = wait_for_keys(&app, true).await;
        // rsa-1, rsa-2, p256-1, ed25519-1; p384-1 needs ES384, which is not allowed by default.
        assert_eq!(ready["verification_keys"]["keys"], 4, "{ready}");
        for kid in ["rsa-1", "p256-1", "ed25519-1"] {
            let (status, body) = probe(&app, KPI, &provider_token(kid, json!({}))).await;
            assert_eq!(status, 428, "{kid}: {body}");
        }
        let ps256 = sign_with("rsa-2", Algorithm::PS256, Some("rsa-2"), &provider_claims(json!({})));
        assert_eq!(probe(&app, KPI, &ps256).await.0, 428, "PS256 on an RSA key without its own alg");
        assert_eq!(server.fetches(), 1, "one fetch at start, none per request");
    }
}

on_both_backends! {
    /// Headers that do not fit the key are refused with 401, each with a reason.
    async fn tokens_that_do_not_fit_their_key_are_refused(backend) {
        let server = KeyServer::start(key_set(&["rsa-1", "rsa-2", "p256-1", "ed25519-1"])).await;
        let app = app_with_url(&shared_database(backend), &server, |config| {
            config.jwt_algorithms = "RS256,PS256,ES256,ES384,EdDSA".into();
            // The issuer of the service's own tokens beside the provider's.
            config.jwt_issuer = format!("{ISSUER},{}", crate::helpers::ISSUER);
        })
        .await;
        wait_for_keys(&app, true).await;
        let claims = provider_claims(json!({}));
        // The classic confusion: the RSA public key, which anyone can read, used as an HMAC secret.
        let hs256_with_rsa_kid = {
            let mut header = Header::new(Algorithm::HS256);
            header.kid = Some("rsa-1".into());
            let public_pem = std::fs::read(format!("{FIXTURES}/idp-rsa-1-public.pem")).unwrap();
            jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&public_pem)).unwrap()
        };
        let unsigned = format!(
            "{}.{}.",
            base64url(json!({"alg": "none", "typ": "JWT", "kid": "rsa-1"}).to_string().as_bytes()),
            base64url(claims.to_string().as_bytes())
        );
        let cases = [
            ("HS256 with an RSA kid", hs256_with_rsa_kid),
            ("alg none", unsigned),
            // rsa-1 states alg RS256 in the key set.
            ("PS256 on a key for RS256", sign_with("rsa-1", Algorithm::PS256, Some("rsa-1"), &claims)),
            ("ES384 on a P-256 key", sign_with("p384-1", Algorithm::ES384, Some("p256-1"), &claims)),
            ("RS256 without kid among two RSA keys", sign_with("rsa-1", Algorithm::RS256, None, &claims)),
            ("signed by another key than its kid", sign_with("rsa-2", Algorithm::RS256, Some("rsa-1"), &claims)),
            ("EdDSA on an RSA kid", sign_with("ed25519-1", Algorithm::EdDSA, Some("rsa-1"), &claims)),
            ("wrong issuer", provider_token("rsa-1", json!({"iss": "https://evil.example/"}))),
            ("wrong audience", provider_token("rsa-1", json!({"aud": ["account"]}))),
            ("expired", provider_token("rsa-1", json!({"exp": chrono::Utc::now().timestamp() - 3600}))),
        ];
        for (case, token) in cases {
            let response = app.send(Method::DELETE, KPI, Some(&token), None, None).await;
            let challenge = response.headers().get("www-authenticate").map(|value| value.to_str().unwrap().to_string());
            let problem = assert_problem(response, 401).await;
            assert!(challenge.unwrap_or_default().contains("invalid_token"), "{case}: {problem}");
            assert!(!problem["detail"].as_str().unwrap().contains(&token), "{case}: the token is never echoed");
        }
        // An EdDSA token without kid is fine: it is the only Ed25519 key.
        let lone = sign_with("ed25519-1", Algorithm::EdDSA, None, &claims);
        assert_eq!(probe(&app, KPI, &lone).await.0, 428);
        // The service's own HS256 tokens keep working beside the key set.
        assert_eq!(probe(&app, KPI, &crate::helpers::token(&["kpis:write"], None)).await.0, 428);
    }
}

on_both_backends! {
    /// A deployment with a key set and no `JWT_SECRET` (by URL or by file): the provider's RS256
    /// tokens write, an HS256 token signed with the test secret is refused with 401; the same
    /// HS256 token writes where the secret is set beside the same key set.
    async fn a_key_set_alone_refuses_the_services_own_tokens(backend) {
        let url = shared_database(backend);
        let server = KeyServer::start(key_set(&["rsa-1"])).await;
        let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("jwks-{}-{}.json", std::process::id(), IDS.fetch_add(1, Ordering::SeqCst)));
        std::fs::write(&path, key_set(&["rsa-1"]).to_string()).unwrap();
        // Tokens of the service's own issuer would be accepted, were there a secret to verify them.
        let both_issuers = |config: &mut Config| config.jwt_issuer = format!("{ISSUER},{}", crate::helpers::ISSUER);
        let by_url = app_with_url(&url, &server, |config| {
            both_issuers(config);
            config.jwt_secret = None;
        })
        .await;
        let file = path.clone();
        let by_file = spawn_tuned_app_on(&url, move |config| {
            provider_settings(config);
            both_issuers(config);
            config.jwt_jwks_file = Some(file);
            config.jwt_secret = None;
        })
        .await;
        let with_secret = app_with_url(&url, &server, both_issuers).await;
        let own = crate::helpers::token(&["kpis:write"], None);
        for (source, app) in [("JWT_JWKS_URL", &by_url), ("JWT_JWKS_FILE", &by_file)] {
            let ready = wait_for_keys(app, true).await;
            assert_eq!(ready["verification_keys"]["keys"], 1, "{source}: {ready}");
            let (status, body) = probe(app, KPI, &provider_token("rsa-1", json!({"scope": "kpis:write"}))).await;
            assert_eq!(status, 428, "{source}: the provider's RS256 token: {body}");
            let response = app.send(Method::DELETE, KPI, Some(&own), None, None).await;
            let challenge = response.headers().get("www-authenticate").map(|value| value.to_str().unwrap().to_string());
            let problem = assert_problem(response, 401).await;
            assert!(challenge.unwrap_or_default().contains("invalid_token"), "{source}: {problem}");
            assert!(problem["detail"].as_str().unwrap().contains("HS256"), "{source}: {problem}");
        }
        wait_for_keys(&with_secret, true).await;
        assert_eq!(probe(&with_secret, KPI, &own).await.0, 428, "the same token with JWT_SECRET set");
        let _ = std::fs::remove_file(&path);
    }
}

on_both_backends! {
    /// A new kid causes exactly one fetch, then verifies; fifty invented kids at once cause one
    /// fetch per cooldown; a key removed from the set is refused once the set is fetched again.
    async fn keys_rotate_without_a_restart(backend) {
        let server = KeyServer::start(key_set(&["rsa-1"])).await;
        server.set(|answer| answer.cache_control = Some("max-age=3".into()));
        let app = app_with_url(&shared_database(backend), &server, |config| {
            config.jwt_jwks_cooldown_secs = 2;
        })
        .await;
        wait_for_keys(&app, true).await;
        assert_eq!(server.fetches(), 1);
        tokio::time::sleep(Duration::from_millis(2100)).await;

        server.serve(key_set(&["rsa-1", "rsa-2"]));
        let (status, body) = probe(&app, KPI, &provider_token("rsa-2", json!({}))).await;
        assert_eq!(status, 428, "the new key verifies after one fetch: {body}");
        assert_eq!(server.fetches(), 2, "exactly one fetch for the new kid");
        assert_eq!(probe(&app, KPI, &provider_token("rsa-2", json!({}))).await.0, 428);
        assert_eq!(server.fetches(), 2, "a known kid fetches nothing");

        tokio::time::sleep(Duration::from_millis(2100)).await;
        let before = server.fetches();
        let invented: Vec<_> = (0..50)
            .map(|n| sign_with("rsa-1", Algorithm::RS256, Some(&format!("invented-{n}")), &provider_claims(json!({}))))
            .collect();
        let answers = futures_util::future::join_all(invented.iter().map(|token| probe(&app, KPI, token))).await;
        assert!(answers.iter().all(|(status, _)| *status == 401), "{answers:?}");
        assert!(
            answers[0].1["detail"].as_str().unwrap().contains("not in the identity provider's key set"),
            "{:?}",
            answers[0]
        );
        let after = server.fetches();
        assert!(after - before <= 1, "fifty invented kids fetched {} times", after - before);
        for token in &invented[..10] {
            assert_eq!(probe(&app, KPI, token).await.0, 401);
        }
        assert_eq!(server.fetches(), after, "no fetch within the cooldown");

        // Removed: refused once the set's max-age (3 s) has passed and it was fetched again.
        server.serve(key_set(&["rsa-1"]));
        let fetched = server.fetches();
        for _ in 0..80 {
            if server.fetches() > fetched {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(server.fetches() > fetched, "the set is fetched again after its max-age");
        tokio::time::sleep(Duration::from_millis(200)).await;
        let (status, body) = probe(&app, KPI, &provider_token("rsa-2", json!({}))).await;
        assert_eq!(status, 401, "a removed key is refused: {body}");
        assert_eq!(probe(&app, KPI, &provider_token("rsa-1", json!({}))).await.0, 428);
    }
}

on_both_backends! {
    /// The provider slow (the fetch times out) or failing: the last good keys keep serving up to
    /// the allowed staleness, then writes fail closed with 503 and `/readyz` says so.
    async fn stale_keys_serve_until_the_limit(backend) {
        // Far above what the first part of the test takes (about 3 s from the last good fetch to
        // the probe), so that a loaded machine does not run into the limit before the probe.
        const MAX_STALE_SECS: u64 = 10;
        let server = KeyServer::start(key_set(&["ed25519-1"])).await;
        server.set(|answer| answer.cache_control = Some("max-age=1".into()));
        let app = app_with_url(&shared_database(backend), &server, |config| {
            config.jwt_jwks_max_stale_secs = MAX_STALE_SECS;
        })
        .await;
        wait_for_keys(&app, true).await;
        // Every fetch counted from here on reads this delay, longer than the 1 s timeout.
        server.set(|answer| answer.delay = Duration::from_secs(3));
        let slow_from = server.fetches();
        server.wait_for_fetches(slow_from + 1, Duration::from_secs(15)).await;
        // The slow fetch has timed out (after 1 s) by now.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let ready = app.json("/readyz").await;
        assert_eq!(ready["verification_keys"]["loaded"], true, "{ready}");
        let age = ready["verification_keys"]["age_secs"].as_u64().unwrap();
        assert!(age >= 2, "the keys are past their max-age of 1 s and were not fetched again: {ready}");
        let token = provider_token("ed25519-1", json!({}));
        assert_eq!(probe(&app, KPI, &token).await.0, 428, "a slow provider: stale keys serve");
        server.set(|answer| {
            answer.delay = Duration::ZERO;
            answer.status = 500;
        });
        let ready = wait_for_keys_within(&app, false, Duration::from_secs(40)).await;
        assert!(
            ready["verification_keys"]["age_secs"].as_u64().unwrap() >= MAX_STALE_SECS,
            "the keys serve until the limit, not shorter: {ready}"
        );
        assert_eq!(ready["status"], "ready", "reads are still served: {ready}");
        let response = app.send(Method::DELETE, KPI, Some(&token), None, None).await;
        assert!(response.headers().contains_key("retry-after"));
        let problem = assert_problem(response, 503).await;
        assert!(problem["detail"].as_str().unwrap().contains("keys"), "{problem}");
        assert_eq!(app.get(KPI).await.status(), 200, "reads do not need keys");
    }
}

on_both_backends! {
    /// A key set larger than `JWT_JWKS_MAX_BYTES` is not loaded (writes 503, `/readyz` says the
    /// keys are not loaded), however valid its keys; the same provider's set under the cap loads.
    async fn a_key_set_over_the_size_cap_is_not_loaded(backend) {
        let small = key_set(&["ed25519-1"]);
        let large = key_set(&["rsa-1", "rsa-2", "p256-1", "ed25519-1"]);
        let cap = large.to_string().len() - 1;
        assert!(small.to_string().len() <= cap);
        let server = KeyServer::start(large).await;
        let app = app_with_url(&shared_database(backend), &server, |config| {
            config.jwt_jwks_max_bytes = cap as u64;
        })
        .await;
        let ready = after_a_failed_fetch(&app, &server).await;
        assert_eq!(ready["verification_keys"]["loaded"], false, "{ready}");
        assert_eq!(ready["verification_keys"]["keys"], 0, "{ready}");
        assert_eq!(ready["verification_keys"]["age_secs"], Value::Null, "never loaded: {ready}");
        let token = provider_token("ed25519-1", json!({}));
        let response = app.send(Method::DELETE, KPI, Some(&token), None, None).await;
        let problem = assert_problem(response, 503).await;
        assert!(problem["detail"].as_str().unwrap().contains("not been loaded"), "{problem}");

        server.serve(small);
        let ready = wait_for_keys_within(&app, true, Duration::from_secs(20)).await;
        assert_eq!(ready["verification_keys"]["keys"], 1, "{ready}");
        assert_eq!(probe(&app, KPI, &token).await.0, 428, "a set under the cap loads");
    }
}

on_both_backends! {
    /// A key set served without `Cache-Control: max-age` is kept for `JWT_JWKS_DEFAULT_TTL_SECS`:
    /// not fetched again sooner, and fetched again once that time is over.
    async fn a_key_set_without_max_age_is_kept_for_the_default_lifetime(backend) {
        const DEFAULT_TTL_SECS: u64 = 3;
        let server = KeyServer::start(key_set(&["ed25519-1"])).await;
        server.set(|answer| answer.cache_control = None);
        let app = app_with_url(&shared_database(backend), &server, |config| {
            config.jwt_jwks_default_ttl_secs = DEFAULT_TTL_SECS;
            // Below the default lifetime, so that it is the default that holds the set, not the minimum.
            config.jwt_jwks_min_ttl_secs = 1;
        })
        .await;
        wait_for_keys(&app, true).await;
        // The configured default, not the 10-minute one nor the maximum: the set is fetched again.
        server.wait_for_fetches(2, Duration::from_secs(20)).await;
        let gap = server.gap_after(1);
        assert!(
            gap >= Duration::from_secs(DEFAULT_TTL_SECS),
            "fetched again {gap:?} after the first fetch, sooner than the default lifetime"
        );
        assert_eq!(probe(&app, KPI, &provider_token("ed25519-1", json!({}))).await.0, 428);
    }
}

on_both_backends! {
    /// A `max-age` below `JWT_JWKS_MIN_TTL_SECS` is raised to it: the set is not fetched again
    /// before the minimum, and it is fetched again after it (the max-age was clamped, not ignored).
    async fn a_max_age_below_the_minimum_is_raised_to_it(backend) {
        const MIN_TTL_SECS: u64 = 3;
        let server = KeyServer::start(key_set(&["ed25519-1"])).await;
        server.set(|answer| answer.cache_control = Some("public, max-age=0".into()));
        let app = app_with_url(&shared_database(backend), &server, |config| {
            config.jwt_jwks_min_ttl_secs = MIN_TTL_SECS;
        })
        .await;
        wait_for_keys(&app, true).await;
        server.wait_for_fetches(2, Duration::from_secs(20)).await;
        let gap = server.gap_after(1);
        assert!(
            gap >= Duration::from_secs(MIN_TTL_SECS),
            "fetched again {gap:?} after the first fetch, sooner than the minimum lifetime"
        );
        server.set(|answer| answer.cache_control = Some("max-age=1".into()));
        server.wait_for_fetches(3, Duration::from_secs(20)).await;
        let gap = server.gap_after(2);
        assert!(gap >= Duration::from_secs(MIN_TTL_SECS), "max-age=1: fetched again after {gap:?}");
        assert_eq!(probe(&app, KPI, &provider_token("ed25519-1", json!({}))).await.0, 428);
    }
}

on_both_backends! {
    /// A key server answering with a redirect is not followed: the keys do not load (writes 503)
    /// and the address it redirects to gets no request.
    async fn a_redirect_from_the_key_server_is_not_followed(backend) {
        let target = KeyServer::start(key_set(&["ed25519-1"])).await;
        let server = KeyServer::start(key_set(&["ed25519-1"])).await;
        let location = target.url.clone();
        server.set(|answer| {
            answer.status = 302;
            answer.body = String::new();
            answer.location = Some(location);
        });
        let app = app_with_url(&shared_database(backend), &server, |_| {}).await;
        let ready = after_a_failed_fetch(&app, &server).await;
        assert_eq!(ready["verification_keys"]["loaded"], false, "{ready}");
        assert_eq!(ready["verification_keys"]["keys"], 0, "{ready}");
        let token = provider_token("ed25519-1", json!({}));
        let response = app.send(Method::DELETE, KPI, Some(&token), None, None).await;
        assert_problem(response, 503).await;
        assert_eq!(target.fetches(), 0, "the redirect target is never asked");
    }
}

on_both_backends! {
    /// The provider down when the service starts: it starts, writes answer 503, and once the
    /// provider answers the keys load (retried with backoff) and writes pass.
    async fn the_service_starts_while_the_provider_is_down(backend) {
        let server = KeyServer::start(key_set(&["p256-1"])).await;
        server.set(|answer| answer.status = 503);
        let app = app_with_url(&shared_database(backend), &server, |_| {}).await;
        let token = provider_token("p256-1", json!({}));
        let ready = app.json("/readyz").await;
        assert_eq!(ready["verification_keys"]["loaded"], false, "{ready}");
        let (status, body) = probe(&app, KPI, &token).await;
        assert_eq!(status, 503, "{body}");
        server.set(|answer| answer.status = 200);
        let mut passed = false;
        for _ in 0..100 {
            if probe(&app, KPI, &token).await.0 == 428 {
                passed = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(passed, "writes pass once the provider answers");
        wait_for_keys(&app, true).await;
    }
}

on_both_backends! {
    /// `JWT_JWKS_FILE` is read again after the file is rewritten; a rewrite that does not read
    /// leaves the keys before serving.
    async fn a_key_set_file_is_reloaded_when_it_changes(backend) {
        let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("jwks-{}-{}.json", std::process::id(), IDS.fetch_add(1, Ordering::SeqCst)));
        std::fs::write(&path, key_set(&["rsa-1"]).to_string()).unwrap();
        let file = path.clone();
        let app = spawn_tuned_app_on(&shared_database(backend), move |config| {
            provider_settings(config);
            config.jwt_jwks_file = Some(file);
        })
        .await;
        assert_eq!(probe(&app, KPI, &provider_token("rsa-1", json!({}))).await.0, 428);
        assert_eq!(probe(&app, KPI, &provider_token("rsa-2", json!({}))).await.0, 401);
        tokio::time::sleep(Duration::from_millis(20)).await;
        std::fs::write(&path, key_set(&["rsa-2"]).to_string()).unwrap();
        assert_eq!(probe(&app, KPI, &provider_token("rsa-2", json!({}))).await.0, 428, "the new key");
        assert_eq!(probe(&app, KPI, &provider_token("rsa-1", json!({}))).await.0, 401, "the removed key");
        tokio::time::sleep(Duration::from_millis(20)).await;
        std::fs::write(&path, "{\"keys\": [").unwrap();
        assert_eq!(probe(&app, KPI, &provider_token("rsa-2", json!({}))).await.0, 428, "a broken rewrite keeps the keys");
        let _ = std::fs::remove_file(&path);
    }
}

/// Entra ID's settings as the README gives them.
const TENANT: &str = "8f3e1b7a-2c4d-4e5f-9a0b-1c2d3e4f5a6b";
const CLIENT_ID: &str = "6b9a2f1e-3d4c-4b5a-8f7e-0a1b2c3d4e5f";
/// The Entra group mapped to department 3 (`JWT_DEPT_MAP`), which every writer's token carries.
const PLANNING_GROUP: &str = "0b7c3a52-1111-4e6f-9abc-000000000003";

fn entra_settings(config: &mut Config) {
    config.jwt_issuer = format!("https://login.microsoftonline.com/{TENANT}/v2.0,https://sts.windows.net/{TENANT}/");
    config.jwt_audience = format!("{CLIENT_ID},api://{CLIENT_ID}");
    config.jwt_scope_claims = "/scp,/roles".into();
    config.jwt_scope_map = Some(
        r#"{"Strategy.Admin": ["admin"], "Strategy.KpiEditor": ["kpis:write"], "Strategy.Write": ["kpis:write"]}"#
            .into(),
    );
    config.jwt_id_claims = "/uti".into();
    config.jwt_dept_claim = "/groups".into();
    config.jwt_dept_map = Some(r#"{"0b7c3a52-1111-4e6f-9abc-000000000003": 3}"#.into());
}

/// An Entra ID access token: v1 or v2 issuer, GUID audience, `scp` or `roles`, `uti`, no `jti`.
fn entra_token(version: u8, extra: Value) -> String {
    entra_token_and_id(version, extra).0
}

/// The token and its `uti`.
fn entra_token_and_id(version: u8, extra: Value) -> (String, String) {
    let (issuer, audience) = match version {
        1 => (
            format!("https://sts.windows.net/{TENANT}/"),
            format!("api://{CLIENT_ID}"),
        ),
        _ => (
            format!("https://login.microsoftonline.com/{TENANT}/v2.0"),
            CLIENT_ID.to_string(),
        ),
    };
    let mut claims = provider_claims(json!({
        "iss": issuer,
        "aud": audience,
        "jti": null,
        "scope": null,
        "uti": format!("AAABBBcccDDDeee{}", IDS.fetch_add(1, Ordering::SeqCst)),
        "tid": TENANT,
        "oid": "f3b1c2d4-0000-4000-8000-00000000beef",
        "ver": if version == 1 { "1.0" } else { "2.0" },
        "azp": "11111111-2222-3333-4444-555555555555",
        "groups": [PLANNING_GROUP],
    }));
    for (key, value) in extra.as_object().unwrap() {
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(key);
        } else {
            claims[key] = value.clone();
        }
    }
    let uti = claims["uti"].as_str().unwrap_or_default().to_string();
    (sign_with("rsa-1", Algorithm::RS256, Some("rsa-1"), &claims), uti)
}

on_both_backends! {
    /// Entra-shaped tokens (v1 and v2) map `scp` and `roles` to scopes; a revoked `uti` is refused
    /// for its issuer only; a token without any id is a clear 401.
    async fn entra_id_tokens_map_to_scopes(backend) {
        let url = seeded_database(backend);
        let server = KeyServer::start(key_set(&["rsa-1"])).await;
        let app = app_with_url(&url, &server, entra_settings).await;
        wait_for_keys(&app, true).await;
        for version in [1, 2] {
            let editor = entra_token(version, json!({"scp": "User.Read Strategy.Write"}));
            assert_eq!(probe(&app, KPI, &editor).await.0, 428, "v{version} scp maps to kpis:write");
            let (status, body) = probe(&app, GOAL, &editor).await;
            assert_eq!(status, 403, "v{version}: kpis:write is not admin: {body}");
            let admin = entra_token(version, json!({"roles": ["Strategy.Admin", "Unrelated.Role"]}));
            assert_eq!(probe(&app, GOAL, &admin).await.0, 428, "v{version} app role maps to admin");
            let unmapped = entra_token(version, json!({"scp": "admin", "roles": ["kpis:write"]}));
            assert_eq!(probe(&app, KPI, &unmapped).await.0, 403, "unmapped values grant nothing");
        }
        let no_id = entra_token(2, json!({"scp": "Strategy.Write", "uti": null}));
        let response = app.send(Method::DELETE, KPI, Some(&no_id), None, None).await;
        let problem = assert_problem(response, 401).await;
        assert!(problem["detail"].as_str().unwrap().contains("/uti"), "{problem}");

        // A department from a group; with departments mapped, a writer's token without the group
        // claim (a user without the group, Entra's group overage) reaches nothing.
        let grouped = entra_token(2, json!({"scp": "Strategy.Write", "groups": [PLANNING_GROUP]}));
        assert_eq!(probe(&app, KPI, &grouped).await.0, 428);
        let (status, body) = probe(&app, KPI, &entra_token(2, json!({"scp": "Strategy.Write", "groups": null}))).await;
        assert_eq!(status, 403, "no group claim: {body}");
        assert!(body["detail"].as_str().unwrap().contains("JWT_DEPT_MAP"), "{body}");
        let overage = entra_token(2, json!({"scp": "Strategy.Write", "groups": null, "_claim_names": {"groups": "src1"}}));
        let (status, body) = probe(&app, KPI, &overage).await;
        assert_eq!(status, 403, "group overage: {body}");
        assert!(body["detail"].as_str().unwrap().contains("overage"), "{body}");
        // A revoked uti, keyed by its issuer.
        let (revoked, uti) = entra_token_and_id(2, json!({"scp": "Strategy.Write"}));
        let v2 = format!("https://login.microsoftonline.com/{TENANT}/v2.0");
        strategy_api::db::Database::new(&url, 2, Duration::from_secs(10))
            .run_blocking(|conn| strategy_api::db::write::revoke_token(conn, &v2, &uti, strategy_api::db::now()))
            .unwrap();
        let response = app.send(Method::DELETE, KPI, Some(&revoked), None, None).await;
        assert_problem(response, 401).await;
        let same_id_v1 = entra_token(1, json!({"scp": "Strategy.Write", "uti": uti}));
        assert_eq!(probe(&app, KPI, &same_id_v1).await.0, 428, "the same id from another issuer is not revoked");
    }
}

on_both_backends! {
    /// Keycloak-shaped tokens: `aud` an array, realm and client roles, `jti`; the key set lists an
    /// encryption key beside the signing key, as Keycloak's does.
    async fn keycloak_tokens_map_to_scopes(backend) {
        let mut keys = key_set(&["rsa-2"]);
        keys["keys"].as_array_mut().unwrap().push(
            json!({"kty": "RSA", "use": "enc", "alg": "RSA-OAEP", "kid": "kc-enc", "n": public_key("rsa-1")["n"], "e": "AQAB"}),
        );
        let server = KeyServer::start(keys).await;
        let app = app_with_url(&shared_database(backend), &server, |config| {
            config.jwt_scope_claims = "/realm_access/roles,/resource_access/strategy-api/roles".into();
            config.jwt_scope_map = Some(r#"{"strategy-admin": ["admin"], "kpi-editor": ["kpis:write"]}"#.into());
        })
        .await;
        wait_for_keys(&app, true).await;
        let keycloak = |realm: Value, client: Value| {
            provider_token("rsa-2", json!({
                "aud": ["strategy-api", "account"],
                "typ": "Bearer",
                "azp": "strategy-portal",
                "scope": "openid profile email",
                "realm_access": {"roles": realm},
                "resource_access": {"strategy-api": {"roles": client}, "account": {"roles": ["manage-account"]}},
                "preferred_username": "kikaku-taro",
            }))
        };
        let editor = keycloak(json!(["offline_access", "default-roles-atsugi"]), json!(["kpi-editor"]));
        assert_eq!(probe(&app, KPI, &editor).await.0, 428);
        assert_eq!(probe(&app, GOAL, &editor).await.0, 403);
        let admin = keycloak(json!(["strategy-admin"]), json!([]));
        assert_eq!(probe(&app, GOAL, &admin).await.0, 428);
        let nobody = keycloak(json!(["offline_access"]), json!(["manage-account"]));
        assert_eq!(probe(&app, KPI, &nobody).await.0, 403);
    }
}

/// A KPI's name changed under its ETag by a token: the status of the PATCH.
async fn rename_kpi(app: &TestApp, token: &str, name: &str) -> (u16, Value) {
    let etag = app.etag(KPI).await;
    let response = app
        .send(
            Method::PATCH,
            KPI,
            Some(token),
            Some(&etag),
            Some(&json!({"name": name})),
        )
        .await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

on_both_backends! {
    /// A token limited to a plan writes that plan's records only: by a provider's plan claim (a
    /// code, or a value mapped to one) and by `token issue --plan`; admins are limited too.
    async fn plan_limited_tokens_write_only_their_plan(backend) {
        let url = seeded_database(backend);
        let server = KeyServer::start(key_set(&["ed25519-1"])).await;
        let app = app_with_url(&url, &server, |config| {
            config.jwt_plan_claim = "/city/plan".into();
            config.jwt_plan_map = Some(r#"{"atsugi": "atsugi-2", "ebina": "ebina-2"}"#.into());
        })
        .await;
        wait_for_keys(&app, true).await;
        let limited = |plan: Value| provider_token("ed25519-1", json!({"city": {"plan": plan}}));
        let (status, body) = rename_kpi(&app, &limited(json!("ebina")), "他市の指標").await;
        assert_eq!(status, 403, "another plan's KPI: {body}");
        assert!(body["detail"].as_str().unwrap().contains("ebina-2"), "{body}");
        assert_eq!(app.json(KPI).await["name"].as_str().map(|name| name != "他市の指標"), Some(true));
        let (status, body) = rename_kpi(&app, &limited(json!("atsugi")), "自市の指標").await;
        assert_eq!(status, 200, "its own plan's KPI: {body}");
        assert_eq!(rename_kpi(&app, &limited(json!(["ebina", 1])), "plan id 1 in a list").await.0, 200);
        assert_eq!(rename_kpi(&app, &limited(json!(2)), "plan id 2").await.0, 403);

        // The service's own tokens, issued for a plan on the command line.
        let issue = |plan: &str| {
            let output = std::process::Command::new(env!("CARGO_BIN_EXE_strategy-api"))
                .args(["token", "issue", "--sub", "kikaku", "--scope", "admin", "--plan", plan, "--ttl", "10m"])
                .env("DATABASE_URL", &url)
                .env("JWT_SECRET", TEST_SECRET)
                .env("JWT_ISSUER", ISSUER)
                .env("JWT_AUDIENCE", AUDIENCE)
                .env("RUST_LOG", "error")
                .output()
                .unwrap();
            assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
            String::from_utf8(output.stdout).unwrap().trim().to_string()
        };
        assert_eq!(rename_kpi(&app, &issue("ebina-2"), "CLI 他市").await.0, 403);
        assert_eq!(rename_kpi(&app, &issue("atsugi-2"), "CLI 自市").await.0, 200);
        let goal_etag = app.etag(GOAL).await;
        let response = app
            .send(Method::PATCH, GOAL, Some(&issue("ebina-2")), Some(&goal_etag), Some(&json!({"name": "x"})))
            .await;
        assert_problem(response, 403).await;
        // The audit record spans every plan: a plan-limited admin does not read it.
        let audit = app.send(Method::GET, "/api/v1/audit", Some(&issue("atsugi-2")), None, None).await;
        let problem = assert_problem(audit, 403).await;
        assert!(problem["detail"].as_str().unwrap().contains("every plan"), "{problem}");
    }
}

/// A token of the service's own (HS256), limited to a plan by its `plan` claim (an id or a code).
fn limited_to_plan(scopes: &[&str], plan: Value) -> String {
    let mut claims = crate::helpers::claims(scopes, None);
    claims["plan"] = plan;
    crate::helpers::sign(&claims, TEST_SECRET)
}

/// POSTs a record as a token; answers the status and the body.
async fn post(app: &TestApp, path: &str, token: &str, body: &Value) -> (u16, Value) {
    let response = app.send(Method::POST, path, Some(token), None, Some(body)).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The id of a record that must be created.
async fn created(app: &TestApp, path: &str, token: &str, body: Value) -> i64 {
    let (status, answer) = post(app, path, token, &body).await;
    assert_eq!(status, 201, "POST {path} {body}: {answer}");
    answer["id"].as_i64().unwrap()
}

/// A KPI's result of a year written as a token: the status and the body.
async fn put_result(app: &TestApp, kpi: i64, year: i32, token: &str, etag: Option<&str>, value: &str) -> (u16, Value) {
    let path = format!("/api/v1/kpis/{kpi}/results/{year}");
    let response = app
        .send(Method::PUT, &path, Some(token), etag, Some(&json!({"value": value})))
        .await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// How many goals, measures, initiatives and KPIs there are, and the newest cursor of the change feed.
async fn counts(app: &TestApp) -> (Vec<i64>, i64) {
    let mut counts = Vec::new();
    for collection in ["goals", "measures", "initiatives", "kpis"] {
        counts.push(
            app.json(&format!("/api/v1/{collection}")).await["total"]
                .as_i64()
                .unwrap(),
        );
    }
    (counts, crate::helpers::latest_cursor(app).await)
}

/// How many writes the audit record holds.
async fn audit_total(app: &TestApp, admin: &str) -> i64 {
    let response = app
        .send(Method::GET, "/api/v1/audit?limit=1", Some(admin), None, None)
        .await;
    assert_eq!(response.status(), 200);
    response.json::<Value>().await.unwrap()["total"].as_i64().unwrap()
}

on_both_backends! {
    /// With two plans, a token limited to plan A creates nothing in plan B (the limit checked on the
    /// record as it would be after the change: 403, and no record, feed entry or audit record left)
    /// and writes neither results nor target revisions of plan B's KPIs, while it writes plan A's.
    async fn plan_limited_tokens_create_and_revise_only_in_their_plan(backend) {
        let app = spawn_tuned_app_on(&seeded_database(backend), |_| {}).await;
        let admin = crate::helpers::token(&["admin"], None);
        let plan_a = app.json("/api/v1/plans?code=atsugi-2").await["items"][0]["id"].as_i64().unwrap();
        let plan_b = created(&app, "/api/v1/plans", &admin, json!({
            "code": "ebina-2", "name": "第2期海老名市総合戦略",
            "document_title": "第2期海老名市総合戦略 基本目標別重要業績評価指標（KPI）",
            "municipality_code": "142158", "municipality_name": "海老名市", "prefecture": "神奈川県",
            "period_start_year": 2020, "period_end_year": 2026,
        }))
        .await;
        // Plan B's hierarchy down to a KPI, written by an admin of every plan.
        let goal_b = created(&app, "/api/v1/goals", &admin, json!({"plan_id": plan_b, "code": "1", "number": 1, "category": "海老名", "title": "海老名の基本目標"})).await;
        let measure_b = created(&app, "/api/v1/measures", &admin, json!({"goal_id": goal_b, "code": "1-1", "number": 1, "title": "海老名の施策"})).await;
        let initiative_b = created(&app, "/api/v1/initiatives", &admin, json!({"measure_id": measure_b, "code": "1-1-1", "number": 1, "title": "海老名の取組"})).await;
        let kpi_body = |initiative: i64, code: &str| json!({
            "initiative_id": initiative, "code": code, "name": format!("指標{code}"), "unit": "件",
            "baseline": {"value": "10", "year": 2019, "year_type": "fiscal"},
            "target": {"value": "20", "year": 2026, "year_type": "fiscal"},
        });
        let kpi_b = created(&app, "/api/v1/kpis", &admin, kpi_body(initiative_b, "1-1-1-1")).await;
        let initiative_a = app.json("/api/v1/initiatives?code=1-1-1").await["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|item| item["plan_id"] == plan_a)
            .map(|item| item["id"].as_i64().unwrap())
            .expect("plan A's initiative 1-1-1");
        let kpi_a = created(&app, "/api/v1/kpis", &admin, kpi_body(initiative_a, "1-1-1-90")).await;
        assert_eq!(app.json(&format!("/api/v1/kpis/{kpi_b}")).await["plan_id"], plan_b);
        assert_eq!(app.json(&format!("/api/v1/kpis/{kpi_a}")).await["plan_id"], plan_a);

        let admin_of_a = limited_to_plan(&["admin"], json!(plan_a));
        let editor_of_a = limited_to_plan(&["kpis:write"], json!("atsugi-2"));
        // Creating in plan B: the new record's plan is known only once it is written.
        let before = counts(&app).await;
        let audited = audit_total(&app, &admin).await;
        assert!(audited >= 6, "the admin's writes above are audited: {audited}");
        let refused = [
            ("/api/v1/goals", &admin_of_a, json!({"plan_id": plan_b, "code": "2", "number": 2, "category": "海老名", "title": "越権の基本目標"})),
            ("/api/v1/measures", &admin_of_a, json!({"goal_id": goal_b, "code": "1-2", "number": 2, "title": "越権の施策"})),
            ("/api/v1/initiatives", &admin_of_a, json!({"measure_id": measure_b, "code": "1-1-2", "number": 2, "title": "越権の取組"})),
            ("/api/v1/kpis", &editor_of_a, kpi_body(initiative_b, "1-1-1-2")),
        ];
        for (path, token, body) in &refused {
            let (status, problem) = post(&app, path, token, body).await;
            assert_eq!(status, 403, "POST {path} in plan B: {problem}");
            assert!(problem["detail"].as_str().unwrap().contains(&format!("plan {plan_b}")), "{problem}");
        }
        assert_eq!(counts(&app).await, before, "nothing was created, nothing entered the change feed");
        assert_eq!(audit_total(&app, &admin).await, audited, "no audit record of a refused write");
        // The same tokens create in their own plan.
        created(&app, "/api/v1/goals", &admin_of_a, json!({"plan_id": plan_a, "code": "92", "number": 9, "category": "厚木", "title": "自市の基本目標"})).await;
        created(&app, "/api/v1/kpis", &editor_of_a, kpi_body(initiative_a, "1-1-1-91")).await;

        // Results: a new year and a replaced one of plan B's KPI are refused; plan A's are written.
        let (status, body) = put_result(&app, kpi_b, 2022, &editor_of_a, None, "15").await;
        assert_eq!(status, 403, "a new result of plan B's KPI: {body}");
        assert_eq!(app.get(&format!("/api/v1/kpis/{kpi_b}/results/2022")).await.status(), 404, "not written");
        assert_eq!(put_result(&app, kpi_b, 2023, &admin, None, "16").await.0, 201);
        let result_b = format!("/api/v1/kpis/{kpi_b}/results/2023");
        let etag = app.etag(&result_b).await;
        let (status, body) = put_result(&app, kpi_b, 2023, &editor_of_a, Some(&etag), "99").await;
        assert_eq!(status, 403, "plan B's result replaced: {body}");
        assert_eq!(app.etag(&result_b).await, etag, "the result is unchanged");
        assert_eq!(app.json(&result_b).await["value_text"], "16");
        let (status, body) = put_result(&app, kpi_a, 2022, &editor_of_a, None, "15").await;
        assert_eq!(status, 201, "plan A's KPI: {body}");
        let result_a = format!("/api/v1/kpis/{kpi_a}/results/2022");
        let etag = app.etag(&result_a).await;
        assert_eq!(put_result(&app, kpi_a, 2022, &editor_of_a, Some(&etag), "17").await.0, 200);
        assert_eq!(app.json(&result_a).await["value_text"], "17");

        // Target revisions, under the KPI's current ETag.
        let path_b = format!("/api/v1/kpis/{kpi_b}");
        let before_b = app.json(&path_b).await;
        let etag = app.etag(&path_b).await;
        let revision = json!({"value": "30", "year": 2026, "reason": "上方修正"});
        let response = app
            .send(Method::POST, &format!("{path_b}/target-revisions"), Some(&editor_of_a), Some(&etag), Some(&revision))
            .await;
        let problem = assert_problem(response, 403).await;
        assert!(problem["detail"].as_str().unwrap().contains(&format!("plan {plan_b}")), "{problem}");
        assert_eq!(app.json(&path_b).await, before_b, "plan B's KPI keeps its target and revisions");
        let kpi = app.revise_target(&format!("/api/v1/kpis/{kpi_a}"), &editor_of_a, revision).await;
        assert_eq!(kpi["target"]["value_text"], "30", "{kpi}");
        assert_eq!(kpi["target_revisions"].as_array().map(Vec::len), Some(1), "{kpi}");
    }
}
