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
    /// Writes of one kind that share their statements when they are
    /// neighbours in a batch ([`Bulk`]); `None` for a write of its own.
    fn bulk(&self) -> Option<(TypeId, usize)> {
        None
    }
    /// Runs this job and `like` (the jobs right after it of the same
    /// `bulk` kind) together; only called when `bulk` is `Some`.
    fn run_bulk<'c>(
        &'c mut self,
        like: &'c mut [Box<dyn Job>],
        conn: &'c mut AnyConnection,
        shared: &'c mut Shared,
    ) -> BoxFuture<'c, Result<(), String>> {
        let _ = like;
        self.run(conn, shared)
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
    async fn run_all(jobs: &mut [&mut Self], conn: &mut AnyConnection, shared: &mut Shared) -> Result<(), String> {
        let Some(write) = jobs.first().map(|j| j.write) else { return Ok(()) };
        let together = {
            let data: Vec<&D> = jobs.iter().map(|j| &j.data).collect();
            let mut theirs = Shared::default();
            let mut savepoint = conn.begin().await.map_err(|e| e.to_string())?;
            match write(&mut savepoint, &data, &mut theirs).await {
                Ok(results) if results.len() == jobs.len() => match savepoint.commit().await {
                    Ok(()) => Ok((results, theirs)),
                    Err(e) => Err(StoreError::Db(e)),
                },
                Ok(_) => Err(StoreError::NotWritten),
                Err(e) => Err(e),
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
            Err(StoreError::Db(e)) if transient(&e) => Err(e.to_string()),
            Err(e) => {
                tracing::warn!(error = %e, jobs = jobs.len(), "a multi-row write failed; writing its records one by one");
                for job in jobs.iter_mut() {
                    Job::run(&mut **job, conn, shared).await?;
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

    fn bulk(&self) -> Option<(TypeId, usize)> {
        Some((TypeId::of::<Self>(), self.write as usize))
    }

    fn run_bulk<'c>(
        &'c mut self,
        like: &'c mut [Box<dyn Job>],
        conn: &'c mut AnyConnection,
        shared: &'c mut Shared,
    ) -> BoxFuture<'c, Result<(), String>> {
        Box::pin(async move {
            let mut jobs: Vec<&mut Self> = Vec::with_capacity(1 + like.len());
            jobs.push(self);
            // Same `bulk` kind, so the same type: every downcast succeeds.
            jobs.extend(like.iter_mut().filter_map(|j| j.as_any().downcast_mut::<Self>()));
            Self::run_all(&mut jobs, conn, shared).await
        })
    }

    fn as_any(&mut self) -> &mut dyn Any {
        self
    }
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
    /// `shard`; its result arrives once that batch is durable. `write` opens
    /// its own (nested) transaction with `conn.begin()`: a savepoint here. It
    /// runs again when its batch is retried, hence `data` by reference.
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
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        gather(&mut queue, &mut batch).await;
        let _turn = match &writer {
            Some(lock) => Some(lock.lock().await),
            None => None,
        };
        let began = std::time::Instant::now();
        let mut retries = 0;
        let committed = loop {
            let conn = match held.as_mut() {
                Some(conn) => conn,
                None => match pool.acquire().await {
                    Ok(conn) => held.insert(conn),
                    Err(e) => break Err(Arc::new(e)),
                },
            };
            let done = commit(conn, &mut batch, &mut written).await;
            if done.is_err() {
                held = None;
            }
            match done {
                Err(Failure::Transient(why)) if retries < MAX_RETRIES => {
                    retries += 1;
                    stats.retries.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(reason = %why, retries, jobs = batch.len(), "write conflict; batch retried");
                    // The other side needs a moment to finish; spread retries.
                    tokio::time::sleep(Duration::from_millis(5 << retries.min(6))).await;
                }
                Err(Failure::Transient(why)) => break Err(Arc::new(sqlx::Error::Protocol(why))),
                Err(Failure::Db(e)) => break Err(Arc::new(e)),
                Ok(()) => break Ok(()),
            }
        };
        stats.busy_micros.fetch_add(began.elapsed().as_micros() as u64, Ordering::Relaxed);
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
    Db(sqlx::Error),
}

async fn commit(
    conn: &mut AnyConnection,
    jobs: &mut [Box<dyn Job>],
    written: &mut SlotsWritten,
) -> Result<(), Failure> {
    let failure = |e: sqlx::Error| if transient(&e) { Failure::Transient(e.to_string()) } else { Failure::Db(e) };
    let mut tx = conn.begin().await.map_err(Failure::Db)?;
    let mut shared = Shared::default();
    let mut rest = &mut jobs[..];
    // Dropping `tx` on the way out rolls the whole batch back.
    while let Some((first, after)) = rest.split_first_mut() {
        let Some(kind) = first.bulk() else {
            first.run(&mut tx, &mut shared).await.map_err(Failure::Transient)?;
            rest = after;
            continue;
        };
        // The run of neighbours of the same kind, written together.
        let n = after.iter().take_while(|j| j.bulk() == Some(kind)).count();
        let (like, after) = after.split_at_mut(n);
        first.run_bulk(like, &mut tx, &mut shared).await.map_err(Failure::Transient)?;
        rest = after;
    }
    let slots = shared.apply(&mut tx, written).await.map_err(failure)?;
    tx.commit().await.map_err(failure)?;
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
