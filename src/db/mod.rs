//! Storage: one connection type for SQLite and Postgres, the pool, migrations, and the queries per resource.

pub mod copy;
pub mod departments;
pub mod evaluations;
pub mod goals;
pub mod kpis;
pub mod plans;
pub mod projects;
pub mod results;
pub mod revisions;
pub mod schema;
pub mod seed;
pub mod synthetic;
mod version_probe;
pub mod webhooks;
pub mod write;

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::r2d2::{self, R2D2Connection};
use diesel::{Connection, PgConnection, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::error::ApiError;
use version_probe::VersionProbe;
use write::DataVersion;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// A connection to whichever backend `DATABASE_URL` names.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

/// The backend type every query is written for.
pub type Db = <DbConnection as Connection>::Backend;

/// The backend, chosen from the URL scheme (never by trying one after the other, which would
/// report an unreachable Postgres as a bad SQLite path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    Sqlite { path: String },
    Postgres { url: String },
}

impl Backend {
    pub fn from_url(url: &str) -> Self {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres { url: url.to_string() }
        } else {
            let path = url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
                .unwrap_or(url);
            Backend::Sqlite { path: path.to_string() }
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite { .. } => "sqlite",
            Backend::Postgres { .. } => "postgres",
        }
    }

    /// For logs: the URL without any password.
    pub fn display(&self) -> String {
        match self {
            Backend::Sqlite { path } => format!("sqlite {path}"),
            Backend::Postgres { url } => match url::Url::parse(url) {
                Ok(mut parsed) => {
                    if parsed.password().is_some() {
                        let _ = parsed.set_password(Some("***"));
                    }
                    format!("postgres {parsed}")
                }
                Err(_) => "postgres (unparseable URL)".to_string(),
            },
        }
    }

    pub fn connect(&self) -> Result<DbConnection, diesel::ConnectionError> {
        match self {
            Backend::Postgres { url } => PgConnection::establish(url).map(DbConnection::Postgres),
            Backend::Sqlite { path } => {
                let mut conn = SqliteConnection::establish(path)?;
                // WAL lets readers go on while one writer writes; foreign keys are off by default in SQLite.
                conn.batch_execute(
                    "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
                )
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }
}

/// Opens connections for the pool with the backend picked from the URL.
#[derive(Debug)]
pub struct Manager {
    backend: Backend,
}

impl r2d2::ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        self.backend.connect().map_err(r2d2::Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        conn.ping().map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        std::thread::panicking() || conn.is_broken()
    }
}

pub type DbPool = r2d2::Pool<Manager>;

/// Who gets to decide the fate of work queued for a blocking thread: the thread that starts it,
/// or the request that gives up on it first (by timing out, or by being dropped).
#[derive(Clone, Default)]
struct Claim(Arc<AtomicU8>);

const QUEUED: u8 = 0;
const STARTED: u8 = 1;
const ABANDONED: u8 = 2;

