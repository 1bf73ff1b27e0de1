//! The store: SQLite (bundled, WAL), owned by one thread.
//!
//! Async code never touches SQLite directly: it hands a closure to
//! [`Store::call`], which runs it on the store thread and awaits the answer, so
//! the tokio runtime is never blocked by disk I/O. Every multi-row change runs in
//! one transaction inside such a closure.
//!
//! The schema is versioned with `PRAGMA user_version`; [`migrations`] brings an
//! older file up to date when it is opened and refuses a newer one. Zone names
//! are stored lower-case without the trailing dot (see zone::name). Timestamps are
//! Unix seconds (UTC).

pub mod downstreams;
pub mod links;
pub mod migrations;
pub mod nameservers;
pub mod notify_acl;
pub mod primaries;
pub mod zonedata;
pub mod zones;

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::Connection;
use tokio::sync::oneshot;

/// Why a store operation did not happen. `NotFound` and `Invalid` are the
/// caller's input problems (nothing was changed); `Db` and `Unavailable` are ours.
#[derive(Debug)]
pub enum StoreError {
    /// No such object in this account: `kind` and the identifier as given.
    NotFound {
        kind: &'static str,
        id: String,
    },
    /// The request conflicts with what is stored (a taken name, a missing link).
    Invalid {
        field: &'static str,
        message: String,
    },
    /// The object is in use and cannot be removed.
    InUse {
        message: String,
    },
    /// A transfer's primary is no longer linked to its zone (unlinked or
    /// deleted while the transfer ran): nothing was committed.
    Unlinked {
        zone_id: i64,
        primary_id: i64,
    },
    Db(rusqlite::Error),
    /// A problem around the database itself (its directory, its schema version, the thread).
    Setup(String),
    /// Stored data that cannot be what we wrote (a record that does not parse).
    Corrupt(String),
    /// The store thread has stopped (the daemon is shutting down).
    Unavailable,
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::NotFound { kind, id } => write!(f, "{kind} `{id}` not found"),
            StoreError::Invalid { field, message } => write!(f, "{field} {message}"),
            StoreError::InUse { message } => f.write_str(message),
            StoreError::Unlinked { zone_id, primary_id } => {
                write!(f, "primary {primary_id} is no longer linked to zone {zone_id}")
            }
            StoreError::Db(e) => write!(f, "database error: {e}"),
            StoreError::Setup(e) => f.write_str(e),
            StoreError::Corrupt(e) => write!(f, "corrupt store data: {e}"),
            StoreError::Unavailable => f.write_str("the store is shutting down"),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Db(e)
    }
}

/// A job for a store thread. It runs and says whether its changes stand
/// (it returned Ok), and how to hand its result over once the writer's
/// transaction is committed (given the commit's error, if it failed).
struct Job {
    run: Box<dyn FnOnce(&mut Connection) -> Ran + Send>,
    /// On the writer, in a savepoint of its own (see [`Store::call_checked`]).
    savepoint: bool,
}

struct Ran {
    kept: bool,
    deliver: Deliver,
}

/// Hands a job's result over, given the error of its group's commit.
type Deliver = Box<dyn FnOnce(Option<&rusqlite::Error>) + Send>;

/// The writer commits the jobs waiting for it together (group commit): one
/// transaction for as many as came in while it worked, up to this many...
const GROUP_MAX_JOBS: usize = 64;
/// ... or until the group has run this long.
const GROUP_MAX_TIME: std::time::Duration = std::time::Duration::from_millis(5);

/// SQLite calls the progress handler every this many virtual-machine steps.
const PROGRESS_STEPS: i32 = 16;

