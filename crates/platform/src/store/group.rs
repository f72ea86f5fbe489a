//! Group commit: one writer task runs the writes of many concurrent
//! requests in one database transaction, each in its own savepoint, and
//! answers every request only after that transaction has committed.
//!
//! Why: every uplink is one small write that must be durable before the
//! lot hears 200. One fsync per record caps SQLite (one writer) at a few
//! hundred records a second; one fsync per batch does not. A job that
//! fails rolls back to its savepoint and leaves the rest of the batch alone.
//!
//! Deadlock freedom: on a server database several writers commit batches
//! concurrently. Every write names the rows it touches by a *shard key* (the
//! parkingCode for records: a lot's records, berth states, status and online
//! slots) and each key always goes to the same writer, so two batches never
//! lock one lot's rows in different orders. What still conflicts (a
//! cross-lot maintenance update, another process) is retried inside: a batch
//! that meets a deadlock or serialization failure is rolled back and run
//! again, so a lot never hears 500 for a conflict the platform caused.

use std::any::{Any, TypeId};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::future::BoxFuture;
use sqlx::pool::PoolConnection;
use sqlx::{AnyConnection, AnyPool, Connection};
use tokio::sync::{Mutex, mpsc, oneshot};

use super::shared::SlotsWritten;
use super::{Shared, StoreError};

/// Most jobs in one transaction: bounds the work lost to one failed commit
/// and the latency a job waits behind others.
const MAX_BATCH: usize = 256;

/// How long at most the writer gathers jobs before it starts a batch
/// smaller than [`GATHER_ENOUGH`]. It gathers only while they keep coming:
/// it lets the runtime's other ready tasks run once (`yield_now`) and stops
/// when that brought no new job, so a lone request does not wait. Why: a
/// commit costs the same fsync, WAL pages and statement round trips for 5
/// records as for 35, and under load the next records are a moment away
/// (measured on SQLite at 64 connections with a plain 1 ms wait: 5 records
/// a commit without it, 35 with it; this rule, with the RSA opens on the
/// runtime's threads: 0.70 → 0.78–0.85 of the RSA bound, BENCHMARKS.md
/// "Ingest at the RSA limit").
const GATHER: Duration = Duration::from_millis(1);

/// A batch this big is started without gathering more.
const GATHER_ENOUGH: usize = 32;

/// How often a batch that hit a transient conflict is run again.
const MAX_RETRIES: u32 = 8;

/// A queued write, type-erased. `run` may be called again when its batch is
/// retried; `finish` reports the last run's result once the batch ended.
trait Job: Send {
    /// Runs the write; `Err` when it hit a transient conflict (the batch
    /// must be rolled back and retried).
    fn run<'c>(&'c mut self, conn: &'c mut AnyConnection, shared: &'c mut Shared) -> BoxFuture<'c, Result<(), String>>;
    fn finish(self: Box<Self>, committed: Result<(), Arc<sqlx::Error>>);
    /// Its last run ended in a database error: on PostgreSQL that aborted
    /// the transaction it ran in (a statement of it failed).
    fn failed(&self) -> bool {
        false
    }
    /// Writes of one kind that share their statements when they are
    /// neighbours in a batch ([`Bulk`]); `None` for a write of its own.
    fn bulk(&self) -> Option<(TypeId, usize)> {
        None
    }
    /// Runs this job and `like` (the jobs right after it of the same
    /// `bulk` kind) together; only called when `bulk` is `Some`. `alone`:
    /// they are the whole batch, so they need no savepoint of their own (a
    /// failure reruns the batch [`Rerun::Carefully`]).
    fn run_bulk<'c>(
        &'c mut self,
        like: &'c mut [Box<dyn Job>],
        alone: bool,
        conn: &'c mut AnyConnection,
        shared: &'c mut Shared,
    ) -> BoxFuture<'c, Result<(), Rerun>> {
        let _ = (like, alone);
        Box::pin(async move { self.run(conn, shared).await.map_err(Rerun::Conflict) })
    }
    fn as_any(&mut self) -> &mut dyn Any;
}

struct Write<T, D, W> {
    data: D,
    write: W,
    result: Option<Result<T, StoreError>>,
    answer: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, D, W> Job for Write<T, D, W>
where
    T: Send + 'static,
    D: Send + Sync + 'static,
    W: Writer<T, D>,
{
    fn run<'c>(&'c mut self, conn: &'c mut AnyConnection, shared: &'c mut Shared) -> BoxFuture<'c, Result<(), String>> {
        Box::pin(async move {
            let result = (self.write)(conn, &self.data, shared).await;
            let conflict = conflict(&result);
            self.result = Some(result);
            conflict
        })
    }

    fn finish(self: Box<Self>, committed: Result<(), Arc<sqlx::Error>>) {
        let _ = self.answer.send(settled(self.result, committed));
    }

    fn failed(&self) -> bool {
        failed_in_db(&self.result)
    }

    fn as_any(&mut self) -> &mut dyn Any {
        self
    }
}

