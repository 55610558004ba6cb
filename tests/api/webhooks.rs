//! Webhooks as a receiver sees them: a server on loopback that records every request and answers
//! as the test scripts it (down, slow, redirecting, gone), signatures checked with the Standard
//! Webhooks algorithm written out here, order, retries, crashes and two instances on one database.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{json, Value};
use sha2::Sha256;
use strategy_api::config::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{
    assert_problem, claims, fields_of, latest_cursor, refused_fields, seeded_database, sign, spawn_tuned_app_on, token,
    Service, TestApp, TEST_SECRET,
};

/// How the receiver answers a request.
#[derive(Debug, Clone)]
enum Answer {
    Status(u16),
    /// Answers 200, but only after this long (longer than the service waits).
    Slow(Duration),
    /// Closes the connection without a word.
    Hangs,
    /// 302 to this URL.
    Redirect(String),
    /// 503 with `Retry-After` of this many seconds.
    Busy(u64),
}

/// One request as it arrived, and the status it was answered with (None: no answer).
#[derive(Debug, Clone)]
struct Received {
    id: String,
    timestamp: String,
    signature: String,
    content_type: String,
    body: Vec<u8>,
    answered: Option<u16>,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("the payload is JSON")
    }

    fn cursor(&self) -> i64 {
        self.json()["data"]["cursor"].as_i64().expect("a cursor")
    }
}

struct Inbox {
    received: Vec<Received>,
    script: VecDeque<Answer>,
    otherwise: Answer,
}

#[derive(Clone)]
struct Receiver {
    url: String,
    inbox: Arc<Mutex<Inbox>>,
}

