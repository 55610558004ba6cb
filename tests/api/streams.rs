//! The live change stream (Server-Sent Events), read as an EventSource would read it.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{assert_problem, latest_cursor, seeded_database, spawn_tuned_app_on, token, TestApp};

/// An open event stream, read chunk by chunk.
struct Events {
    response: reqwest::Response,
    text: String,
}

impl Events {
    async fn open(app: &TestApp, path: &str, last_event_id: Option<i64>) -> reqwest::Response {
        let mut request = app.client.get(app.url(path));
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id.to_string());
        }
        request.send().await.expect("the stream answers")
    }

    fn of(response: reqwest::Response) -> Self {
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Events {
            response,
            text: String::new(),
        }
    }

    /// Reads until `count` change events have arrived (or fails after 10 s): their ids and data.
    async fn changes(&mut self, count: usize) -> Vec<(i64, Value)> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while self.parsed().len() < count {
            self.read_more(deadline, &format!("{count} events")).await;
        }
        self.parsed()
    }

    /// Reads until `needle` has arrived (or fails after 10 s).
    async fn until(&mut self, needle: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !self.text.contains(needle) {
            self.read_more(deadline, &format!("{needle:?}")).await;
        }
    }

    async fn read_more(&mut self, deadline: tokio::time::Instant, awaited: &str) {
        let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
            .await
            .unwrap_or_else(|_| panic!("{awaited} within 10 s; so far: {:?}", self.text))
            .expect("the stream goes on")
            .expect("the stream is not closed");
        self.text.push_str(&String::from_utf8_lossy(&chunk));
    }

    /// The change events read so far: the blocks before the last blank line (what follows it may be
    /// half an event still on its way).
    fn parsed(&self) -> Vec<(i64, Value)> {
        let complete = self.text.rfind("\n\n").map_or("", |end| &self.text[..end]);
        complete
            .split("\n\n")
            .filter(|block| block.contains("event: change"))
            .map(|block| {
                let field = |name: &str| {
                    block
                        .lines()
                        .find_map(|line| line.strip_prefix(name))
                        .unwrap_or_else(|| panic!("{name} in {block:?}"))
                        .to_string()
                };
                (
                    field("id: ").parse().unwrap(),
                    serde_json::from_str(&field("data: ")).unwrap(),
                )
            })
            .collect()
    }
}

/// Changes a record's name (`title` of a goal) through `app`.
async fn rename(app: &TestApp, path: &str, name: &str) {
    let etag = app.etag(path).await;
    let field = if path.contains("/goals/") { "title" } else { "name" };
    let response = app
        .send(
            Method::PATCH,
            path,
            Some(&token(&["admin"], None)),
            Some(&etag),
            Some(&json!({ field: name })),
        )
        .await;
    assert_eq!(response.status(), 200, "rename {path}");
}

on_both_backends! {
    /// A write through one instance reaches a stream held on another; a client that reconnects to
    /// either with its Last-Event-ID gets what followed, in order, nothing twice and nothing lost.
    async fn a_stream_resumes_across_instances_without_a_gap(backend) {
        let url = seeded_database(backend);
        let reader = spawn_tuned_app_on(&url, |_| {}).await;
        let writer = spawn_tuned_app_on(&url, |_| {}).await;
        let start = latest_cursor(&reader).await;
        let mut events = Events::of(Events::open(&reader, &format!("/api/v1/changes/stream?since={start}"), None).await);
        rename(&writer, "/api/v1/kpis/2", "ストリームの確認 1").await;
        let first = events.changes(1).await;
        assert_eq!(first[0].0, start + 1);
        assert_eq!(first[0].1["cursor"], start + 1);
        assert_eq!((first[0].1["resource"].as_str(), first[0].1["id"].as_i64(), first[0].1["operation"].as_str()), (Some("kpi"), Some(2), Some("update")));
        drop(events);

        // While the client is away, two more writes; it comes back to the other instance.
        rename(&writer, "/api/v1/goals/1", "ストリームの確認 2").await;
        rename(&reader, "/api/v1/kpis/2", "ストリームの確認 3").await;
        let mut resumed = Events::of(Events::open(&writer, "/api/v1/changes/stream?since=0", Some(start + 1)).await);
        let next = resumed.changes(2).await;
        let ids: Vec<i64> = next.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, [start + 2, start + 3], "Last-Event-ID wins over since; in order, no gap");
        assert_eq!(next[0].1["resource"], "goal");
        let feed = reader.json(&format!("/api/v1/changes?since={start}")).await;
        let feed: Vec<Value> = feed["items"].as_array().unwrap().clone();
        let streamed: Vec<Value> = first.into_iter().chain(next).map(|(_, data)| data).collect();
        assert_eq!(streamed, feed, "the stream carries the feed's items");
    }
}

on_both_backends! {
    /// An idle stream sends heartbeats; one instance holds only so many streams (503 with
    /// Retry-After beyond), and a closed stream gives its place back; a bad Last-Event-ID is a 400.
    async fn streams_are_bounded_and_kept_alive(backend) {
        // A database of its own: no other test's writes keep the stream from going idle.
        let app = spawn_tuned_app_on(&seeded_database(backend), |config| {
            config.stream_max_clients = 1;
            config.stream_heartbeat_secs = 1;
        })
        .await;
        let latest = latest_cursor(&app).await;
        let path = format!("/api/v1/changes/stream?since={latest}");
        // HEAD answers the headers and holds no place.
        let head = app.client.head(app.url(&path)).send().await.unwrap();
        assert_eq!(head.status(), 200);
        assert_eq!(head.headers()["content-type"], "text/event-stream");
        let mut held = Events::of(Events::open(&app, &path, None).await);
        held.until(": heartbeat").await;
        let refused = Events::open(&app, &path, None).await;
        assert!(refused.headers().contains_key("retry-after"));
        let problem = assert_problem(refused, 503).await;
        assert!(problem["detail"].as_str().unwrap().contains("STREAM_MAX_CLIENTS"), "{problem}");
        drop(held);
        // The server notices the client has gone at its next heartbeat.
        let mut reopened = None;
        for _ in 0..50 {
            let response = Events::open(&app, &path, None).await;
            if response.status() == 200 {
                reopened = Some(response);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(reopened.is_some(), "the closed stream's place is free again");

        for bad in ["-1", "abc", "1.5"] {
            let response = app.client.get(app.url("/api/v1/changes/stream")).header("Last-Event-ID", bad).send().await.unwrap();
            let problem = assert_problem(response, 400).await;
            assert_eq!(problem["errors"][0]["field"], "Last-Event-ID", "{bad}");
        }
    }
}