impl Claim {
    /// True when the work may run: nobody gave up on it first.
    fn start(&self) -> bool {
        self.0
            .compare_exchange(QUEUED, STARTED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// True when the work will now never run; false when it has already started.
    fn abandon(&self) -> bool {
        self.0
            .compare_exchange(QUEUED, ABANDONED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}

/// The request's copy: dropping it (a client gone, a request cut short) abandons work not yet started.
struct RequestClaim(Claim);

impl Drop for RequestClaim {
    fn drop(&mut self) {
        self.0.abandon();
    }
}

/// The pool, and the one way handlers reach it: off the async workers.
#[derive(Clone)]
pub struct Database {
    pool: DbPool,
    backend: Backend,
    /// How reads learn the data version (see `data_version`).
    version_probe: Arc<VersionProbe>,
    /// This instance's SQLite writers take turns here (see `write`).
    write_turn: Arc<tokio::sync::Mutex<()>>,
    /// Counts the writes this instance commits, for what waits on them (the webhook workers).
    commits: Arc<Commits>,
}

/// A count of the writes committed through one `Database`, and a way to wait for the next.
#[derive(Default)]
pub struct Commits {
    count: Mutex<u64>,
    changed: Condvar,
}

impl Commits {
    /// The count now, to wait for a change of it.
    pub fn seen(&self) -> u64 {
        *self.count.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Returns when a write has committed since `seen`, when woken, or after `timeout`.
    pub fn wait(&self, seen: u64, timeout: Duration) {
        let count = self.count.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if *count == seen {
            let _ = self.changed.wait_timeout(count, timeout);
        }
    }

    /// Wakes every waiter, as a commit does (to stop them: a waiter that has not begun to wait yet
    /// returns at once too).
    pub fn wake_all(&self) {
        self.committed();
    }

    fn committed(&self) {
        *self.count.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) += 1;
        self.changed.notify_all();
    }
}

impl Database {
    /// Builds the pool without connecting: the service starts even while the database is away,
    /// and `/readyz` says so.
    pub fn new(url: &str, size: u32, timeout: Duration) -> Self {
        Self::with_pool(url, size, 1, timeout)
    }

    /// For a command that runs and exits: no connection is opened in the background, since a
    /// process exiting while the pool's thread is still connecting (OpenSSL inside libpq) can
    /// crash on the way out (seen as a SIGSEGV of `token issue` on Postgres).
    pub fn for_command(url: &str, timeout: Duration) -> Self {
        Self::with_pool(url, 2, 0, timeout)
    }

    fn with_pool(url: &str, size: u32, min_idle: u32, timeout: Duration) -> Self {
        let backend = Backend::from_url(url);
        let pool = r2d2::Pool::builder()
            .max_size(size)
            .min_idle(Some(min_idle))
            .connection_timeout(timeout)
            .test_on_check_out(false)
            .build_unchecked(Manager {
                backend: backend.clone(),
            });
        Database {
            pool,
            version_probe: Arc::new(VersionProbe::new(&backend)),
            backend,
            write_turn: Arc::default(),
            commits: Arc::default(),
        }
    }

    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// The writes committed through this database.
    pub fn commits(&self) -> Arc<Commits> {
        self.commits.clone()
    }

    /// Runs blocking diesel work on the blocking thread pool with a pooled connection.
    ///
    /// The blocking pool is bounded (`startup` gives each worker POOL_SIZE threads), so work may
    /// first queue for a thread. The wait for a thread and then a connection together stay
    /// within the pool timeout: past it the request answers 503. Work that had not started when
    /// the request gave up (timed out, or dropped with its client) never runs, so a client told
    /// its write failed can trust that it did not happen.
    pub async fn run<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        let queued_at = Instant::now();
        let timeout = self.pool.connection_timeout();
        let claim = RequestClaim(Claim::default());
        let worker_claim = claim.0.clone();
        let mut task = std::pin::pin!(actix_web::web::block(move || {
            if !worker_claim.start() {
                return Err(ApiError::Unavailable("abandoned while queued".into()));
            }
            let mut conn = pool.get_timeout(timeout.saturating_sub(queued_at.elapsed()))?;
            work(&mut conn)
        }));
        match actix_web::rt::time::timeout(timeout, &mut task).await {
            Ok(result) => result?,
            Err(_) if claim.0.abandon() => Err(ApiError::Unavailable(format!(
                "no database thread free within {} s",
                timeout.as_secs()
            ))),
            // It started in time: its connection wait is bounded by what was left of the timeout.
            Err(_) => task.await?,
        }
    }

    /// Runs `work` in the serialising write transaction (`write::write_transaction`). On SQLite
    /// the instance's writers first take turns (waiting no longer than the pool timeout): waiting
    /// for SQLite's file lock means its busy handler, which sleeps 1, 2, 5, 10… ms between tries
    /// and so leaves the lock idle while writers queue; the turn passes the moment a writer
    /// commits. The file lock still serialises writers across processes.
    pub async fn write<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let turn = match self.backend {
            Backend::Sqlite { .. } => {
                let timeout = self.pool.connection_timeout();
                let turn = actix_web::rt::time::timeout(timeout, self.write_turn.clone().lock_owned())
                    .await
                    .map_err(|_| ApiError::Unavailable(format!("no turn to write within {} s", timeout.as_secs())))?;
                Some(turn)
            }
            Backend::Postgres { .. } => None,
        };
        let result = self
            .run(move |conn| {
                let result = write::write_transaction(conn, work);
                drop(turn);
                result
            })
            .await;
        if result.is_ok() {
            self.commits.committed();
        }
        result
    }

    /// The current data version, which every read asks for (to validate the response cache and
    /// for `Last-Modified`), never older than the call (`version_probe`). Should SQLite's reader be
    /// busy or unreadable, the pool reads it instead.
    pub async fn data_version(&self) -> Result<DataVersion, ApiError> {
        match self.version_probe.as_ref() {
            VersionProbe::Sqlite(readers) => match readers.read() {
                Some(version) => Ok(version),
                None => self.run(write::data_version).await,
            },
            VersionProbe::Postgres(query) => query.read(self.pool.connection_timeout()).await,
        }
    }

    /// The same, for commands that run outside the HTTP server.
    pub fn run_blocking<T>(&self, work: impl FnOnce(&mut DbConnection) -> Result<T, ApiError>) -> Result<T, ApiError> {
        let mut conn = self.pool.get()?;
        work(&mut conn)
    }

    /// A write from a thread of its own (the webhook workers' bookkeeping): on SQLite it takes its
    /// turn among this instance's writers, as `write` does, rather than wait in SQLite's busy handler.
    pub fn run_blocking_write<T>(
        &self,
        work: impl FnOnce(&mut DbConnection) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let _turn = match self.backend {
            Backend::Sqlite { .. } => Some(self.write_turn.blocking_lock()),
            Backend::Postgres { .. } => None,
        };
        self.run_blocking(work)
    }
}

/// Applies pending migrations of the connection's backend. On Postgres an advisory lock keeps
/// several instances starting at once from racing each other.
pub fn migrate(conn: &mut DbConnection) -> Result<(), ApiError> {
    let failed =
        |error: Box<dyn std::error::Error + Send + Sync>| ApiError::Internal(format!("migration failed: {error}"));
    match conn {
        DbConnection::Sqlite(conn) => conn
            .run_pending_migrations(SQLITE_MIGRATIONS)
            .map(|_| ())
            .map_err(failed),
        DbConnection::Postgres(conn) => {
            const MIGRATION_LOCK: i64 = 0x5354_5241_5445_4759; // "STRATEGY"
            conn.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))?;
            let result = conn
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|_| ())
                .map_err(failed);
            conn.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))?;
            result
        }
    }
}