impl Receiver {
    async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let receiver = Receiver {
            url: format!("http://127.0.0.1:{}/hook", listener.local_addr().unwrap().port()),
            inbox: Arc::new(Mutex::new(Inbox {
                received: Vec::new(),
                script: VecDeque::new(),
                otherwise: Answer::Status(204),
            })),
        };
        let serving = receiver.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serving.clone().answer(stream));
            }
        });
        receiver
    }

    async fn answer(self, mut stream: tokio::net::TcpStream) {
        let mut request = Vec::new();
        let mut buffer = [0u8; 4096];
        let head_end = loop {
            if let Some(at) = request.windows(4).position(|window| window == b"\r\n\r\n") {
                break at + 4;
            }
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => request.extend_from_slice(&buffer[..n]),
            }
        };
        let head = String::from_utf8_lossy(&request[..head_end]).to_string();
        let header = |name: &str| {
            head.lines()
                .find_map(|line| {
                    let (key, value) = line.split_once(':')?;
                    key.trim().eq_ignore_ascii_case(name).then(|| value.trim().to_string())
                })
                .unwrap_or_default()
        };
        let length: usize = header("content-length").parse().unwrap_or(0);
        while request.len() < head_end + length {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => request.extend_from_slice(&buffer[..n]),
            }
        }
        let answer = {
            let mut inbox = self.inbox.lock().unwrap();
            let answer = inbox.script.pop_front().unwrap_or_else(|| inbox.otherwise.clone());
            inbox.received.push(Received {
                id: header("webhook-id"),
                timestamp: header("webhook-timestamp"),
                signature: header("webhook-signature"),
                content_type: header("content-type"),
                body: request[head_end..head_end + length].to_vec(),
                answered: match &answer {
                    Answer::Status(status) => Some(*status),
                    Answer::Redirect(_) => Some(302),
                    Answer::Busy(_) => Some(503),
                    Answer::Slow(_) | Answer::Hangs => None,
                },
            });
            answer
        };
        let reply = |status: u16, extra: &str| {
            format!("HTTP/1.1 {status} Answer\r\nContent-Length: 0\r\nConnection: close\r\n{extra}\r\n")
        };
        let text = match answer {
            Answer::Status(status) => reply(status, ""),
            Answer::Redirect(location) => reply(302, &format!("Location: {location}\r\n")),
            Answer::Busy(seconds) => reply(503, &format!("Retry-After: {seconds}\r\n")),
            Answer::Slow(delay) => {
                tokio::time::sleep(delay).await;
                reply(200, "")
            }
            Answer::Hangs => return,
        };
        let _ = stream.write_all(text.as_bytes()).await;
    }

    /// The next requests are answered so, in order; then as `otherwise`.
    fn script(&self, answers: impl IntoIterator<Item = Answer>, otherwise: Answer) {
        let mut inbox = self.inbox.lock().unwrap();
        inbox.script = answers.into_iter().collect();
        inbox.otherwise = otherwise;
    }

    fn received(&self) -> Vec<Received> {
        self.inbox.lock().unwrap().received.clone()
    }

    /// The requests answered 2xx, in the order they arrived.
    fn delivered(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|received| received.answered.is_some_and(|status| (200..300).contains(&status)))
            .collect()
    }

    /// Waits (at most `limit`) until `count` requests were answered 2xx.
    async fn wait_delivered(&self, count: usize, limit: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let delivered = self.delivered();
            if delivered.len() >= count {
                return delivered;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{count} deliveries within {limit:?}; received: {:#?}",
                self.received()
                    .iter()
                    .map(|received| (received.cursor(), received.answered))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits (at most `limit`) until `count` requests arrived, answered or not.
    async fn wait_received(&self, count: usize, limit: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{count} requests within {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Whether a signature header verifies with `secret` as the specification says: HMAC-SHA256 of
/// `id.timestamp.body` with the base64 key after `whsec_`, any `v1,` signature matching.
fn verifies(secret: &str, received: &Received) -> bool {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").expect("a whsec_ secret"))
        .unwrap();
    received.signature.split(' ').any(|signature| {
        let Some(("v1", value)) = signature.split_once(',') else {
            return false;
        };
        let Ok(expected) = STANDARD.decode(value) else {
            return false;
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
        mac.update(format!("{}.{}.", received.id, received.timestamp).as_bytes());
        mac.update(&received.body);
        mac.verify_slice(&expected).is_ok()
    })
}

/// Settings of an instance that delivers webhooks quickly enough to test.
fn delivering(config: &mut Config) {
    config.webhook_workers = 2;
    config.webhook_allow_private_targets = true;
    config.webhook_poll_ms = 100;
    config.webhook_retry_base_ms = 100;
    config.webhook_timeout_secs = 2;
    config.webhook_retry_window_secs = 60;
}

fn admin() -> String {
    token(&["admin"], None)
}

/// Subscribes `url` with the rest of `body`; answers the subscription (with its secret).
async fn subscribe(app: &TestApp, url: &str, mut body: Value) -> Value {
    body["url"] = url.into();
    let response = app
        .send(Method::POST, "/api/v1/webhooks", Some(&admin()), None, Some(&body))
        .await;
    let status = response.status();
    let location = response
        .headers()
        .get("location")
        .map(|value| value.to_str().unwrap().to_string());
    let created: Value = response.json().await.unwrap();
    assert_eq!(status, 201, "{created}");
    assert_eq!(location, Some(format!("/api/v1/webhooks/{}", created["id"])));
    created
}

/// Renames a KPI through `app`; answers the KPI as written.
async fn rename(app: &TestApp, kpi: i64, name: &str) -> Value {
    let path = format!("/api/v1/kpis/{kpi}");
    let etag = app.etag(&path).await;
    let response = app
        .send(
            Method::PATCH,
            &path,
            Some(&admin()),
            Some(&etag),
            Some(&json!({ "name": name })),
        )
        .await;
    assert_eq!(response.status(), 200, "rename {path}");
    response.json().await.unwrap()
}

/// An admin's GET of a webhook path.
async fn admin_get(app: &TestApp, path: &str) -> Value {
    let response = app.send(Method::GET, path, Some(&admin()), None, None).await;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

async fn deliveries(app: &TestApp, webhook: &Value) -> Vec<Value> {
    admin_get(app, &format!("/api/v1/webhooks/{}/deliveries?limit=500", webhook["id"])).await["items"]
        .as_array()
        .unwrap()
        .clone()
}

/// The cursors of the public feed after `start`: what a subscription to everything receives
/// (subscriptions' own changes are audited too, so the feed's cursors have gaps there).
async fn feed_cursors(app: &TestApp, start: i64) -> Vec<i64> {
    app.json(&format!("/api/v1/changes?since={start}")).await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["cursor"].as_i64().unwrap())
        .collect()
}

/// Cursors strictly increasing: each delivered once, in order.
fn assert_in_order(cursors: &[i64]) {
    assert!(
        cursors.windows(2).all(|pair| pair[0] < pair[1]),
        "deliveries out of order or repeated: {cursors:?}"
    );
}

on_both_backends! {
    /// Every change is POSTed signed (verifiable with the secret shown once), in cursor order, with
    /// the feed's item and the record as a GET returns it; the deliveries list says so.
    async fn changes_arrive_signed_in_order_with_the_record(backend) {
        let app = spawn_tuned_app_on(&seeded_database(backend), delivering).await;
        let receiver = Receiver::start().await;
        let webhook = subscribe(&app, &receiver.url, json!({"description": "市公式サイト"})).await;
        let secret = webhook["secret"].as_str().unwrap().to_string();
        assert!(secret.starts_with("whsec_"), "{webhook}");
        assert_eq!((webhook["status"].as_str(), webhook["resources"].as_array().map(Vec::len)), (Some("active"), Some(0)));
        // The secret is shown once: not in a GET, a listing or the audit record.
        let path = format!("/api/v1/webhooks/{}", webhook["id"]);
        let read = admin_get(&app, &path).await;
        assert!(read.get("secret").is_none(), "{read}");
        assert!(!admin_get(&app, "/api/v1/webhooks").await.to_string().contains(&secret));
        assert!(!admin_get(&app, "/api/v1/audit?resource=webhook").await.to_string().contains(&secret));

        let start = latest_cursor(&app).await;
        let mut written = Vec::new();
        for round in 1..=3 {
            written.push(rename(&app, round, &format!("受信の確認 {round}")).await);
        }
        let result = app
            .send(Method::PUT, "/api/v1/kpis/1/results/2023", Some(&admin()), None, Some(&json!({"value": "12"})))
            .await;
        assert!(result.status().is_success(), "{}", result.status());
        let delivered = receiver.wait_delivered(4, Duration::from_secs(10)).await;
        let cursors: Vec<i64> = delivered.iter().map(Received::cursor).collect();
        assert_eq!(cursors, feed_cursors(&app, start).await);
        assert_in_order(&cursors);
        let feed = app.json(&format!("/api/v1/changes?since={start}")).await;
        for (index, received) in delivered.iter().enumerate() {
            assert!(verifies(&secret, received), "signature of {received:?}");
            assert!(!verifies("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", received), "another secret verifies");
            assert!(received.id.starts_with("msg_"), "{received:?}");
            assert_eq!(received.content_type, "application/json");
            let sent_at: i64 = received.timestamp.parse().unwrap();
            assert!((chrono::Utc::now().timestamp() - sent_at).abs() < 300, "timestamp {sent_at}");
            let payload = received.json();
            let item = &feed["items"][index];
            assert_eq!(payload["data"]["cursor"], item["cursor"]);
            assert_eq!(payload["data"]["resource"], item["resource"]);
            assert_eq!(payload["data"]["id"], item["id"]);
            assert_eq!(payload["data"]["occurred_at"], item["occurred_at"]);
            assert_eq!(payload["timestamp"], item["occurred_at"]);
            let expected_type = format!("{}.{}d", item["resource"].as_str().unwrap(), item["operation"].as_str().unwrap());
            assert_eq!(payload["type"], expected_type.as_str());
        }
        assert_eq!(delivered[0].json()["type"], "kpi.updated");
        assert_eq!(delivered[0].json()["data"]["record"], written[0], "the record as the write answered it");
        assert_eq!(delivered[3].json()["type"], "kpi_result.created");
        assert_eq!(delivered[3].json()["data"]["record"], app.json("/api/v1/kpis/1/results/2023").await);

        let listed = deliveries(&app, &webhook).await;
        assert_eq!(listed.len(), 4);
        assert_eq!(listed[0]["cursor"], cursors[3], "newest first");
        for delivery in &listed {
            assert_eq!(delivery["status"], "delivered", "{delivery}");
            assert_eq!(delivery["attempt_count"], 1);
            assert_eq!(delivery["attempts"][0]["status_code"], 204);
            assert!(delivery["next_attempt_at"].is_null());
        }
        let ids: Vec<&str> = delivered.iter().map(|received| received.id.as_str()).collect();
        assert!(listed.iter().all(|delivery| ids.contains(&delivery["message_id"].as_str().unwrap())));
        // A subscription's own changes are in the audit record, not in the public feed.
        let after = app.json(&format!("/api/v1/changes?since={start}")).await;
        assert!(after["items"].as_array().unwrap().iter().all(|item| item["resource"] != "webhook"));
    }
}

on_both_backends! {
    /// Resources, operations and a plan choose what a subscription receives.
    async fn filters_choose_what_is_delivered(backend) {
        let app = spawn_tuned_app_on(&seeded_database(backend), delivering).await;
        let results = Receiver::start().await;
        let renames = Receiver::start().await;
        let elsewhere = Receiver::start().await;
        subscribe(&app, &results.url, json!({"resources": ["kpi_result"], "operations": ["create"]})).await;
        subscribe(&app, &renames.url, json!({"resources": ["kpi", "goal"], "operations": ["update"], "plan_id": 1})).await;
        // A plan of its own, and a subscription to it alone.
        let plan = app
            .send(Method::POST, "/api/v1/plans", Some(&admin()), None, Some(&json!({
                "code": "other-2", "name": "別の戦略", "document_title": "別の戦略", "municipality_code": "142123",
                "municipality_name": "厚木市", "prefecture": "神奈川県", "period_start_year": 2020, "period_end_year": 2024
            })))
            .await;
        assert_eq!(plan.status(), 201);
        let plan: Value = plan.json().await.unwrap();
        subscribe(&app, &elsewhere.url, json!({"plan_id": plan["id"]})).await;

        rename(&app, 1, "フィルタの確認").await;
        let put = app
            .send(Method::PUT, "/api/v1/kpis/2/results/2022", Some(&admin()), None, Some(&json!({"value": "3"})))
            .await;
        assert_eq!(put.status(), 201);
        let etag = app.etag(&format!("/api/v1/plans/{}", plan["id"])).await;
        let renamed = app
            .send(Method::PATCH, &format!("/api/v1/plans/{}", plan["id"]), Some(&admin()), Some(&etag), Some(&json!({"name": "別の戦略（改）"})))
            .await;
        assert_eq!(renamed.status(), 200);

        let result = results.wait_delivered(1, Duration::from_secs(10)).await;
        assert_eq!(result[0].json()["type"], "kpi_result.created");
        let rename = renames.wait_delivered(1, Duration::from_secs(10)).await;
        assert_eq!(rename[0].json()["type"], "kpi.updated");
        let other = elsewhere.wait_delivered(1, Duration::from_secs(10)).await;
        assert_eq!(other[0].json()["type"], "plan.updated");
        assert_eq!(other[0].json()["data"]["record"]["name"], "別の戦略（改）");
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!((results.received().len(), renames.received().len(), elsewhere.received().len()), (1, 1, 1));
    }
}

on_both_backends! {
    /// A receiver that drops the connection, then answers 503, misses nothing: the oldest change is
    /// retried (with Retry-After respected) until it is taken, and the others follow in order.
    async fn a_receiver_that_is_down_gets_everything_in_order(backend) {
        let app = spawn_tuned_app_on(&seeded_database(backend), delivering).await;
        let receiver = Receiver::start().await;
        receiver.script([Answer::Hangs, Answer::Hangs, Answer::Status(503), Answer::Status(500)], Answer::Status(200));
        let webhook = subscribe(&app, &receiver.url, json!({})).await;
        let start = latest_cursor(&app).await;
        for round in 1..=5 {
            rename(&app, round, &format!("再送の確認 {round}")).await;
        }
        let delivered = receiver.wait_delivered(5, Duration::from_secs(20)).await;
        let cursors: Vec<i64> = delivered.iter().map(Received::cursor).collect();
        let feed = feed_cursors(&app, start).await;
        assert_eq!(cursors, feed);
        let received = receiver.received();
        assert_eq!(received.len(), 9, "four failures, then five deliveries");
        assert!(received[..5].iter().all(|request| request.cursor() == feed[0]), "only the oldest is retried");
        assert!(received[..5].iter().all(|request| request.id == received[0].id), "one webhook-id for every attempt");
        assert!(received[..5].iter().all(|request| request.body == received[0].body), "the same payload");
        let listed = deliveries(&app, &webhook).await;
        let oldest = listed.iter().find(|delivery| delivery["cursor"] == feed[0]).unwrap();
        assert_eq!(oldest["attempt_count"], 5, "{oldest}");
        let codes: Vec<Value> = oldest["attempts"].as_array().unwrap().iter().map(|attempt| attempt["status_code"].clone()).collect();
        assert_eq!(codes, [json!(200), json!(500), json!(503), Value::Null, Value::Null]);
        assert!(oldest["attempts"][4]["error"].as_str().is_some_and(|error| !error.is_empty()), "{oldest}");
        let subscription = admin_get(&app, &format!("/api/v1/webhooks/{}", webhook["id"])).await;
        assert_eq!(subscription["status"], "active");
        assert!(subscription["last_error"].as_str().is_some_and(|error| error.contains("500")), "{subscription}");
    }
}

on_both_backends! {
    /// An attempt that outlasts WEBHOOK_TIMEOUT_SECS fails and is tried again with the same id;
    /// a redirect is not followed.
    async fn slow_and_redirecting_receivers_are_retried(backend) {
        let app = spawn_tuned_app_on(&seeded_database(backend), |config| {
            delivering(config);
            config.webhook_timeout_secs = 1;
        })
        .await;
        let receiver = Receiver::start().await;
        let elsewhere = Receiver::start().await;
        receiver.script(
            [Answer::Slow(Duration::from_secs(3)), Answer::Redirect(elsewhere.url.clone())],
            Answer::Status(200),
        );
        let webhook = subscribe(&app, &receiver.url, json!({})).await;
        rename(&app, 4, "遅い受信").await;
        let delivered = receiver.wait_delivered(1, Duration::from_secs(15)).await;
        let received = receiver.received();
        assert_eq!(received.len(), 3);
        assert!(received.iter().all(|request| request.id == delivered[0].id));
        assert!(elsewhere.received().is_empty(), "the redirect was followed");
        let attempts = deliveries(&app, &webhook).await[0]["attempts"].as_array().unwrap().clone();
        assert_eq!(attempts.len(), 3);
        assert_eq!(attempts[1]["status_code"], 302);
        assert!(attempts[1]["error"].as_str().unwrap().contains("redirects are not followed"), "{attempts:?}");
        assert!(attempts[2]["status_code"].is_null());
        assert!(attempts[2]["error"].as_str().unwrap().contains("no answer within 1s"), "{attempts:?}");
        assert!(attempts[2]["duration_ms"].as_i64().unwrap() >= 900, "{attempts:?}");
    }
}

on_both_backends! {
    /// Writes that roll back (an import's and a results sheet's dry runs write and then undo their
    /// audit records) send nothing; the next real write is the next delivery.
    async fn a_rolled_back_write_delivers_nothing(backend) {
        let app = spawn_tuned_app_on(&seeded_database(backend), delivering).await;
        let receiver = Receiver::start().await;
        let webhook = subscribe(&app, &receiver.url, json!({})).await;
        let start = latest_cursor(&app).await;
        let mut document = app.json("/api/v1/plans/1/export").await;
        document["plan"]["code"] = "dry-run-only".into();
        let dry = app
            .client
            .post(app.url("/api/v1/plans/import?dry_run=true"))
            .bearer_auth(admin())
            .json(&document)
            .send()
            .await
            .unwrap();
        assert_eq!(dry.status(), 200, "{}", dry.text().await.unwrap());
        assert_eq!(latest_cursor(&app).await, start, "the dry run left no change");
        rename(&app, 5, "本当の変更").await;
        let delivered = receiver.wait_delivered(1, Duration::from_secs(10)).await;
        assert_eq!([delivered[0].cursor()], *feed_cursors(&app, start).await);
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(receiver.received().len(), 1);
        assert_eq!(deliveries(&app, &webhook).await.len(), 1, "the outbox holds only the real write");
    }
}

on_both_backends! {
    /// Two instances on one database deliver every change once, in order, between them.
    async fn two_instances_send_each_delivery_once(backend) {
        let url = seeded_database(backend);
        let first = spawn_tuned_app_on(&url, delivering).await;
        let second = spawn_tuned_app_on(&url, delivering).await;
        let receivers = [Receiver::start().await, Receiver::start().await];
        for receiver in &receivers {
            subscribe(&first, &receiver.url, json!({})).await;
        }
        let start = latest_cursor(&first).await;
        const WRITES: i64 = 24;
        for round in 1..=WRITES {
            let through = if round % 2 == 0 { &first } else { &second };
            rename(through, 1 + round % 6, &format!("二重送信の確認 {round}")).await;
        }
        for receiver in &receivers {
            receiver.wait_delivered(WRITES as usize, Duration::from_secs(30)).await;
        }
        // Time for a duplicate to show, if one were on its way.
        tokio::time::sleep(Duration::from_secs(1)).await;
        for receiver in &receivers {
            let received = receiver.received();
            let cursors: Vec<i64> = received.iter().map(Received::cursor).collect();
            assert_eq!(cursors.len(), WRITES as usize, "each once");
            assert_eq!(cursors, feed_cursors(&first, start).await, "in order");
        }
    }
}

on_both_backends! {
    /// Pausing keeps deliveries for later; a delivery failing for the whole retry window pauses the
    /// subscription as failing (410 Gone at once); resuming sends what waited, in order, and a
    /// failed delivery can be sent again.
    async fn failing_receivers_are_paused_and_resumed(backend) {
        let url = seeded_database(backend);
        let app = spawn_tuned_app_on(&url, |config| {
            delivering(config);
            config.webhook_retry_window_secs = 1;
        })
        .await;
        let receiver = Receiver::start().await;
        let webhook = subscribe(&app, &receiver.url, json!({"status": "paused"})).await;
        assert_eq!(webhook["status"], "paused");
        let path = format!("/api/v1/webhooks/{}", webhook["id"]);
        let start = latest_cursor(&app).await;
        rename(&app, 1, "一時停止中の変更").await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(receiver.received().is_empty(), "a paused subscription sent");
        assert_eq!(deliveries(&app, &webhook).await[0]["status"], "pending");

        // Resumed into a receiver that always fails: retried for the window, then failing.
        receiver.script([], Answer::Status(500));
        let resumed = patch_webhook(&app, &path, json!({"status": "active"})).await;
        assert_eq!(resumed["status"], "active");
        let failing = wait_status(&app, &path, "failing").await;
        assert!(failing["last_error"].as_str().unwrap().contains("undelivered after"), "{failing}");
        let attempts = receiver.received().len();
        assert!(attempts >= 2, "retried within the window: {attempts}");
        rename(&app, 2, "失敗中の変更").await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(receiver.received().len(), attempts, "a failing subscription sent");
        let listed = deliveries(&app, &webhook).await;
        let feed = feed_cursors(&app, start).await;
        let states: Vec<(i64, &str)> = listed.iter().map(|delivery| (delivery["cursor"].as_i64().unwrap(), delivery["status"].as_str().unwrap())).collect();
        assert_eq!(states, [(feed[1], "pending"), (feed[0], "failed")]);

        // Resumed into a working receiver: the queue goes on where it stopped, the change given up
        // on first, then what waited, in cursor order.
        receiver.script([], Answer::Status(200));
        patch_webhook(&app, &path, json!({"status": "active", "description": "復旧"})).await;
        let delivered = receiver.wait_delivered(2, Duration::from_secs(10)).await;
        assert_eq!([delivered[0].cursor(), delivered[1].cursor()], [feed[0], feed[1]]);
        let failed = listed.iter().find(|delivery| delivery["status"] == "failed").unwrap();
        assert_eq!(delivered[0].id, failed["message_id"].as_str().unwrap(), "the same webhook-id as before");

        // A delivery the receiver lost is sent again on request, with its webhook-id.
        let again = app
            .send(Method::POST, &format!("{path}/deliveries/{}/redeliver", failed["id"]), Some(&admin()), None, None)
            .await;
        assert_eq!(again.status(), 202);
        let queued: Value = again.json().await.unwrap();
        assert_eq!((queued["status"].as_str(), queued["attempt_count"].as_i64()), (Some("pending"), Some(0)));
        let delivered = receiver.wait_delivered(3, Duration::from_secs(10)).await;
        assert_eq!(delivered[2].cursor(), feed[0]);
        assert_eq!(delivered[2].id, delivered[0].id, "redelivered with its webhook-id");

        // 410 Gone stops at once.
        receiver.script([Answer::Status(410)], Answer::Status(200));
        rename(&app, 3, "受信終了").await;
        let gone = wait_status(&app, &path, "failing").await;
        assert!(gone["last_error"].as_str().unwrap().contains("410"), "{gone}");

        // Delivered deliveries are forgotten after WEBHOOK_KEEP_DAYS; the failed one stays.
        let database = strategy_api::db::Database::new(&url, 1, Duration::from_secs(5));
        let later = chrono::Utc::now().naive_utc() + chrono::TimeDelta::days(1);
        let forgotten = database
            .run_blocking(|conn| strategy_api::db::webhooks::prune_delivered(conn, later))
            .unwrap();
        assert_eq!(forgotten, 2);
        let left = deliveries(&app, &webhook).await;
        assert_eq!(left.len(), 1, "{left:?}");
        assert_eq!(left[0]["status"], "failed");
    }
}

on_both_backends! {
    /// A receiver that asks for time (Retry-After) is left alone meanwhile: no worker takes the
    /// subscription until then; resuming it after a pause tries the waiting change at once.
    async fn a_backoff_is_waited_out_and_resuming_ends_it(backend) {
        let url = seeded_database(backend);
        let app = spawn_tuned_app_on(&url, delivering).await;
        let receiver = Receiver::start().await;
        receiver.script([Answer::Busy(50)], Answer::Status(200));
        let webhook = subscribe(&app, &receiver.url, json!({})).await;
        let path = format!("/api/v1/webhooks/{}", webhook["id"]);
        rename(&app, 1, "待ってから").await;
        receiver.wait_received(1, Duration::from_secs(10)).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let pending = &deliveries(&app, &webhook).await[0];
        let next = chrono::DateTime::parse_from_rfc3339(pending["next_attempt_at"].as_str().unwrap()).unwrap();
        assert!(next > chrono::Utc::now() + chrono::TimeDelta::seconds(40), "Retry-After respected: {pending}");
        // Waiting, the subscription is not taken again and again: its lease stays as it was left.
        let lease = || {
            let database = strategy_api::db::Database::new(&url, 1, Duration::from_secs(5));
            let id = webhook["id"].as_i64().unwrap();
            database
                .run_blocking(move |conn| {
                    use diesel::prelude::*;
                    use strategy_api::db::schema::webhook_subscriptions as subscriptions;
                    Ok(subscriptions::table.find(id).select(subscriptions::lease_until).first::<Option<chrono::NaiveDateTime>>(conn)?)
                })
                .unwrap()
        };
        let before = lease();
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(lease(), before, "a worker kept taking a subscription with nothing due");
        assert_eq!(receiver.received().len(), 1);

        patch_webhook(&app, &path, json!({"status": "paused"})).await;
        patch_webhook(&app, &path, json!({"status": "active"})).await;
        let delivered = receiver.wait_delivered(1, Duration::from_secs(5)).await;
        assert_eq!(delivered[0].id, receiver.received()[0].id);
    }
}

async fn patch_webhook(app: &TestApp, path: &str, patch: Value) -> Value {
    let etag = app.send(Method::GET, path, Some(&admin()), None, None).await.headers()["etag"]
        .to_str()
        .unwrap()
        .to_string();
    let response = app
        .client
        .patch(app.url(path))
        .bearer_auth(admin())
        .header("If-Match", etag)
        .header("Content-Type", "application/merge-patch+json")
        .body(patch.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "PATCH {path} {patch}: {body}");
    body
}

async fn wait_status(app: &TestApp, path: &str, status: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let webhook = admin_get(app, path).await;
        if webhook["status"] == status {
            return webhook;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{path} never became {status}: {webhook}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

on_both_backends! {
    /// A rotated secret signs beside the old one for the overlap asked for; with none, alone.
    async fn secrets_rotate_with_both_signatures_during_the_overlap(backend) {
        let app = spawn_tuned_app_on(&seeded_database(backend), delivering).await;
        let receiver = Receiver::start().await;
        let webhook = subscribe(&app, &receiver.url, json!({})).await;
        let old = webhook["secret"].as_str().unwrap().to_string();
        let path = format!("/api/v1/webhooks/{}", webhook["id"]);
        let rotate = |query: &'static str| {
            let app = &app;
            let path = path.clone();
            async move {
                let etag = app.send(Method::GET, &path, Some(&admin()), None, None).await.headers()["etag"].to_str().unwrap().to_string();
                let response = app.send(Method::POST, &format!("{path}/secret{query}"), Some(&admin()), Some(&etag), None).await;
                let status = response.status();
                let body: Value = response.json().await.unwrap();
                assert_eq!(status, 200, "{body}");
                body
            }
        };
        let rotated = rotate("?previous_valid_secs=3600").await;
        let new = rotated["secret"].as_str().unwrap().to_string();
        assert_ne!(new, old);
        assert!(rotated["previous_secret_expires_at"].is_string(), "{rotated}");
        rename(&app, 1, "鍵の更新").await;
        let delivered = receiver.wait_delivered(1, Duration::from_secs(10)).await;
        assert_eq!(delivered[0].signature.split(' ').count(), 2, "{}", delivered[0].signature);
        assert!(verifies(&new, &delivered[0]) && verifies(&old, &delivered[0]));

        let dropped = rotate("?previous_valid_secs=0").await;
        let newest = dropped["secret"].as_str().unwrap().to_string();
        assert!(dropped["previous_secret_expires_at"].is_null(), "{dropped}");
        rename(&app, 2, "鍵の更新 2").await;
        let delivered = receiver.wait_delivered(2, Duration::from_secs(10)).await;
        assert_eq!(delivered[1].signature.split(' ').count(), 1);
        assert!(verifies(&newest, &delivered[1]) && !verifies(&new, &delivered[1]));
        // A rotation needs the subscription's current ETag.
        let stale = app.send(Method::POST, &format!("{path}/secret"), Some(&admin()), Some("\"stale\""), None).await;
        assert_problem(stale, 412).await;
    }
}

on_both_backends! {
    /// Targets inside the network are refused when registered (addresses and always-local names)
    /// and when delivered (a name that resolves to one), unless the operator allows them.
    async fn targets_inside_the_network_are_refused(backend) {
        let url = seeded_database(backend);
        // Registers loopback receivers; sends nothing itself.
        let allowing = spawn_tuned_app_on(&url, |config| config.webhook_allow_private_targets = true).await;
        // Guarded, and the one that delivers.
        let guarded = spawn_tuned_app_on(&url, |config| {
            delivering(config);
            config.webhook_allow_private_targets = false;
        })
        .await;
        for target in [
            "http://127.0.0.1:9/hook",
            "http://[::1]/hook",
            "http://10.0.0.8/",
            "http://192.168.10.1/",
            "http://172.20.0.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://100.100.100.200/",
            "http://0.0.0.0:8080/",
            "http://2130706433/",
            "http://[::ffff:7f00:1]/",
            "http://[fd12:3456::1]/",
            "http://localhost:8080/",
            "http://printer.local/",
        ] {
            let response = guarded
                .send(Method::POST, "/api/v1/webhooks", Some(&admin()), None, Some(&json!({"url": target})))
                .await;
            assert_eq!(refused_fields(response).await, ["url"], "{target}");
        }
        let receiver = Receiver::start().await;
        let port = receiver.url.trim_start_matches("http://127.0.0.1:").trim_end_matches("/hook").to_string();
        subscribe(&allowing, &receiver.url, json!({})).await;
        subscribe(&allowing, &format!("http://localhost:{port}/hook"), json!({})).await;
        rename(&guarded, 1, "内部への送信").await;
        let webhooks = admin_get(&guarded, "/api/v1/webhooks").await;
        for webhook in webhooks["items"].as_array().unwrap() {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            let attempts = loop {
                let listed = deliveries(&guarded, webhook).await;
                let attempts = listed[0]["attempts"].as_array().unwrap().clone();
                if !attempts.is_empty() {
                    break attempts;
                }
                assert!(tokio::time::Instant::now() < deadline, "no attempt for {webhook}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            };
            let error = attempts[0]["error"].as_str().unwrap_or_default();
            assert!(error.contains("refused") && error.contains("loopback"), "{webhook}: {attempts:?}");
        }
        assert!(receiver.received().is_empty(), "a guarded instance reached loopback");
    }
}

on_both_backends! {
    /// Only admins with a token for every plan keep subscriptions; bad bodies name every field.
    async fn subscriptions_are_for_admins_and_bodies_are_checked(backend) {
        let app = spawn_tuned_app_on(&seeded_database(backend), |config| config.webhook_allow_private_targets = true).await;
        let body = json!({"url": "https://hooks.example.jp/strategy"});
        assert_problem(app.send(Method::POST, "/api/v1/webhooks", None, None, Some(&body)).await, 401).await;
        assert_problem(app.get("/api/v1/webhooks").await, 401).await;
        let writer = token(&["kpis:write"], None);
        assert_problem(app.send(Method::POST, "/api/v1/webhooks", Some(&writer), None, Some(&body)).await, 403).await;
        let mut limited = claims(&["admin"], None);
        limited["plan"] = "atsugi-2".into();
        let limited = sign(&limited, TEST_SECRET);
        assert_problem(app.send(Method::GET, "/api/v1/webhooks", Some(&limited), None, None).await, 403).await;
        assert_problem(app.send(Method::POST, "/api/v1/webhooks", Some(&limited), None, Some(&body)).await, 403).await;

        let post = |body: Value| {
            let app = &app;
            async move { app.send(Method::POST, "/api/v1/webhooks", Some(&admin()), None, Some(&body)).await }
        };
        let bad = post(json!({"url": "ftp://example.jp/", "resources": ["kpi", "budget"], "operations": ["erase"], "colour": "red"})).await;
        assert_eq!(fields_of(bad, 400).await, ["colour", "operations[0]", "resources[1]", "url"]);
        let refused = post(json!({"url": "https://user:secret@example.jp/", "plan_id": 999})).await;
        assert_eq!(refused_fields(refused).await, ["plan_id", "url"]);
        assert_eq!(fields_of(post(json!({"description": "URL なし"})).await, 400).await, ["url"]);

        let created = subscribe(&app, "https://hooks.example.jp/strategy", json!({"resources": ["kpi", "kpi"]})).await;
        assert_eq!(created["resources"], json!(["kpi"]));
        let path = format!("/api/v1/webhooks/{}", created["id"]);
        // A failing status is the service's to set.
        let etag = app.send(Method::GET, &path, Some(&admin()), None, None).await.headers()["etag"].to_str().unwrap().to_string();
        let failing = app
            .client
            .patch(app.url(&path))
            .bearer_auth(admin())
            .header("If-Match", &etag)
            .header("Content-Type", "application/merge-patch+json")
            .body(r#"{"status": "failing"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(fields_of(failing, 400).await, ["status"]);
        assert_problem(app.send(Method::DELETE, &path, Some(&admin()), None, None).await, 428).await;
        assert_problem(app.send(Method::GET, "/api/v1/webhooks/99999", Some(&admin()), None, None).await, 404).await;
        assert_problem(app.send(Method::GET, &format!("{path}/deliveries?status=lost"), Some(&admin()), None, None).await, 400).await;
        assert_problem(app.send(Method::POST, &format!("{path}/deliveries/99999/redeliver"), Some(&admin()), None, None).await, 404).await;
        assert_problem(app.send(Method::POST, &format!("{path}/secret?previous_valid_secs=-1"), Some(&admin()), Some(&etag), None).await, 400).await;
        let deleted = app.send(Method::DELETE, &path, Some(&admin()), Some(&etag), None).await;
        assert_eq!(deleted.status(), 204);
        assert_problem(app.send(Method::GET, &path, Some(&admin()), None, None).await, 404).await;
        let audit = admin_get(&app, "/api/v1/audit?resource=webhook").await;
        let operations: Vec<&str> = audit["items"].as_array().unwrap().iter().map(|item| item["operation"].as_str().unwrap()).collect();
        assert_eq!(operations, ["create", "delete"]);
    }
}

on_both_backends! {
    /// The service killed mid-delivery (SIGKILL: no chance to record anything) sends the delivery
    /// again after a restart, with the same webhook-id and payload, once the dead worker's lease
    /// has run out.
    async fn a_delivery_interrupted_by_a_crash_is_sent_again_with_the_same_id(backend) {
        let database = seeded_database(backend);
        let log = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("webhook-crash-{}-{:?}.log", std::process::id(), backend));
        let settings = [
            ("WEBHOOK_ALLOW_PRIVATE_TARGETS", "true"),
            ("WEBHOOK_TIMEOUT_SECS", "2"),
            ("WEBHOOK_POLL_MS", "100"),
        ];
        let client = reqwest::Client::new();
        let receiver = Receiver::start().await;
        receiver.script([Answer::Slow(Duration::from_secs(60))], Answer::Status(200));
        let mut service = Service::start(&database, &log, &settings);
        service.wait_ready(&client).await;
        let app = TestApp {
            address: format!("http://127.0.0.1:{}", service.port),
            client: client.clone(),
        };
        let webhook = subscribe(&app, &receiver.url, json!({})).await;
        rename(&app, 1, "落ちる前の変更").await;
        let first = receiver.wait_received(1, Duration::from_secs(10)).await;
        service.child.kill().expect("SIGKILL");
        service.child.wait().unwrap();

        let mut restarted = Service::start(&database, &log, &settings);
        restarted.wait_ready(&client).await;
        let app = TestApp {
            address: format!("http://127.0.0.1:{}", restarted.port),
            client,
        };
        // The lease of the killed worker (2 × the timeout + 5 s) runs out first.
        let delivered = receiver.wait_delivered(1, Duration::from_secs(30)).await;
        assert_eq!(delivered[0].id, first[0].id, "the same webhook-id after the crash");
        assert_eq!(delivered[0].body, first[0].body);
        assert_eq!(receiver.received().len(), 2);
        let listed = deliveries(&app, &webhook).await;
        assert_eq!(listed[0]["status"], "delivered", "{listed:?}");
        drop(restarted);
        let _ = std::fs::remove_file(&log);
    }
}