/// Writes many records of one kind in a few statements (a multi-row
/// insert), one result per record in their order; `Err` fails them all
/// (each is then written again on its own, in its own savepoint). What
/// the records say about shared rows goes into `Shared` only once all
/// their statements succeeded.
pub(super) type Bulk<T, D> = for<'c> fn(
    &'c mut AnyConnection,
    &'c [&'c D],
    &'c mut Shared,
) -> BoxFuture<'c, Result<Vec<Result<T, StoreError>>, StoreError>>;

/// A queued [`Bulk`] write of one record.
struct BulkWrite<T, D> {
    data: D,
    write: Bulk<T, D>,
    result: Option<Result<T, StoreError>>,
    answer: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, D> BulkWrite<T, D>
where
    T: Send + 'static,
    D: Send + Sync + 'static,
{
    /// Runs `jobs` in one savepoint with their shared statements; when
    /// those fail for another reason than a conflict, each one alone.
    /// `alone` (they are the whole batch): without the savepoint, and a
    /// failure reruns the batch carefully instead.
    async fn run_all(
        jobs: &mut [&mut Self],
        alone: bool,
        conn: &mut AnyConnection,
        shared: &mut Shared,
    ) -> Result<(), Rerun> {
        let Some(write) = jobs.first().map(|j| j.write) else { return Ok(()) };
        let together = {
            let data: Vec<&D> = jobs.iter().map(|j| &j.data).collect();
            let mut theirs = Shared::default();
            if alone {
                // A record's kept database error is `commit`'s to see (`failed`).
                match write(conn, &data, &mut theirs).await {
                    Ok(results) if results.len() == jobs.len() => Ok((results, theirs)),
                    Ok(_) => Err(StoreError::NotWritten),
                    Err(e) => Err(e),
                }
            } else {
                let mut savepoint = conn.begin().await.map_err(|e| Rerun::Conflict(e.to_string()))?;
                match write(&mut savepoint, &data, &mut theirs).await {
                    Ok(results) if results.len() == jobs.len() => match savepoint.commit().await {
                        Ok(()) => Ok((results, theirs)),
                        Err(e) => Err(StoreError::Db(e)),
                    },
                    Ok(_) => Err(StoreError::NotWritten),
                    Err(e) => Err(e),
                }
            }
        };
        match together {
            Ok((results, theirs)) => {
                shared.absorb(theirs);
                for (job, result) in jobs.iter_mut().zip(results) {
                    job.result = Some(result);
                }
                Ok(())
            }
            Err(StoreError::Db(e)) if transient(&e) => Err(Rerun::Conflict(e.to_string())),
            Err(e) if alone => {
                tracing::warn!(error = %e, jobs = jobs.len(), "a multi-row write failed; its batch runs again, each record alone");
                Err(Rerun::Carefully)
            }
            Err(e) => {
                tracing::warn!(error = %e, jobs = jobs.len(), "a multi-row write failed; writing its records one by one");
                for job in jobs.iter_mut() {
                    Job::run(&mut **job, conn, shared).await.map_err(Rerun::Conflict)?;
                }
                Ok(())
            }
        }
    }
}

impl<T, D> Job for BulkWrite<T, D>
where
    T: Send + 'static,
    D: Send + Sync + 'static,
{
    fn run<'c>(&'c mut self, conn: &'c mut AnyConnection, shared: &'c mut Shared) -> BoxFuture<'c, Result<(), String>> {
        Box::pin(async move {
            let mut theirs = Shared::default();
            let result = async {
                let mut savepoint = conn.begin().await?;
                let mut results = (self.write)(&mut savepoint, &[&self.data], &mut theirs).await?;
                savepoint.commit().await?;
                results.pop().ok_or(StoreError::NotWritten)?
            }
            .await;
            if result.is_ok() {
                shared.absorb(theirs);
            }
            let conflict = conflict(&result);
            self.result = Some(result);
            conflict
        })
    }

    fn finish(self: Box<Self>, committed: Result<(), Arc<sqlx::Error>>) {
        let _ = self.answer.send(settled(self.result, committed));
    }

    fn failed(&self) -> bool {
        failed_in_db(&self.result)
    }

    fn bulk(&self) -> Option<(TypeId, usize)> {
        Some((TypeId::of::<Self>(), self.write as usize))
    }

    fn run_bulk<'c>(
        &'c mut self,
        like: &'c mut [Box<dyn Job>],
        alone: bool,
        conn: &'c mut AnyConnection,
        shared: &'c mut Shared,
    ) -> BoxFuture<'c, Result<(), Rerun>> {
        Box::pin(async move {
            let mut jobs: Vec<&mut Self> = Vec::with_capacity(1 + like.len());
            jobs.push(self);
            // Same `bulk` kind, so the same type: every downcast succeeds.
            jobs.extend(like.iter_mut().filter_map(|j| j.as_any().downcast_mut::<Self>()));
            Self::run_all(&mut jobs, alone, conn, shared).await
        })
    }

    fn as_any(&mut self) -> &mut dyn Any {
        self
    }
}

/// A job's result is a database error (a statement of it failed).
fn failed_in_db<T>(result: &Option<Result<T, StoreError>>) -> bool {
    matches!(result, Some(Err(StoreError::Db(_))))
}

