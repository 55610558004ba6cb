//! The change feed, pushed: `GET /api/v1/changes/stream` as Server-Sent Events. The feed (the
//! audit log, whose ids are a gap-free cursor in commit order) stays the truth: a stream reads it
//! from its cursor, so a client resuming with `Last-Event-ID` misses nothing and sees nothing twice.
//! What wakes the streams is one watcher per instance, while any stream is open: on Postgres it
//! listens for the notification every committed write sends (`LISTEN/NOTIFY`, a wake-up only) and
//! reads the newest cursor then, and at least every few seconds; on SQLite it reads the newest
//! cursor twice a second. A write on any instance sharing the database reaches every stream.

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

/// How often the watcher reads the newest cursor while streams are open (SQLite), or looks for
/// notifications (Postgres).
const WATCH_INTERVAL: Duration = Duration::from_millis(500);
const NOTIFICATION_INTERVAL: Duration = Duration::from_millis(50);
/// On Postgres, the newest cursor is read this often even without a notification (one lost while
/// the listening connection was re-established).
const READ_AT_LEAST_EVERY: Duration = Duration::from_secs(5);

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
        if *state.shutdown.borrow() {
            state.ended = true;
            return Some((Ok(Bytes::from_static(b"event: shutdown\ndata: {}\n\n")), state));
        }
        if *state.latest.borrow_and_update() > state.since {
            continue;
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
    let mut listener = Listener::for_backend(database.backend());
    let mut last_read = std::time::Instant::now();
    while let Some(inner) = streams.upgrade() {
        let watching = inner.open.load(Ordering::SeqCst) > 0;
        let notified = watching && listener.as_mut().is_some_and(Listener::notified);
        let due = listener.is_none() || notified || last_read.elapsed() >= READ_AT_LEAST_EVERY;
        if watching && due {
            last_read = std::time::Instant::now();
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
        std::thread::sleep(if listener.is_some() {
            NOTIFICATION_INTERVAL
        } else {
            WATCH_INTERVAL
        });
    }
}

/// A Postgres connection of its own that listens for committed writes.
struct Listener {
    url: String,
    connection: Option<diesel::PgConnection>,
}

impl Listener {
    fn for_backend(backend: &crate::db::Backend) -> Option<Self> {
        match backend {
            crate::db::Backend::Postgres { url } => Some(Listener {
                url: url.clone(),
                connection: None,
            }),
            crate::db::Backend::Sqlite { .. } => None,
        }
    }

    /// Whether a write committed since the last look (or the connection was just made, when one
    /// may have been missed). A broken connection is made again on the next look.
    fn notified(&mut self) -> bool {
        use diesel::{Connection, RunQueryDsl};
        let Some(connection) = self.connection.as_mut() else {
            let listening = diesel::PgConnection::establish(&self.url)
                .map_err(|error| error.to_string())
                .and_then(|mut connection| {
                    diesel::sql_query(format!("LISTEN {}", write::CHANGES_CHANNEL))
                        .execute(&mut connection)
                        .map(|_| connection)
                        .map_err(|error| error.to_string())
                });
            match listening {
                Ok(connection) => self.connection = Some(connection),
                Err(error) => log::warn!("the change watcher cannot listen for writes: {error}"),
            }
            return true;
        };
        let mut notified = false;
        let mut broken = None;
        for notification in connection.notifications_iter() {
            match notification {
                Ok(_) => notified = true,
                Err(error) => {
                    broken = Some(error);
                    break;
                }
            }
        }
        if let Some(error) = broken {
            log::warn!("the change watcher lost its listening connection: {error}");
            self.connection = None;
            return true;
        }
        notified
    }
}