/// Whether every migration of this version has been applied (a database another version left
/// behind has not).
pub fn is_migrated(conn: &mut DbConnection) -> Result<bool, ApiError> {
    let failed =
        |error: Box<dyn std::error::Error + Send + Sync>| ApiError::Internal(format!("migrations unreadable: {error}"));
    let pending = match conn {
        DbConnection::Sqlite(conn) => conn.has_pending_migration(SQLITE_MIGRATIONS),
        DbConnection::Postgres(conn) => conn.has_pending_migration(POSTGRES_MIGRATIONS),
    };
    pending.map(|pending| !pending).map_err(failed)
}

/// Refreshes the planner's statistics after a bulk load: a freshly loaded Postgres would
/// otherwise scan whole tables where an index lookup is right.
pub fn analyze(conn: &mut DbConnection) -> Result<(), ApiError> {
    conn.batch_execute("ANALYZE").map_err(ApiError::from)
}

/// `SELECT 1`: does the database answer?
pub fn ping(conn: &mut DbConnection) -> Result<(), ApiError> {
    conn.batch_execute("SELECT 1").map_err(ApiError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_given_up_on_while_queued_never_runs() {
        let path = std::env::temp_dir().join(format!("strategy-api-abandon-{}.sqlite3", std::process::id()));
        let database = Database::new(path.to_str().unwrap(), 1, Duration::from_secs(1));
        let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
        // One blocking thread, as a busy instance has none free.
        let runtime = || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .max_blocking_threads(1)
                .build()
                .unwrap()
        };
        actix_web::rt::System::with_tokio_rt(runtime).block_on(async {
            let holder = database.clone();
            let held = actix_web::rt::spawn(async move {
                holder
                    .run(|_| {
                        std::thread::sleep(Duration::from_millis(2500));
                        Ok(())
                    })
                    .await
            });
            actix_web::rt::time::sleep(Duration::from_millis(200)).await;
            let flag = ran.clone();
            let refused = database
                .run(move |_| {
                    flag.store(true, Ordering::SeqCst);
                    Ok(())
                })
                .await;
            assert!(matches!(refused, Err(ApiError::Unavailable(_))), "{refused:?}");
            held.await.unwrap().expect("the work that had started completes");
            // The thread is free again: the refused work would run now if it were still queued.
            actix_web::rt::time::sleep(Duration::from_millis(300)).await;
        });
        let _ = std::fs::remove_file(&path);
        assert!(!ran.load(Ordering::SeqCst), "work the caller gave up on ran later");
    }

    #[test]
    fn backend_follows_the_url_scheme() {
        assert_eq!(
            Backend::from_url("strategy.sqlite3"),
            Backend::Sqlite {
                path: "strategy.sqlite3".into()
            }
        );
        assert_eq!(
            Backend::from_url("sqlite:///tmp/a.db"),
            Backend::Sqlite {
                path: "/tmp/a.db".into()
            }
        );
        assert_eq!(Backend::from_url("postgres://u@h/db").name(), "postgres");
        assert_eq!(Backend::from_url("postgresql://u@h/db").name(), "postgres");
    }

    #[test]
    fn logged_urls_hide_passwords() {
        let shown = Backend::from_url("postgres://app:secret@db:5432/strategy").display();
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("app:***@db"), "{shown}");
    }
}