/// Why a batch must be rolled back and run again.
enum Rerun {
    /// A transient conflict (deadlock, serialization failure, busy): the
    /// same batch may succeed in a moment.
    Conflict(String),
    /// A batch's multi-row write, run without a savepoint of its own, failed:
    /// the batch runs again with one, and each record alone when that fails.
    Carefully,
}

/// `Err(why)` when a write hit a transient conflict: its batch must be
/// rolled back and run again.
fn conflict<T>(result: &Result<T, StoreError>) -> Result<(), String> {
    match result {
        Err(StoreError::Db(e)) if transient(e) => Err(e.to_string()),
        _ => Ok(()),
    }
}

/// A job's answer once its batch ended.
fn settled<T>(result: Option<Result<T, StoreError>>, committed: Result<(), Arc<sqlx::Error>>) -> Result<T, StoreError> {
    match (result, committed) {
        // Never run: the batch failed before reaching it.
        (None, _) => Err(StoreError::NotWritten),
        (Some(result), Ok(())) => result,
        // A job that failed on its own reports its own error.
        (Some(result), Err(e)) => result.and(Err(StoreError::Commit(e))),
    }
}

/// A write: runs on the batch's connection with its data, and records what
/// it says about rows shared by many records in `Shared` (applied once per
/// batch) once its own savepoint is released.
pub(super) trait Writer<T, D>:
    for<'c> Fn(&'c mut AnyConnection, &'c D, &'c mut Shared) -> BoxFuture<'c, Result<T, StoreError>> + Send + Sync + 'static
{
}

impl<T, D, W> Writer<T, D> for W where
    W: for<'c> Fn(&'c mut AnyConnection, &'c D, &'c mut Shared) -> BoxFuture<'c, Result<T, StoreError>>
        + Send
        + Sync
        + 'static
{
}

/// Deadlock, serialization failure, lock not available (PostgreSQL), busy
/// or locked (SQLite, another process): the same write can succeed later.
pub(super) fn transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => {
            matches!(db.code().as_deref(), Some("40P01" | "40001" | "55P03" | "5" | "6" | "517" | "262"))
        }
        _ => false,
    }
}

#[derive(Clone)]
pub(super) struct GroupCommit {
    /// One queue per writer; a shard key always maps to the same one.
    queues: Arc<[mpsc::Sender<Box<dyn Job>>]>,
    /// Which writer owns each key: assigned round-robin at first sight, so
    /// a few lots spread evenly (a hash left writers idle), then fixed. One
    /// entry per parkingCode the platform authorized, plus one for downlinks.
    owners: Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>,
    stats: Arc<CommitStats>,
}

/// Committed batches and the jobs in them (for `/metrics`: jobs ÷ batches
/// is the mean batch size, the fsyncs saved), and batches retried.
#[derive(Debug, Default)]
pub struct CommitStats {
    pub batches: AtomicU64,
    pub jobs: AtomicU64,
    pub retries: AtomicU64,
    /// Microseconds the writers spent running batches, commit included:
    /// its rate near 1 s/s per writer says the writer, not the work before
    /// it, is what holds records back.
    pub busy_micros: AtomicU64,
}

impl GroupCommit {
    /// Starts `writers` writer tasks: one for SQLite (one writer anyway),
    /// several for a server database, where a batch waiting on its commit
    /// should not hold back the next. `writer` is SQLite's one-writer lock,
    /// taken for each batch so other writes never meet a half-open transaction.
    pub(super) fn start(pool: AnyPool, writer: Option<Arc<Mutex<()>>>, writers: usize) -> GroupCommit {
        let stats = Arc::new(CommitStats::default());
        let queues: Vec<_> = (0..writers.max(1))
            .map(|_| {
                let (jobs, queue) = mpsc::channel(4 * MAX_BATCH);
                tokio::spawn(run(pool.clone(), writer.clone(), queue, stats.clone()));
                jobs
            })
            .collect();
        GroupCommit { queues: queues.into(), stats, owners: Arc::default() }
    }

    pub(super) fn stats(&self) -> &CommitStats {
        &self.stats
    }

    /// Runs `write` over `data` in the next batch of the writer that owns
    /// `shard`; its result arrives once that batch is durable. `write` runs in
    /// the batch's transaction (in a savepoint when the batch is run again
    /// carefully, after a write of it failed; a `write` may open one itself
    /// with `conn.begin()`). It runs again when its batch is retried, hence
    /// `data` by reference.
    pub(super) async fn write<T, D, W>(&self, shard: &str, data: D, write: W) -> Result<T, StoreError>
    where
        T: Send + 'static,
        D: Send + Sync + 'static,
        W: Writer<T, D>,
    {
        let (answer, answered) = oneshot::channel();
        let job: Box<dyn Job> = Box::new(Write { data, write, result: None, answer });
        let queue = &self.queues[self.owner(shard)];
        queue.send(job).await.map_err(|_| StoreError::NotWritten)?;
        answered.await.map_err(|_| StoreError::NotWritten)?
    }