thread_local! {
    /// Virtual-machine steps of this thread's connection (counted in
    /// [`PROGRESS_STEPS`]).
    static STEPS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// The store work one task caused (an API request): SQLite virtual-machine
/// steps, and microseconds on the store threads. The API reports
/// it with each response, so "this request does not cost more with 10,000
/// zones" is something a test checks, not something we believe.
#[derive(Debug, Default)]
pub struct Cost {
    pub steps: std::sync::atomic::AtomicU64,
    pub micros: std::sync::atomic::AtomicU64,
}

tokio::task_local! {
    /// Where [`Store`] calls made by this task add their cost, when set.
    pub static TASK_COST: std::sync::Arc<Cost>;
}

/// A handle to the store thread. Cheap to clone; the thread stops when the last
/// handle is dropped.
#[derive(Clone)]
pub struct Store {
    /// The one writing connection. Every write goes through it, housekeeping
    /// too, in bounded steps (`zonedata::finish_full`): SQLite has one write
    /// lock, and a second writing connection would only make the writer wait
    /// for it in the busy handler, with no order between them.
    jobs: std::sync::mpsc::Sender<Job>,
    /// A second connection for reads that must never wait behind a write
    /// (the API's reads of zones, their data and NS settings, nameserver
    /// sets; the journal for IXFR out; WAL: readers do not block). Primaries
    /// are read on the writer, whose thread holds the links index.
    reads: std::sync::mpsc::Sender<Job>,
    /// What the NOTIFY check needs, kept in memory by the writer (see [`notify_acl`]).
    pub notify_acl: std::sync::Arc<notify_acl::NotifyAcl>,
}

/// Seconds since the Unix epoch, the unit of every stored timestamp.
/// The TSIG key names that stored primaries and zone downstreams use, each
/// with one of its users (for a config reload's check).
pub fn keys_in_use(conn: &mut Connection) -> Result<Vec<(String, String)>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT tsig_key, 'primary `' || MIN(name) || '`' FROM primaries WHERE tsig_key IS NOT NULL GROUP BY tsig_key
         UNION ALL
         SELECT d.tsig_key, 'a downstream of zone `' || MIN(z.name) || '`' FROM zone_downstreams d
           JOIN zones z ON z.id = d.zone_id WHERE d.tsig_key IS NOT NULL GROUP BY d.tsig_key",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// What every connection of ours, the tests' in-memory ones too, runs with.
pub(crate) fn settle(conn: &Connection) -> Result<(), StoreError> {
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Plans fixed at prepare time (the query planner stability guarantee).
    // Without it SQLite marks a statement whose plan could depend on a bound
    // value (max() with a bound WHERE, ORDER BY over an equality, LIKE) and
    // prepares it again each time that value changes: a link re-prepared two
    // statements per request.
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    // Room for every statement the writer runs on the refresh path (the
    // default of 16 would re-prepare some on each zone).
    conn.set_prepared_statement_cache_capacity(128);
    Ok(())
}

/// Opens a connection with the settings every connection of ours uses.
pub fn connect(path: &Path) -> Result<Connection, StoreError> {
    let mut conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // A checkpoint (and its fsync) per 32 MiB of WAL rather than SQLite's
    // 4 MiB: loading thousands of small zones commits a few pages each
    // time, and at the default the writer synced every hundred commits.
    conn.pragma_update(None, "wal_autocheckpoint", 8192)?;
    settle(&conn)?;
    // 8 MiB of page cache per connection. The data that is read again and
    // again (zones, links, small zones' rows) fits many times over; a large
    // load writes its table once, in order, and needs no more. SQLite's
    // sorter for the large tables' CREATE INDEX keeps as much in memory
    // before it merges runs from a temporary file. Measured against 32 MiB:
    // a 1M-record AXFR's peak RSS 132–139 → 105 MiB, the index after it
    // 0.70 → 0.47 s (smaller sorted runs stay in the CPU's caches), the
    // 10,000-zone loads the same.
    conn.pragma_update(None, "cache_size", -8192)?;
    conn.progress_handler(
        PROGRESS_STEPS,
        Some(|| {
            STEPS.with(|s| s.set(s.get() + PROGRESS_STEPS as u64));
            false // never interrupt
        }),
    )?;
    Ok(conn)
}

impl Store {
    /// Opens (creating it and its directory if needed) and migrates the database,
    /// then starts the store thread.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Store::open_bounded(path, None)
    }

    /// [`Store::open`], the database bounded to `max_bytes` (SQLite's
    /// `max_page_count` on every connection: past it, writes fail with
    /// "database or disk is full", as on a full disk).
    pub fn open_bounded(path: &Path, max_bytes: Option<u64>) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| StoreError::Setup(format!("cannot create directory {}: {e}", dir.display())))?;
            }
        }
        let bounded = |conn: Connection| -> Result<Connection, StoreError> {
            if let Some(max) = max_bytes {
                let page: i64 = conn.pragma_query_value(None, "page_size", |r| r.get(0))?;
                let pages = (i64::try_from(max).unwrap_or(i64::MAX) / page.max(512)).max(1);
                conn.pragma_update(None, "max_page_count", pages)?;
            }
            Ok(conn)
        };
        let mut conn = bounded(connect(path)?)?;
        migrations::migrate(&mut conn)?;
        // The link index lives on the thread that owns the writer (see links).
        let (jobs, notify_acl) = spawn_owner("store", true, conn, links::install)?;
        let (reads, ()) = spawn_owner("store-read", false, bounded(connect(path)?)?, |_| Ok(()))?;
        Ok(Store { jobs, reads, notify_acl })
    }

    /// Runs a read-only `f` on the reading connection (see [`Store`]).
    pub async fn read<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<R, StoreError> + Send + 'static,
    {
        run_on(&self.reads, job_of(f)).await
    }

    /// Runs `f` on the store thread and returns its result.
    pub async fn call<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<R, StoreError> + Send + 'static,
    {
        run_on(&self.jobs, job_of(f)).await
    }

    /// [`Store::call`] for a job that only fails in checks before its first
    /// change, or of the store's own errors after it (a transfer's commit,
    /// a catalog's new members): it runs without a savepoint of its own.
    /// SQLite copies every page that a savepoint's changes touch to its
    /// sub-journal first, 5% of the daemon's CPU while 10,000 small zones
    /// loaded. A job that fails having changed nothing leaves its group as
    /// it was; one that fails after a change rolls the whole group back, so
    /// every job of it gets the error, as when a commit fails.
    pub async fn call_checked<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<R, StoreError> + Send + 'static,
    {
        let (mut job, rx) = job_of(f);
        job.savepoint = false;
        run_on(&self.jobs, (job, rx)).await
    }
}

