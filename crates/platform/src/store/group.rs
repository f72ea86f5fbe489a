//! Group commit: one writer task runs the writes of many concurrent
//! requests in one database transaction, each in its own savepoint, and
//! answers every request only after that transaction has committed.
//!
//! Why: every uplink is one small write that must be durable before the
//! lot hears 200. One fsync per record caps SQLite (one writer) at a few
//! hundred records a second; one fsync per batch does not. A job that
//! fails rolls back to its savepoint and leaves the rest of the batch alone.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::future::BoxFuture;
use sqlx::{AnyConnection, AnyPool, Connection};
use tokio::sync::{Mutex, mpsc, oneshot};

use super::StoreError;

/// Most jobs in one transaction: bounds the work lost to one failed commit
/// and the latency a job waits behind others.
const MAX_BATCH: usize = 256;

/// A queued write: runs on the writer's connection (inside a batch
/// transaction) and hands back what to report once the batch has committed.
type Job = Box<dyn for<'c> FnOnce(&'c mut AnyConnection) -> BoxFuture<'c, Finish> + Send>;
type Finish = Box<dyn FnOnce(Result<(), Arc<sqlx::Error>>) + Send>;

#[derive(Clone)]
pub(super) struct GroupCommit {
    jobs: mpsc::Sender<Job>,
    stats: Arc<CommitStats>,
}

/// Committed batches and the jobs in them (for `/metrics`: jobs ÷ batches
/// is the mean batch size, the fsyncs saved).
#[derive(Debug, Default)]
pub struct CommitStats {
    pub batches: AtomicU64,
    pub jobs: AtomicU64,
}

impl GroupCommit {
    /// Starts `writers` writer tasks sharing one queue: one for SQLite (one
    /// writer anyway), several for a server database, where a batch waiting
    /// on its commit should not hold back the next. `writer` is SQLite's
    /// one-writer lock, taken for each batch so other writes never meet a
    /// half-open transaction.
    pub(super) fn start(pool: AnyPool, writer: Option<Arc<Mutex<()>>>, writers: usize) -> GroupCommit {
        let (jobs, queue) = mpsc::channel(4 * MAX_BATCH);
        let queue = Arc::new(Mutex::new(queue));
        let stats = Arc::new(CommitStats::default());
        for _ in 0..writers.max(1) {
            tokio::spawn(run(pool.clone(), writer.clone(), queue.clone(), stats.clone()));
        }
        GroupCommit { jobs, stats }
    }

    pub(super) fn stats(&self) -> &CommitStats {
        &self.stats
    }

    /// Runs `write` in the next batch; its result arrives once that batch is
    /// durable. `write` opens its own (nested) transaction with
    /// `conn.begin()`: a savepoint here, a real transaction without batching.
    pub(super) async fn write<T, W>(&self, write: W) -> Result<T, StoreError>
    where
        T: Send + 'static,
        W: for<'c> FnOnce(&'c mut AnyConnection) -> BoxFuture<'c, Result<T, StoreError>> + Send + 'static,
    {
        let (answer, answered) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            Box::pin(async move {
                let result = write(conn).await;
                Box::new(move |committed: Result<(), Arc<sqlx::Error>>| {
                    let result = match committed {
                        Ok(()) => result,
                        // A job that failed on its own reports its own error.
                        Err(e) => result.and(Err(StoreError::Commit(e))),
                    };
                    let _ = answer.send(result);
                }) as Finish
            })
        });
        self.jobs.send(job).await.map_err(|_| StoreError::NotWritten)?;
        answered.await.map_err(|_| StoreError::NotWritten)?
    }
}

async fn run(
    pool: AnyPool,
    writer: Option<Arc<Mutex<()>>>,
    queue: Arc<Mutex<mpsc::Receiver<Job>>>,
    stats: Arc<CommitStats>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.lock().await.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let _turn = match &writer {
            Some(lock) => Some(lock.lock().await),
            None => None,
        };
        let mut finishes = Vec::with_capacity(batch.len());
        let committed = commit(&pool, batch.drain(..), &mut finishes).await.map_err(Arc::new);
        match &committed {
            Ok(()) => {
                stats.batches.fetch_add(1, Ordering::Relaxed);
                stats.jobs.fetch_add(finishes.len() as u64, Ordering::Relaxed);
            }
            Err(e) => tracing::error!(error = %e, jobs = finishes.len(), "group commit failed"),
        }
        for finish in finishes {
            finish(committed.clone());
        }
    }
}

async fn commit(
    pool: &AnyPool,
    jobs: impl Iterator<Item = Job>,
    finishes: &mut Vec<Finish>,
) -> Result<(), sqlx::Error> {
    // On an early error the jobs not yet run are dropped with their answer
    // channels: their callers hear that the write was not attempted.
    let mut conn = pool.acquire().await?;
    let mut tx = conn.begin().await?;
    for job in jobs {
        finishes.push(job(&mut tx).await);
    }
    tx.commit().await
}