    /// As [`GroupCommit::write`], for a record whose neighbours of the same
    /// kind in its batch are written with it by `write` in a few statements.
    pub(super) async fn write_bulk<T, D>(&self, shard: &str, data: D, write: Bulk<T, D>) -> Result<T, StoreError>
    where
        T: Send + 'static,
        D: Send + Sync + 'static,
    {
        let (answer, answered) = oneshot::channel();
        let job: Box<dyn Job> = Box::new(BulkWrite { data, write, result: None, answer });
        let queue = &self.queues[self.owner(shard)];
        queue.send(job).await.map_err(|_| StoreError::NotWritten)?;
        answered.await.map_err(|_| StoreError::NotWritten)?
    }
}

impl GroupCommit {
    fn owner(&self, key: &str) -> usize {
        let mut owners = self.owners.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(owner) = owners.get(key) {
            return *owner;
        }
        let next = owners.len() % self.queues.len();
        owners.insert(key.to_owned(), next);
        next
    }
}

async fn run(
    pool: AnyPool,
    writer: Option<Arc<Mutex<()>>>,
    mut queue: mpsc::Receiver<Box<dyn Job>>,
    stats: Arc<CommitStats>,
) {
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(MAX_BATCH);
    let mut written = SlotsWritten::default();
    // The writer keeps its connection from batch to batch: taking one from
    // the pool each time costs a liveness round trip per batch. A batch that
    // fails gives it back and the next try takes one from the pool: it may be
    // broken, or left counted inside a transaction SQLite ended on its own
    // (a full disk), which the pool's release check closes.
    let mut held: Option<PoolConnection<sqlx::Any>> = None;
    // The last batch committed: under load the next one is a moment away.
    let mut busy = false;
    loop {
        let (turn, mut first) = match held.as_mut() {
            Some(conn) if busy => match ahead(conn, &mut queue, &mut batch, &mut written, &writer).await {
                Next::Closed => break,
                Next::Idle { given_back } => {
                    if !given_back {
                        held = None;
                    }
                    busy = false;
                    continue;
                }
                Next::Tried(turn, tried) => (turn, Some(tried)),
            },
            _ => {
                if queue.recv_many(&mut batch, MAX_BATCH).await == 0 {
                    break;
                }
                gather(&mut queue, &mut batch).await;
                (Turn::take(&writer).await, None)
            }
        };
        let began = turn.began;
        let mut retries = 0;
        let mut careful = false;
        let mut reconnected = false;
        let committed = loop {
            let done = match first.take() {
                Some(done) => done,
                None => {
                    let conn = match held.as_mut() {
                        Some(conn) => conn,
                        None => match pool.acquire().await {
                            Ok(conn) => held.insert(conn),
                            Err(e) => break Err(Arc::new(e)),
                        },
                    };
                    match conn.begin().await {
                        Ok(tx) => commit(tx, &mut batch, &mut written, careful).await,
                        Err(e) => Err(Failure::Begin(e)),
                    }
                }
            };
            // A batch rerun carefully keeps its connection: it only rolled back.
            if done.is_err() && !matches!(done, Err(Failure::Carefully)) {
                held = None;
            }
            match done {
                Err(Failure::Carefully) if !careful => careful = true,
                // The connection kept from an idle writer was closed while it
                // waited (by the server, a restart, a balancer): nothing of
                // this batch ran, so it runs at once on another, once. (Closed
                // during a transaction begun ahead, it fails the batch's first
                // statement instead: after a lone bulk run or a plain write the
                // batch reruns carefully and lands here at its BEGIN; after a
                // run among other writes its savepoint fails, retried as a
                // conflict on another connection.)
                Err(Failure::Begin(e)) if !reconnected => {
                    tracing::debug!(error = %e, "the writer's connection failed at BEGIN; the batch runs on another");
                    reconnected = true;
                }
                Err(Failure::Carefully) => {
                    break Err(Arc::new(sqlx::Error::Protocol("the batch failed again, run carefully".into())));
                }
                Err(Failure::Transient(why)) if retries < MAX_RETRIES => {
                    retries += 1;
                    stats.retries.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(reason = %why, retries, jobs = batch.len(), "write conflict; batch retried");
                    // The other side needs a moment to finish; spread retries.
                    tokio::time::sleep(Duration::from_millis(5 << retries.min(6))).await;
                }
                Err(Failure::Transient(why)) => break Err(Arc::new(sqlx::Error::Protocol(why))),
                Err(Failure::Begin(e) | Failure::Db(e) | Failure::Commit(e)) => break Err(Arc::new(e)),
                Ok(()) => break Ok(()),
            }
        };
        stats.busy_micros.fetch_add(began.elapsed().as_micros() as u64, Ordering::Relaxed);
        busy = committed.is_ok();
        match &committed {
            Ok(()) => {
                stats.batches.fetch_add(1, Ordering::Relaxed);
                stats.jobs.fetch_add(batch.len() as u64, Ordering::Relaxed);
            }
            Err(e) => tracing::error!(error = %e, jobs = batch.len(), "group commit failed"),
        }
        for job in batch.drain(..) {
            job.finish(committed.clone());
        }
    }
}

/// A writer's turn at a batch: SQLite's one-writer lock, held until the
/// batch ended, and when it began (for `busy_micros`).
struct Turn {
    _lock: Option<tokio::sync::OwnedMutexGuard<()>>,
    began: std::time::Instant,
}