/// Sends a job to the thread behind `jobs` and awaits its result.
async fn run_on<R>(
    jobs: &std::sync::mpsc::Sender<Job>,
    (job, rx): (Job, oneshot::Receiver<Answer<R>>),
) -> Result<R, StoreError> {
    jobs.send(job).map_err(|_| StoreError::Unavailable)?;
    let (r, (steps, micros)) = rx.await.map_err(|_| StoreError::Unavailable)?;
    let _ = TASK_COST.try_with(|c| {
        c.steps.fetch_add(steps, std::sync::atomic::Ordering::Relaxed);
        c.micros.fetch_add(micros, std::sync::atomic::Ordering::Relaxed);
    });
    r
}

/// What a job's caller receives: its result and its cost (steps, microseconds).
type Answer<R> = (Result<R, StoreError>, (u64, u64));

/// `f` as a job, and where its answer arrives.
fn job_of<R, F>(f: F) -> (Job, oneshot::Receiver<Answer<R>>)
where
    R: Send + 'static,
    F: FnOnce(&mut Connection) -> Result<R, StoreError> + Send + 'static,
{
    let (tx, rx) = oneshot::channel();
    let run = Box::new(move |conn: &mut Connection| {
        let (steps, t0) = (STEPS.with(|s| s.get()), std::time::Instant::now());
        let r = f(conn);
        let cost = (STEPS.with(|s| s.get()) - steps, t0.elapsed().as_micros() as u64);
        Ran {
            kept: r.is_ok(),
            deliver: Box::new(move |commit: Option<&rusqlite::Error>| {
                let r = match (r, commit) {
                    (Ok(_), Some(e)) => Err(StoreError::Db(copy_error(e))),
                    (r, _) => r,
                };
                let _ = tx.send((r, cost));
            }),
        }
    });
    (Job { run, savepoint: true }, rx)
}

