//! CPU-bound work (RSA opens, password hashes) on a few threads of its own,
//! as many as the machine has cores.
//!
//! Why not `spawn_blocking`: its pool grows to hundreds of threads under
//! load, and 256 requests each decrypting on a thread of their own make 256
//! runnable threads on two cores. Every other thread, the database's
//! worker and the runtime's, then waits its turn behind them at each
//! wake-up, and the one writer every record goes through serialises on those
//! waits (measured: the platform idled a third of the time at 64 connections,
//! BENCHMARKS.md "Ingest at the RSA limit"). A fixed pool keeps the
//! runnable threads to the cores and queues the rest of the work instead.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

type Task = Box<dyn FnOnce() + Send>;

/// A fixed set of threads running closures in arrival order.
#[derive(Clone)]
pub struct Pool {
    tasks: mpsc::Sender<Task>,
    threads: usize,
}

/// The task did not finish: it panicked, or the pool is gone.
#[derive(Debug, thiserror::Error)]
#[error("the CPU pool did not finish the task (it panicked or the pool stopped)")]
pub struct Lost;

impl Pool {
    /// `threads` threads (0: one per core the process may use), named `name`.
    pub fn new(name: &str, threads: usize) -> Pool {
        let threads = if threads == 0 {
            std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
        } else {
            threads
        };
        let (tasks, queue) = mpsc::channel::<Task>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new().name(format!("{name}-{i}")).spawn(move || {
                loop {
                    // The lock is held only while taking one task.
                    let next = queue.lock().unwrap_or_else(|p| p.into_inner()).recv();
                    let Ok(task) = next else { return };
                    // A panicking task loses its answer (the caller sees `Lost`), not the thread.
                    let _ = std::panic::catch_unwind(AssertUnwindSafe(task));
                }
            });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a CPU pool thread");
            }
        }
        Pool { tasks, threads }
    }

    /// How many threads run the work.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `work` where it costs least: on the calling thread when it is
    /// `short`, else on the pool. For a caller on one of the runtime's
    /// threads (as many as cores) that already holds the request: a few
    /// hundred microseconds of work done there saves two thread hand-offs,
    /// and with them a wake-up, a context switch and a preempted neighbour
    /// each (measured: with the group writer gathering, 0.70 → 0.80–0.84 of
    /// the RSA bound at 64 connections, BENCHMARKS.md "Ingest at the RSA
    /// limit"). Long work still goes to the pool, so no one request holds a
    /// runtime thread (and every connection it serves) for long.
    pub async fn run_sized<T, F>(&self, short: bool, work: F) -> Result<T, Lost>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        if short {
            // As on the pool: a panic loses the answer, not the thread.
            return std::panic::catch_unwind(AssertUnwindSafe(work)).map_err(|_| Lost);
        }
        self.run(work).await
    }

    /// Runs `work` on the pool and waits for its result without blocking the runtime.
    pub async fn run<T, F>(&self, work: F) -> Result<T, Lost>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (answer, answered) = oneshot::channel();
        let task: Task = Box::new(move || {
            let _ = answer.send(work());
        });
        self.tasks.send(task).map_err(|_| Lost)?;
        answered.await.map_err(|_| Lost)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_work_and_survives_a_panicking_task() {
        let pool = Pool::new("test-cpu", 2);
        assert_eq!(pool.threads(), 2);
        assert_eq!(pool.run(|| 6 * 7).await.ok(), Some(42));
        let lost = pool.run(|| -> u32 { panic!("a bad task") }).await;
        assert!(lost.is_err(), "a panic is reported as lost");
        // Both threads still take work after a panic.
        let many: Vec<_> = (0..8).map(|i| pool.run(move || i * 2)).collect();
        let mut got = Vec::new();
        for r in many {
            got.push(r.await.expect("done"));
        }
        assert_eq!(got, vec![0, 2, 4, 6, 8, 10, 12, 14]);
    }

    #[tokio::test]
    async fn short_work_runs_here_and_a_panic_is_lost_not_raised() {
        let pool = Pool::new("test-cpu", 1);
        let here = std::thread::current().id();
        let ran_on = pool.run_sized(true, std::thread::current).await.expect("done").id();
        assert_eq!(ran_on, here, "short work runs on the calling thread");
        let ran_on = pool.run_sized(false, std::thread::current).await.expect("done").id();
        assert_ne!(ran_on, here, "long work runs on the pool");
        assert!(pool.run_sized(true, || -> u32 { panic!("a bad task") }).await.is_err());
    }

    #[test]
    fn zero_threads_means_one_per_core() {
        let pool = Pool::new("test-cpu", 0);
        assert!(pool.threads() >= 1);
    }
}