impl Turn {
    async fn take(writer: &Option<Arc<Mutex<()>>>) -> Turn {
        let lock = match writer {
            Some(lock) => Some(lock.clone().lock_owned().await),
            None => None,
        };
        Turn { _lock: lock, began: std::time::Instant::now() }
    }
}

/// How long a transaction begun ahead of a batch may wait for its jobs
/// before it is given back: an idle platform holds no transaction open
/// (a server may count, or end, sessions idle in one).
const AHEAD: Duration = Duration::from_secs(1);

/// What waiting on a transaction begun ahead brought.
enum Next {
    /// The queue closed: the platform is stopping.
    Closed,
    /// No transaction is open ahead: none came within [`AHEAD`] and it was
    /// rolled back, or it did not begin (`given_back: false`: the connection
    /// is suspect).
    Idle { given_back: bool },
    /// Jobs came and ran once in it.
    Tried(Turn, Result<(), Failure>),
}

/// Begins the next batch's transaction before its jobs arrive, waits for
/// them, and runs them in it. Why: the `BEGIN` is a round trip to a
/// database whose side went to sleep after the last commit; with the cores
/// busy opening ciphers its wake-up took 250 µs on SQLite and 640 µs on
/// PostgreSQL, a fifth to a third of a batch of 10 (BENCHMARKS.md "Ingest
/// at the RSA limit"). Begun ahead, it overlaps the wait for the jobs. A `BEGIN` holds
/// nothing until the first statement: no snapshot, no lock (SQLite's
/// deferred one reads nothing; PostgreSQL takes its snapshot per statement).
async fn ahead(
    conn: &mut AnyConnection,
    queue: &mut mpsc::Receiver<Box<dyn Job>>,
    batch: &mut Vec<Box<dyn Job>>,
    written: &mut SlotsWritten,
    writer: &Option<Arc<Mutex<()>>>,
) -> Next {
    let tx = match conn.begin().await {
        Ok(tx) => tx,
        Err(e) => {
            tracing::debug!(error = %e, "the writer's connection failed at BEGIN; the next batch takes another");
            return Next::Idle { given_back: false };
        }
    };
    match tokio::time::timeout(AHEAD, queue.recv_many(batch, MAX_BATCH)).await {
        Ok(0) => return Next::Closed,
        Ok(_) => {}
        Err(_) => return Next::Idle { given_back: tx.rollback().await.is_ok() },
    }
    gather(queue, batch).await;
    let turn = Turn::take(writer).await;
    Next::Tried(turn, commit(tx, batch, written, false).await)
}

/// Adds to `batch` the jobs that arrive while the runtime's other ready
/// tasks run, for as long as each turn brings more, at most [`GATHER`] and
/// until it holds [`GATHER_ENOUGH`].
async fn gather(queue: &mut mpsc::Receiver<Box<dyn Job>>, batch: &mut Vec<Box<dyn Job>>) {
    let until = std::time::Instant::now() + GATHER;
    while batch.len() < GATHER_ENOUGH && std::time::Instant::now() < until {
        tokio::task::yield_now().await;
        let had = batch.len();
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if batch.len() == had {
            return;
        }
    }
}

enum Failure {
    Transient(String),
    /// Run the batch again with a savepoint for each write or run of writes.
    Carefully,
    /// Its transaction did not begin: nothing ran.
    Begin(sqlx::Error),
    /// Failed before its commit: the batch was rolled back.
    Db(sqlx::Error),
    /// The commit itself failed, not as a conflict (those roll back and are
    /// retried): whether it took effect is not known, so the batch is not
    /// run again here (its lots retry, as for any 500).
    Commit(sqlx::Error),
}

impl From<Rerun> for Failure {
    fn from(rerun: Rerun) -> Failure {
        match rerun {
            Rerun::Conflict(why) => Failure::Transient(why),
            Rerun::Carefully => Failure::Carefully,
        }
    }
}

