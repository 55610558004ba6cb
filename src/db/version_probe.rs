//! How every read learns the data version without a trip through the blocking pool of its own.
//!
//! The version validates the response cache, so it must never be older than the request: a read
//! that arrives after a write has committed (on any instance) must see that write's version.
//! - SQLite: one row from a page in memory, read right on the async worker on a connection that
//!   never waits for a lock, costs a few microseconds.
//! - Postgres: one query at a time on a connection of its own, on a thread of its own. Every read
//!   that arrived before a query was sent shares its answer, which is therefore at least as new
//!   as each of them; reads arriving while it is under way wait for the next one. Queries go at
//!   most every `QUERY_INTERVAL`: under load one round trip then serves every read of its moment
//!   (a query per read would cost the database more CPU than the whole cached read costs here);
//!   a read arriving after a quiet spell is asked for at once.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::{Connection, SqliteConnection};
use tokio::sync::oneshot;

use super::write::{self, DataVersion};
use super::{Backend, DbConnection};
use crate::error::ApiError;

pub(super) enum VersionProbe {
    Sqlite(SqliteReaders),
    Postgres(SharedQuery),
}

impl VersionProbe {
    pub(super) fn new(backend: &Backend) -> Self {
        match backend {
            Backend::Sqlite { path } => VersionProbe::Sqlite(SqliteReaders {
                path: path.clone(),
                idle: Mutex::default(),
            }),
            Backend::Postgres { .. } => VersionProbe::Postgres(SharedQuery {
                backend: backend.clone(),
                shared: Arc::default(),
            }),
        }
    }
}

/// SQLite connections that only read the version, used on the calling thread.
pub(super) struct SqliteReaders {
    path: String,
    idle: Mutex<Vec<DbConnection>>,
}

impl SqliteReaders {
    /// The version, or None when it cannot be read here right now (busy, unreadable): the caller
    /// then reads it through the pool.
    pub(super) fn read(&self) -> Option<DataVersion> {
        let idle = self.idle.lock().ok()?.pop();
        // At most one per worker thread is ever in use, so the list stays that short.
        let mut conn = match idle {
            Some(conn) => conn,
            None => self.open()?,
        };
        let version = write::data_version(&mut conn).ok();
        self.idle.lock().ok()?.push(conn);
        version
    }

    fn open(&self) -> Option<DbConnection> {
        let mut conn = SqliteConnection::establish(&self.path).ok()?;
        conn.batch_execute("PRAGMA busy_timeout = 0; PRAGMA query_only = 1;")
            .ok()?;
        Some(DbConnection::Sqlite(conn))
    }
}

/// The least time between two version queries: the most a read waits for its batch under load.
const QUERY_INTERVAL: Duration = Duration::from_micros(200);

/// What a read is told: the version, or why it could not be read.
type Answer = Result<DataVersion, String>;

/// The Postgres reads waiting for the next version query, and the thread that sends it.
pub(super) struct SharedQuery {
    backend: Backend,
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<QueryState>,
    wake: Condvar,
}

#[derive(Default)]
struct QueryState {
    /// Reads that arrived since the last query was sent.
    waiting: Vec<oneshot::Sender<Answer>>,
    started: bool,
    /// The thread waits for reads (a notification is needed to go on).
    idle: bool,
    stopped: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, QueryState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl SharedQuery {
    /// The version as of a query sent after this call, within `timeout`.
    pub(super) async fn read(&self, timeout: Duration) -> Result<DataVersion, ApiError> {
        let (sender, answer) = oneshot::channel();
        {
            let mut state = self.shared.lock();
            if state.waiting.len() >= 4096 {
                // A query that hangs: readers who gave up are forgotten rather than kept.
                state.waiting.retain(|waiting| !waiting.is_closed());
            }
            state.waiting.push(sender);
            if !state.started {
                let (shared, backend) = (self.shared.clone(), self.backend.clone());
                let spawned = std::thread::Builder::new()
                    .name("data-version".into())
                    .spawn(move || serve(&shared, &backend));
                if let Err(error) = spawned {
                    // The next read tries again; this one is told why it cannot be answered.
                    state.waiting.pop();
                    return Err(ApiError::Unavailable(format!("no version thread: {error}")));
                }
                state.started = true;
            } else if state.idle {
                state.idle = false;
                self.shared.wake.notify_one();
            }
        }
        match actix_web::rt::time::timeout(timeout, answer).await {
            Ok(Ok(Ok(version))) => Ok(version),
            Ok(Ok(Err(cause))) => Err(ApiError::Unavailable(cause)),
            Ok(Err(_)) => Err(ApiError::Unavailable("the version thread stopped".into())),
            Err(_) => Err(ApiError::Unavailable(format!(
                "no data version within {} s",
                timeout.as_secs()
            ))),
        }
    }
}

impl Drop for SharedQuery {
    fn drop(&mut self) {
        self.shared.lock().stopped = true;
        self.shared.wake.notify_one();
    }
}

/// The thread: waits for reads, sends one query for all of them, answers each, and again.
fn serve(shared: &Shared, backend: &Backend) {
    let mut conn: Option<DbConnection> = None;
    let mut last_sent: Option<Instant> = None;
    loop {
        let readers = {
            let mut state = shared.lock();
            while state.waiting.is_empty() && !state.stopped {
                state.idle = true;
                state = shared.wake.wait(state).unwrap_or_else(|poisoned| poisoned.into_inner());
            }
            if state.stopped {
                return;
            }
            let wait = last_sent.map_or(Duration::ZERO, |sent| QUERY_INTERVAL.saturating_sub(sent.elapsed()));
            if !wait.is_zero() {
                // More reads join this batch meanwhile.
                drop(state);
                std::thread::sleep(wait);
                state = shared.lock();
            }
            std::mem::take(&mut state.waiting)
        };
        last_sent = Some(Instant::now());
        let mut answer = query(&mut conn, backend);
        if answer.is_err() && conn.take().is_some() {
            // The connection may have died since its last query (a database restart): one more try
            // on a new one, sent later still, so the answer stays exact.
            answer = query(&mut conn, backend);
            if answer.is_err() {
                conn = None;
            }
        }
        for reader in readers {
            // A reader that gave up (timed out, its client gone) no longer listens.
            let _ = reader.send(answer.clone());
        }
    }
}

fn query(conn: &mut Option<DbConnection>, backend: &Backend) -> Answer {
    let connection = match conn.take() {
        Some(connection) => connection,
        None => backend.connect().map_err(|error| format!("cannot connect: {error}"))?,
    };
    write::data_version(conn.insert(connection)).map_err(|error| format!("data version unreadable: {error}"))
}