/// The same error again (a group's failed commit is every job's error).
fn copy_error(e: &rusqlite::Error) -> rusqlite::Error {
    match e {
        rusqlite::Error::SqliteFailure(code, message) => rusqlite::Error::SqliteFailure(*code, message.clone()),
        other => rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR),
            Some(other.to_string()),
        ),
    }
}

thread_local! {
    /// Set while the writer runs a job inside its own savepoint ([`run_writer`]).
    static IN_JOB: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// A job's changes, which stand together or not at all ([`write_tx`]).
pub(crate) enum WriteTx<'c> {
    /// On the writer, inside the job's savepoint: a job that fails (returns
    /// an error) is rolled back to it by [`run_writer`], so a second
    /// savepoint would only cost two more statements per job.
    InJob(&'c Connection),
    /// Elsewhere (tests, tools): a transaction of its own.
    Own(rusqlite::Savepoint<'c>),
}

impl std::ops::Deref for WriteTx<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        match self {
            WriteTx::InJob(c) => c,
            WriteTx::Own(s) => s,
        }
    }
}

impl WriteTx<'_> {
    /// Keeps the changes (on the writer: when the group commits). A job
    /// that returns an error keeps none of them.
    pub(crate) fn commit(self) -> rusqlite::Result<()> {
        match self {
            WriteTx::InJob(_) => Ok(()),
            WriteTx::Own(s) => s.commit(),
        }
    }
}

/// Begins a job's changes, which stand together or not at all: on the writer
/// the job's own savepoint inside the group's transaction (see
/// [`run_writer`]; only an error undoes them there, so a job never returns
/// `Ok` after changes it did not mean to keep); elsewhere (tests) a
/// transaction of its own.
pub(crate) fn write_tx(conn: &mut Connection) -> rusqlite::Result<WriteTx<'_>> {
    if IN_JOB.with(|j| j.get()) {
        Ok(WriteTx::InJob(conn))
    } else {
        conn.savepoint().map(WriteTx::Own)
    }
}

/// Runs a statement of the writer's own (prepared once: `execute_batch`
/// would parse it for every job).
fn exec_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(drop)
}

/// Runs one job of a group in its savepoint (or, for [`Store::call_checked`],
/// without one). When the savepoint cannot be opened, or a job without one
/// failed after a change, the error, with the job's result (delivered with
/// the error: the group is rolled back).
fn run_job(conn: &mut Connection, job: Job) -> Result<Ran, (rusqlite::Error, Ran)> {
    if job.savepoint {
        if let Err(e) = exec_cached(conn, "SAVEPOINT job") {
            return Err((e, (job.run)(conn)));
        }
    }
    let before = conn.total_changes();
    IN_JOB.with(|j| j.set(true));
    let ran = (job.run)(conn);
    IN_JOB.with(|j| j.set(false));
    if !job.savepoint && !ran.kept && conn.total_changes() != before {
        let why = "a store job failed after its first change, so its whole transaction was rolled back";
        return Err((
            rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ABORT), Some(why.into())),
            ran,
        ));
    }
    Ok(ran)
}