/// Runs `jobs` in `tx` and commits. A batch that is one run of a bulk
/// kind (a burst of entries) writes it without a savepoint, unless
/// `careful`: two round trips fewer, and a failure reruns it carefully.
/// A plain write runs in the batch's transaction itself; when one fails
/// the batch runs again `careful`, each plain write in a savepoint.
async fn commit(
    mut tx: sqlx::Transaction<'_, sqlx::Any>,
    jobs: &mut [Box<dyn Job>],
    written: &mut SlotsWritten,
    careful: bool,
) -> Result<(), Failure> {
    let failure = |e: sqlx::Error| if transient(&e) { Failure::Transient(e.to_string()) } else { Failure::Db(e) };
    let mut shared = Shared::default();
    let whole = jobs.len();
    let mut rest = &mut jobs[..];
    // Dropping `tx` on the way out rolls the whole batch back.
    while let Some((first, after)) = rest.split_first_mut() {
        let Some(kind) = first.bulk() else {
            if careful {
                // In a savepoint of its own: its failure leaves the rest alone.
                let mut savepoint = tx.begin().await.map_err(failure)?;
                first.run(&mut savepoint, &mut shared).await.map_err(Failure::Transient)?;
                if first.failed() {
                    savepoint.rollback().await.map_err(failure)?;
                } else {
                    savepoint.commit().await.map_err(failure)?;
                }
            } else {
                first.run(&mut tx, &mut shared).await.map_err(Failure::Transient)?;
                // On PostgreSQL its failed statement aborted the transaction,
                // whose COMMIT would then roll back without an error: every
                // other job would be answered stored and be lost. Run again
                // carefully (as an unsavepointed bulk run that failed).
                if first.failed() {
                    return Err(Failure::Carefully);
                }
            }
            rest = after;
            continue;
        };
        // The run of neighbours of the same kind, written together.
        let n = after.iter().take_while(|j| j.bulk() == Some(kind)).count();
        let alone = !careful && n + 1 == whole;
        let (like, after) = after.split_at_mut(n);
        first.run_bulk(like, alone, &mut tx, &mut shared).await?;
        // Without its savepoint, a record's statement that failed (kept as
        // its result) aborted the transaction as a plain write's does.
        if alone && (first.failed() || like.iter().any(|j| j.failed())) {
            return Err(Failure::Carefully);
        }
        rest = after;
    }
    let slots = shared.apply(&mut tx, written).await.map_err(failure)?;
    tx.commit()
        .await
        .map_err(|e| if transient(&e) { Failure::Transient(e.to_string()) } else { Failure::Commit(e) })?;
    // Only now: a batch rolled back and retried writes its slots again.
    written.extend(slots);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A job that writes nothing: `gather` only moves jobs.
    struct Nothing;

    impl Job for Nothing {
        fn run<'c>(&'c mut self, _: &'c mut AnyConnection, _: &'c mut Shared) -> BoxFuture<'c, Result<(), String>> {
            Box::pin(async { Ok(()) })
        }
        fn finish(self: Box<Self>, _: Result<(), Arc<sqlx::Error>>) {}
        fn as_any(&mut self) -> &mut dyn Any {
            self
        }
    }

    fn nothing() -> Box<dyn Job> {
        Box::new(Nothing)
    }

    #[tokio::test]
    async fn gathering_takes_jobs_while_they_keep_coming_and_stops_at_enough() {
        let (jobs, mut queue) = mpsc::channel(4 * MAX_BATCH);
        // A lone job: nothing else comes, the batch starts as it is.
        let mut batch = vec![nothing()];
        gather(&mut queue, &mut batch).await;
        assert_eq!(batch.len(), 1);

        // Two queued, then a sender that adds one job each time it runs, 3 times:
        // each turn of the runtime brings one more, then none.
        for _ in 0..2 {
            jobs.send(nothing()).await.expect("queued");
        }
        let more = jobs.clone();
        let sender = tokio::spawn(async move {
            for _ in 0..3 {
                more.send(nothing()).await.expect("queued");
                tokio::task::yield_now().await;
            }
        });
        let mut batch = vec![nothing()];
        gather(&mut queue, &mut batch).await;
        assert_eq!(batch.len(), 6, "the queued jobs and each one that came while gathering");
        sender.await.expect("sent");

        // Enough queued: one turn takes them all, then the batch starts.
        for _ in 0..GATHER_ENOUGH + 8 {
            jobs.send(nothing()).await.expect("queued");
        }
        let mut batch = vec![nothing()];
        gather(&mut queue, &mut batch).await;
        assert_eq!(batch.len(), GATHER_ENOUGH + 9);
        assert!(queue.try_recv().is_err(), "nothing left behind");
    }

    /// A multi-row write of numbers into a table that refuses negatives:
    /// one negative fails the whole statement.
    fn put_numbers<'c>(
        conn: &'c mut AnyConnection,
        rows: &'c [&'c i64],
        _: &'c mut Shared,
    ) -> BoxFuture<'c, Result<Vec<Result<i64, StoreError>>, StoreError>> {
        Box::pin(async move {
            let sql = super::super::multi_row_insert(conn, "INSERT INTO numbers (n) VALUES ", 1, rows.len(), "");
            let mut insert = sqlx::query(&sql);
            for n in rows {
                insert = insert.bind(**n);
            }
            insert.execute(&mut *conn).await?;
            Ok(rows.iter().map(|n| Ok(**n)).collect())
        })
    }

    /// Calls of [`put_numbers_counted`].
    static CALLS: AtomicU64 = AtomicU64::new(0);

    fn put_numbers_counted<'c>(
        conn: &'c mut AnyConnection,
        rows: &'c [&'c i64],
        shared: &'c mut Shared,
    ) -> BoxFuture<'c, Result<Vec<Result<i64, StoreError>>, StoreError>> {
        CALLS.fetch_add(1, Ordering::Relaxed);
        put_numbers(conn, rows, shared)
    }

    async fn numbers(pool: &AnyPool) -> Vec<i64> {
        sqlx::query_scalar("SELECT n FROM numbers ORDER BY n").fetch_all(pool).await.expect("numbers")
    }

    /// A batch that is one run of a bulk kind goes in without a savepoint;
    /// when that fails it runs again carefully, and each record ends as it
    /// would alone (a batch that is not alone in its batch, the same).
    #[tokio::test]
    async fn a_failed_multi_row_write_reruns_its_batch_carefully() {
        sqlx::any::install_default_drivers();
        let path = std::env::temp_dir().join(format!("onepark-group-careful-{}.db", std::process::id()));
        let pool = AnyPool::connect(&format!("sqlite://{}?mode=rwc", path.display())).await.expect("pool");
        sqlx::query("CREATE TABLE numbers (n BIGINT NOT NULL CHECK (n >= 0))").execute(&pool).await.expect("table");
        let group = GroupCommit::start(pool.clone(), None, 1);
        // On this (current-thread) runtime the three are queued before the writer runs: one batch.
        let [a, b, c] = [1, -1, 2].map(|n| group.write_bulk("k", n, put_numbers_counted));
        let (a, b, c) = tokio::join!(a, b, c);
        // Alone without a savepoint, again with one, then each record alone.
        assert_eq!(CALLS.load(Ordering::Relaxed), 1 + 1 + 3, "the batch's runs");
        assert_eq!(a.expect("1 is stored"), 1);
        assert!(matches!(b, Err(StoreError::Db(_))), "-1 fails alone: {b:?}");
        assert_eq!(c.expect("2 is stored"), 2);
        assert_eq!(numbers(&pool).await, [1, 2]);
        assert_eq!(group.stats().batches.load(Ordering::Relaxed), 1, "one batch");
        assert_eq!(group.stats().retries.load(Ordering::Relaxed), 0, "not counted as a conflict");
        // The next batch (begun ahead) is alone and fine.
        let (d, e) =
            tokio::join!(group.write_bulk("k", 3, put_numbers_counted), group.write_bulk("k", 4, put_numbers_counted));
        assert_eq!(CALLS.load(Ordering::Relaxed), 5 + 1, "one run");
        assert_eq!((d.expect("3"), e.expect("4")), (3, 4));
        assert_eq!(numbers(&pool).await, [1, 2, 3, 4]);
        // The writer holds its connection until its queue closes.
        drop(group);
        pool.close().await;
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }

    /// As [`put_numbers`], but a negative number is checked on its own
    /// afterwards and its failure kept as that record's result (as the
    /// entry and photo writers keep `already_stored`'s).
    fn put_numbers_keeping_errors<'c>(
        conn: &'c mut AnyConnection,
        rows: &'c [&'c i64],
        _: &'c mut Shared,
    ) -> BoxFuture<'c, Result<Vec<Result<i64, StoreError>>, StoreError>> {
        Box::pin(async move {
            let good: Vec<i64> = rows.iter().map(|n| **n).filter(|n| *n >= 0).collect();
            if !good.is_empty() {
                let sql = super::super::multi_row_insert(conn, "INSERT INTO numbers (n) VALUES ", 1, good.len(), "");
                let mut insert = sqlx::query(&sql);
                for n in &good {
                    insert = insert.bind(*n);
                }
                insert.execute(&mut *conn).await?;
            }
            let mut results = Vec::new();
            for n in rows {
                results.push(if **n >= 0 {
                    Ok(**n)
                } else {
                    sqlx::query("INSERT INTO numbers (n) VALUES ($1)")
                        .bind(**n)
                        .execute(&mut *conn)
                        .await
                        .map(|_| **n)
                        .map_err(StoreError::from)
                });
            }
            Ok(results)
        })
    }

    /// A plain (not bulk) write of one number, without a savepoint of its own.
    fn put_one(n: i64, group: &GroupCommit) -> impl std::future::Future<Output = Result<i64, StoreError>> + '_ {
        group.write(
            "k",
            n,
            |conn: &mut AnyConnection, n: &i64, _: &mut Shared| -> BoxFuture<'_, Result<i64, StoreError>> {
                let n = *n;
                Box::pin(async move {
                    sqlx::query("INSERT INTO numbers (n) VALUES ($1)").bind(n).execute(conn).await?;
                    Ok(n)
                })
            },
        )
    }

    /// A schema of its own on `DATABASE_URL` with the numbers table: the
    /// admin pool and one whose sessions carry the schema's name.
    async fn pg_numbers(what: &str) -> Option<(String, AnyPool, AnyPool)> {
        let Ok(url) = std::env::var("DATABASE_URL") else {
            eprintln!("skipped: DATABASE_URL is not set (a PostgreSQL test)");
            return None;
        };
        sqlx::any::install_default_drivers();
        let name = format!("onepark_group_{what}_{}", std::process::id());
        let admin = AnyPool::connect(&url).await.expect("admin pool");
        sqlx::query(&format!("CREATE SCHEMA {name}")).execute(&admin).await.expect("schema");
        let sep = if url.contains('?') { '&' } else { '?' };
        let pool = AnyPool::connect(&format!("{url}{sep}application_name={name}&options=-c%20search_path%3D{name}"))
            .await
            .expect("pool");
        sqlx::query("CREATE TABLE numbers (n BIGINT NOT NULL CHECK (n >= 0))").execute(&pool).await.expect("table");
        Some((name, admin, pool))
    }

    async fn pg_drop(name: &str, admin: AnyPool, pool: AnyPool) {
        pool.close().await;
        sqlx::query(&format!("DROP SCHEMA {name} CASCADE")).execute(&admin).await.expect("drop");
        admin.close().await;
    }

    /// On PostgreSQL a failed statement aborts the transaction, and a COMMIT
    /// then rolls back without an error. A write that keeps such a failure
    /// as its own result must not let the batch's other records be answered
    /// stored: the batch runs again, each run of writes in a savepoint.
    #[tokio::test]
    async fn a_failure_kept_as_a_result_never_hides_an_aborted_transaction() {
        let Some((name, admin, pool)) = pg_numbers("aborted").await else { return };
        let group = GroupCommit::start(pool.clone(), None, 1);
        // Plain writes: 5 fine, -1 refused by the table; one batch (this runtime has one thread).
        let (five, minus) = tokio::join!(put_one(5, &group), put_one(-1, &group));
        assert_eq!(five.expect("5"), 5);
        assert!(matches!(minus, Err(StoreError::Db(_))), "{minus:?}");
        assert_eq!(numbers(&pool).await, [5], "what was answered stored is stored");
        // A lone bulk run, without its savepoint, whose writer keeps one record's failure.
        let [a, b, c] = [6, -2, 7].map(|n| group.write_bulk("k", n, put_numbers_keeping_errors));
        let (a, b, c) = tokio::join!(a, b, c);
        assert_eq!((a.expect("6"), c.expect("7")), (6, 7));
        assert!(b.is_err(), "{b:?}");
        assert_eq!(numbers(&pool).await, [5, 6, 7], "what was answered stored is stored");
        drop(group);
        pg_drop(&name, admin, pool).await;
    }

    /// The writer begins the next batch's transaction ahead: when the server
    /// ends that session while it waits, the batch runs on another; when no
    /// job comes, the transaction is given back.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_transaction_begun_ahead_survives_its_connection_and_is_given_back_when_idle() {
        let Some((name, admin, pool)) = pg_numbers("ahead").await else { return };
        let group = GroupCommit::start(pool.clone(), None, 1);
        assert_eq!(group.write_bulk("k", 1, put_numbers).await.expect("1"), 1);
        let waiting = format!(
            "SELECT CAST(pid AS BIGINT) FROM pg_stat_activity WHERE application_name = '{name}' AND state = 'idle in transaction'"
        );
        // The next batch's transaction, open ahead: end its session.
        let ended = end_the_wait_ahead(&admin, &waiting).await;
        assert_eq!(ended, 1, "the writer waits in a transaction begun ahead");
        assert_eq!(group.write_bulk("k", 2, put_numbers).await.expect("2, on another connection"), 2);
        // Idle longer than `AHEAD`: nothing stays open.
        tokio::time::sleep(AHEAD + Duration::from_millis(500)).await;
        let open: Vec<i64> = sqlx::query_scalar(&waiting).fetch_all(&admin).await.expect("activity");
        assert!(open.is_empty(), "an idle writer holds no transaction: {open:?}");
        // The idle writer's connection (its last statement gave the transaction back) ends too.
        let idle: Vec<i64> = sqlx::query_scalar(&format!(
            "SELECT CAST(pid AS BIGINT) FROM pg_stat_activity \
             WHERE application_name = '{name}' AND state = 'idle' AND query = 'ROLLBACK'"
        ))
        .fetch_all(&admin)
        .await
        .expect("activity");
        let [pid] = idle[..] else { panic!("the idle writer's connection: {idle:?}") };
        sqlx::query(&format!("SELECT pg_terminate_backend({pid})")).execute(&admin).await.expect("terminate");
        assert_eq!(put_one(3, &group).await.expect("3, on another connection"), 3);
        // Ended during the wait ahead of a plain write: its statement fails,
        // the batch runs again carefully, whose BEGIN fails, and then on a
        // new connection.
        let ended = end_the_wait_ahead(&admin, &waiting).await;
        assert_eq!(ended, 1, "the writer waits in a transaction begun ahead again");
        assert_eq!(put_one(4, &group).await.expect("4, on another connection"), 4);
        assert_eq!(numbers(&pool).await, [1, 2, 3, 4]);
        drop(group);
        pg_drop(&name, admin, pool).await;
    }

    /// Ends the session of the writer's transaction begun ahead (`waiting`
    /// finds it) once it shows up; how many it ended.
    async fn end_the_wait_ahead(admin: &AnyPool, waiting: &str) -> usize {
        for _ in 0..50 {
            let pids: Vec<i64> = sqlx::query_scalar(waiting).fetch_all(admin).await.expect("activity");
            if let [pid] = pids[..] {
                sqlx::query(&format!("SELECT pg_terminate_backend({pid})")).execute(admin).await.expect("terminate");
                return 1;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        0
    }

    #[tokio::test]
    async fn a_key_always_maps_to_the_same_writer_and_keys_spread_evenly() {
        sqlx::any::install_default_drivers();
        let pool = AnyPool::connect("sqlite::memory:").await.expect("pool");
        let group = GroupCommit::start(pool, None, 4);
        let first: Vec<usize> = (0..16).map(|i| group.owner(&format!("B{i}"))).collect();
        let again: Vec<usize> = (0..16).map(|i| group.owner(&format!("B{i}"))).collect();
        assert_eq!(first, again, "a key keeps its writer");
        for w in 0..4 {
            assert_eq!(first.iter().filter(|o| **o == w).count(), 4, "16 lots, 4 per writer: {first:?}");
        }
    }
}
