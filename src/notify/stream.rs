//! The change feed, pushed: `GET /api/v1/changes/stream` as Server-Sent Events. The feed (the
//! audit log, whose ids are a cursor in commit order) stays the truth: a stream reads it
//! from its cursor, so a client resuming with `Last-Event-ID` misses nothing and sees nothing twice.
//! What wakes the streams is one watcher per instance that reads the newest cursor twice a second
//! while any stream is open: a write on any instance sharing the database reaches every stream.
//! (Postgres `LISTEN/NOTIFY` would wake them sooner, but a thread that sits in libpq's TLS reads
//! when the process exits can crash it on the way out, as the test binary did; the shared read,
//! two cheap queries a second per instance, is exact all the same, since the feed is the truth.)

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use actix_web::web::Bytes;
use futures_util::future::{select, Either};
use futures_util::Stream;
use tokio::sync::watch;

use crate::db::write::{self, AuditRow};
use crate::db::Database;
use crate::error::ApiError;

/// How often the watcher reads the newest cursor while streams are open.
const WATCH_INTERVAL: Duration = Duration::from_millis(500);

/// Changes read from the feed per round trip.
const BATCH: i64 = 500;

/// This instance's streams: their count, the newest cursor seen, and the shutdown signal.
pub struct ChangeStreams {
    inner: Arc<Inner>,
}

struct Inner {
    open: AtomicUsize,
    max: usize,
    heartbeat: Duration,
    latest: watch::Sender<i64>,
    shutdown: watch::Sender<bool>,
}

impl ChangeStreams {
    /// Starts the watcher, which ends when the streams are dropped with the application.
    pub fn start(database: Database, max: usize, heartbeat: Duration) -> Self {
        let inner = Arc::new(Inner {
            open: AtomicUsize::new(0),
            max,
            heartbeat,
            latest: watch::Sender::new(0),
            shutdown: watch::Sender::new(false),
        });
        let watched = Arc::downgrade(&inner);
        std::thread::Builder::new()
            .name("change-watcher".into())
            .spawn(move || watch_cursor(&watched, &database))
            .expect("the change watcher starts");
        ChangeStreams { inner }
    }

    /// Ends every open stream (the server is shutting down): each says so and closes.
    pub fn shut_down(&self) {
        self.inner.shutdown.send_replace(true);
    }

    /// A stream of the changes after `since`, or 503 when this instance holds its maximum.
    pub fn open(
        &self,
        database: Database,
        since: i64,
    ) -> Result<impl Stream<Item = Result<Bytes, actix_web::Error>>, ApiError> {
        let held = self.inner.open.fetch_add(1, Ordering::SeqCst);
        let slot = Slot(self.inner.clone());
        if held >= self.inner.max {
            return Err(ApiError::Busy(format!(
                "this instance already holds {} change streams (STREAM_MAX_CLIENTS); retry later or poll /api/v1/changes",
                self.inner.max
            )));
        }
        let state = StreamState {
            since,
            read_once: false,
            latest: self.inner.latest.subscribe(),
            shutdown: self.inner.shutdown.subscribe(),
            heartbeat: self.inner.heartbeat,
            database,
            ended: false,
            _slot: slot,
        };
        Ok(futures_util::stream::unfold(state, next_chunk))
    }
}

/// One open stream's place among the instance's maximum, given back when the stream is dropped.
struct Slot(Arc<Inner>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
    }
}

struct StreamState {
    since: i64,
    /// Whether the feed has been read once: after that, only when the watcher saw a newer cursor.
    read_once: bool,
    latest: watch::Receiver<i64>,
    shutdown: watch::Receiver<bool>,
    heartbeat: Duration,
    database: Database,
    ended: bool,
    _slot: Slot,
}

/// The next bytes of a stream: the changes after its cursor, else (after waiting for a newer
/// cursor) a heartbeat comment, or the shutdown event; `None` after that.
async fn next_chunk(mut state: StreamState) -> Option<(Result<Bytes, actix_web::Error>, StreamState)> {
    if state.ended {
        return None;
    }
    loop {
        // Shutdown first, even with a backlog: the client resumes from its Last-Event-ID.
        if *state.shutdown.borrow() {
            state.ended = true;
            return Some((Ok(Bytes::from_static(b"event: shutdown\ndata: {}\n\n")), state));
        }
        if !state.read_once || *state.latest.borrow_and_update() > state.since {
            state.read_once = true;
            let since = state.since;
            let rows = match state
                .database
                .run(move |conn| write::changes_since(conn, since, BATCH))
                .await
            {
                Ok(rows) => rows,
                Err(error) => {
                    // The client reconnects with its Last-Event-ID; nothing is lost.
                    log::warn!("a change stream ends: {error}");
                    state.ended = true;
                    return Some((Ok(Bytes::from_static(b"event: error\ndata: {}\n\n")), state));
                }
            };
            if let Some(last) = rows.last() {
                state.since = last.id;
                return Some((Ok(Bytes::from(events(rows))), state));
            }
        }
        let heartbeat = actix_web::rt::time::sleep(state.heartbeat);
        let beat = {
            let woken = select(
                Box::pin(state.latest.changed()),
                select(Box::pin(state.shutdown.changed()), Box::pin(heartbeat)),
            )
            .await;
            matches!(woken, Either::Right((Either::Right(_), _)))
        };
        if beat {
            return Some((Ok(Bytes::from_static(b": heartbeat\n\n")), state));
        }
    }
}

/// Changes as SSE events: `id` the cursor, `event: change`, `data` the feed's item.
fn events(rows: Vec<AuditRow>) -> String {
    let mut text = String::new();
    for row in rows {
        let cursor = row.id;
        let change = crate::api::changes::Change::from(row);
        let data = serde_json::to_string(&change).unwrap_or_else(|_| "{}".into());
        text.push_str(&format!("id: {cursor}\nevent: change\ndata: {data}\n\n"));
    }
    text
}

/// Reads the newest cursor while any stream is open, until the streams are gone.
fn watch_cursor(streams: &Weak<Inner>, database: &Database) {
    while let Some(inner) = streams.upgrade() {
        if inner.open.load(Ordering::SeqCst) > 0 {
            match database.run_blocking(write::latest_change) {
                Ok(latest) => {
                    inner.latest.send_if_modified(|seen| {
                        let newer = latest > *seen;
                        if newer {
                            *seen = latest;
                        }
                        newer
                    });
                }
                Err(error) => log::warn!("the change watcher cannot read the feed: {error}"),
            }
        }
        drop(inner);
        std::thread::sleep(WATCH_INTERVAL);
    }
}