/// Now, in UTC, to the microsecond: what both backends store alike.
pub fn now() -> chrono::NaiveDateTime {
    use chrono::{DurationRound, TimeDelta};
    let now = chrono::Utc::now().naive_utc();
    now.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(now)
}

/// Which slice of a collection to return, in which order.
#[derive(Debug, Clone)]
pub struct Page {
    pub limit: i64,
    pub offset: i64,
    pub sort: Vec<SortKey>,
}

/// One field to order by; the record id always breaks ties, so pages never overlap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    pub field: String,
    pub descending: bool,
}

/// Declares the fields a collection sorts by: the list (for errors that name them) and the
/// function that orders a boxed query by validated keys, from one list so they cannot drift.
macro_rules! sortable {
    ($fields:ident, $sorter:ident, $table:ident, [$($field:ident),+ $(,)?]) => {
        /// Fields this collection can be sorted by.
        pub const $fields: &[&str] = &[$(stringify!($field)),+];

        pub fn $sorter<'a>(
            query: $table::BoxedQuery<'a, $crate::db::Db>,
            keys: &[$crate::db::SortKey],
        ) -> $table::BoxedQuery<'a, $crate::db::Db> {
            use diesel::prelude::*;
            // Every listed field is a column of the table: checked when this compiles.
            $(let _ = $table::$field;)+
            // One ORDER BY of quoted, listed column names: diesel walks a chain of `then_order_by`
            // calls once per level for each level above it, in time exponential in its length.
            let mut terms: Vec<String> = keys
                .iter()
                .filter_map(|key| {
                    let field = $fields.iter().find(|field| **field == key.field)?;
                    Some((field, key.descending))
                })
                .map(|(field, descending)| {
                    let column = format!("\"{}\".\"{field}\"", stringify!($table));
                    // Empty values first going up, last going down, on both backends (Postgres
                    // would otherwise put NULLs the other way round).
                    if descending {
                        format!("{column} IS NULL ASC, {column} DESC")
                    } else {
                        format!("{column} IS NULL DESC, {column} ASC")
                    }
                })
                .collect();
            terms.push(format!("\"{}\".\"id\" ASC", stringify!($table)));
            query.then_order_by(diesel::dsl::sql::<diesel::sql_types::Bool>(&terms.join(", ")))
        }
    };
}
pub(crate) use sortable;

/// One page of a collection and the size of the whole filtered collection.
#[derive(Debug)]
pub struct Listing<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