/// The writer thread: runs the jobs sent to it in groups, each group one
/// transaction (BEGIN IMMEDIATE: the write lock up front, so a busy database
/// makes it wait in busy_timeout instead of failing half-way), each job in
/// a savepoint of its own that is rolled back when the job fails. A job's
/// result is handed over after the group's commit, so no caller hears of a
/// change that is not committed; a failed commit is every job's error.
fn run_writer(conn: &mut Connection, rx: &std::sync::mpsc::Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        if let Err(e) = exec_cached(conn, "BEGIN IMMEDIATE") {
            // Not even a transaction: the job runs alone, in autocommit, and
            // meets the same error at its first write.
            tracing::warn!(error = %e, "the store cannot begin a transaction");
            ((first.run)(conn).deliver)(None);
            continue;
        }
        let started = std::time::Instant::now();
        let mut done: Vec<Deliver> = Vec::new();
        let mut lost: Option<rusqlite::Error> = None;
        let mut next = Some(first);
        while let Some(job) = next.take() {
            let mark = links::mark();
            let savepoint = job.savepoint;
            let ran = match run_job(conn, job) {
                Ok(ran) => ran,
                Err((e, ran)) => {
                    lost = Some(e);
                    done.push(ran.deliver);
                    break;
                }
            };
            done.push(ran.deliver);
            if conn.is_autocommit() {
                // SQLite rolled the whole group back after an error (a full
                // disk can do that): no job of it stands.
                lost = Some(rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ABORT),
                    Some("the transaction was rolled back after an error".into()),
                ));
                break;
            }
            // A job without a savepoint that failed changed nothing (run_job).
            let end = match (savepoint, ran.kept) {
                (false, _) => Ok(()),
                (true, true) => exec_cached(conn, "RELEASE job"),
                (true, false) => conn.execute_batch("ROLLBACK TO job; RELEASE job"),
            };
            if let Err(e) = end {
                lost = Some(e);
                break;
            }
            if !ran.kept {
                links::rolled_back_to(mark);
            }
            if done.len() < GROUP_MAX_JOBS && started.elapsed() < GROUP_MAX_TIME {
                next = rx.try_recv().ok();
            }
        }
        let failed = match lost {
            Some(e) => Some(e),
            None => exec_cached(conn, "COMMIT").err(),
        };
        if failed.is_some() && !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        for deliver in done {
            deliver(failed.as_ref());
        }
    }
}

/// Starts the thread that owns `conn`, runs `init` on it there, then the
/// jobs sent to it (grouped in transactions on the `writer`); returns
/// `init`'s answer with the way to send jobs.
fn spawn_owner<T, I>(
    name: &str,
    writer: bool,
    mut conn: Connection,
    init: I,
) -> Result<(std::sync::mpsc::Sender<Job>, T), StoreError>
where
    T: Send + 'static,
    I: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
{
    let (jobs, rx) = std::sync::mpsc::channel::<Job>();
    let (ready, started) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let ok = match init(&mut conn) {
                Ok(t) => ready.send(Ok(t)).is_ok(),
                Err(e) => {
                    let _ = ready.send(Err(e));
                    false
                }
            };
            if !ok {
                return;
            }
            if writer {
                run_writer(&mut conn, &rx);
            } else {
                while let Ok(job) = rx.recv() {
                    ((job.run)(&mut conn).deliver)(None);
                }
            }
            let _ = conn.execute_batch("PRAGMA optimize;");
        })
        .map_err(|e| StoreError::Setup(format!("cannot start the {name} thread: {e}")))?;
    let t = started.recv().map_err(|_| StoreError::Setup(format!("the {name} thread stopped at its start")))??;
    Ok((jobs, t))
}

/// Sort order of a list: column and direction (DNSimple `sort=name:desc`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    pub column: SortColumn,
    pub descending: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortColumn {
    Id,
    Name,
}

impl Sort {
    pub const DEFAULT: Sort = Sort { column: SortColumn::Id, descending: false };

    /// The SQL `ORDER BY` clause; only ever built from the enum, never from input.
    pub(crate) fn order_by(self) -> &'static str {
        match (self.column, self.descending) {
            (SortColumn::Id, false) => "id ASC",
            (SortColumn::Id, true) => "id DESC",
            (SortColumn::Name, false) => "name ASC, id ASC",
            (SortColumn::Name, true) => "name DESC, id DESC",
        }
    }
}

/// One page of a list: 1-based page number and page size.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub page: u32,
    pub per_page: u32,
}

impl Page {
    pub(crate) fn offset(self) -> i64 {
        i64::from(self.page.saturating_sub(1)) * i64::from(self.per_page)
    }
}

#[cfg(test)]
mod tests;