impl<T> Listing<T> {
    /// The same page with its items turned into something else (adding what a view needs).
    pub fn try_map<U>(self, convert: impl FnOnce(Vec<T>) -> Result<Vec<U>, ApiError>) -> Result<Listing<U>, ApiError> {
        Ok(Listing {
            items: convert(self.items)?,
            total: self.total,
            limit: self.limit,
            offset: self.offset,
        })
    }
}

/// Counts and loads one page of `$query` (an expression building the filtered boxed query,
/// evaluated once for the count and once for the rows), ordered by `$sorter`.
macro_rules! load_page {
    ($conn:expr, $query:expr, $row:ty, $sorter:path, $page:expr) => {{
        use diesel::prelude::*;
        let total: i64 = $query.count().get_result($conn)?;
        let items = $sorter($query, &$page.sort)
            .select(<$row>::as_select())
            .limit($page.limit)
            .offset($page.offset)
            .load::<$row>($conn)?;
        $crate::db::Listing {
            items,
            total,
            limit: $page.limit,
            offset: $page.offset,
        }
    }};
}
pub(crate) use load_page;

/// Loads one row by id, or a 404 naming the resource.
macro_rules! find_row {
    ($conn:expr, $table:ident, $row:ty, $resource:literal, $id:expr) => {{
        use diesel::prelude::*;
        $table::table
            .find($id)
            .select(<$row>::as_select())
            .get_result::<$row>($conn)
            .optional()?
            .ok_or_else(|| $crate::error::ApiError::not_found($resource, $id))?
    }};
}
pub(crate) use find_row;

/// Applies the filters every collection has (`plan`, `code`) to a boxed query of `$table`.
macro_rules! filter_common {
    ($query:ident, $table:ident, $filter:expr) => {{
        use diesel::prelude::*;
        if let Some(plan) = $filter.plan {
            $query = $query.filter($table::plan_id.eq(plan));
        }
        if let Some(code) = &$filter.code {
            $query = $query.filter($table::code.eq(code.clone()));
        }
    }};
}
pub(crate) use filter_common;

/// The plan of a record of `$table`, or `None` when no record has this id.
macro_rules! plan_of {
    ($conn:expr, $table:ident, $id:expr) => {{
        use diesel::prelude::*;
        $table::table
            .find($id)
            .select($table::plan_id)
            .first::<i64>($conn)
            .optional()?
    }};
}
pub(crate) use plan_of;

/// Whether another record of `$table` in the plan already has this code.
macro_rules! code_taken {
    ($conn:expr, $table:ident, $plan:expr, $column:ident, $value:expr, $except:expr) => {{
        use diesel::prelude::*;
        let mut query = $table::table
            .filter($table::plan_id.eq($plan))
            .filter($table::$column.eq($value.to_string()))
            .select($table::id)
            .into_boxed();
        if let Some(except) = $except {
            query = query.filter($table::id.ne(except));
        }
        query.first::<i64>($conn).optional()?.is_some()
    }};
}
pub(crate) use code_taken;

/// How many records of `$table` have `$column = $id`: for "what depends on this" answers.
macro_rules! count_of {
    ($conn:expr, $table:ident, $column:ident, $id:expr) => {{
        use diesel::prelude::*;
        $table::table
            .filter($table::$column.eq($id))
            .count()
            .get_result::<i64>($conn)?
    }};
}
pub(crate) use count_of;

/// Reads back the id of a row just inserted, by its unique (plan, code): portable, where `RETURNING` is not.
macro_rules! id_by_code {
    ($conn:expr, $table:ident, $plan:expr, $code:expr) => {{
        use diesel::prelude::*;
        $table::table
            .filter($table::plan_id.eq($plan))
            .filter($table::code.eq($code))
            .select($table::id)
            .first::<i64>($conn)?
    }};
}
pub(crate) use id_by_code;

/// "3 measures": a dependent count for a 409, or nothing when there are none.
pub fn dependents(counts: &[(i64, &str)]) -> Vec<String> {
    counts
        .iter()
        .filter(|(count, _)| *count > 0)
        .map(|(count, what)| format!("{count} {what}"))
        .collect()
}
