//! Photo files: content-addressed on disk (`{dir}/{sha[0..2]}/{sha}.jpg`),
//! made durable before the metadata row is committed.
//!
//! On Linux a file is written and renamed into place without an fsync of
//! its own, and [`Durability`] makes every file written so far durable in
//! one `syncfs` shared by all the uploads waiting at that moment (group
//! commit, for files). Why: a file's fsync and then its directory's cost
//! ~400 µs of kernel CPU a photo here under concurrency (measured: 16
//! threads writing 5 KB photos into the 256 directories, 408 µs of system
//! time a photo with both fsyncs, 92 with the file's alone, 40–60 with one
//! `syncfs` per 35 photos), more than the RSA work of the record itself.
//! The cost: `syncfs` also flushes whatever else is dirty on that
//! filesystem (docs/deploy.md: give `photo_dir` a filesystem the platform
//! has to itself, or the database's). Elsewhere each file is synced alone.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Where a photo with this digest lives.
pub fn path(dir: &Path, sha256: &str) -> PathBuf {
    dir.join(&sha256[..2.min(sha256.len())]).join(format!("{sha256}.jpg"))
}

/// A JPEG's SHA-256 (hex): its file name.
pub fn digest(jpeg: &[u8]) -> String {
    openssl::sha::sha256(jpeg).iter().map(|b| format!("{b:02x}")).collect()
}

/// Stores a JPEG under its digest [`digest`]; true when this call created
/// the file (false: an identical photo was there already — they share it).
/// A half-written file never takes the final name.
pub fn save(dir: &Path, sha256: &str, jpeg: &[u8]) -> std::io::Result<bool> {
    let target = path(dir, sha256);
    if target.is_file() {
        return Ok(false);
    }
    let parent = target.parent().unwrap_or(dir);
    if !parent.is_dir() {
        std::fs::create_dir_all(parent)?;
        if !GROUPED {
            sync_dir(dir)?;
        }
    }
    // Unique per call: two uploads of the same photo may race here.
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let temp = parent.join(format!(".{sha256}.{}.{}.tmp", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed)));
    let mut file = std::fs::File::create(&temp)?;
    file.write_all(jpeg)?;
    if !GROUPED {
        file.sync_all()?;
    }
    std::fs::rename(&temp, &target)?;
    if !GROUPED {
        // The rename is durable only once the directory itself is synced.
        sync_dir(parent)?;
    }
    Ok(true)
}

/// Whether files are made durable in groups by [`Durability`] (`syncfs`,
/// Linux) rather than each by [`save`] itself.
const GROUPED: bool = cfg!(target_os = "linux");

/// Makes saved photo files durable in groups: a caller takes a ticket
/// once its file is saved (or found saved), then waits for a `syncfs`
/// started after that. One runs at a time; the callers that queued behind
/// it find their tickets covered by the next one, however many they are.
pub struct Durability {
    /// The photo directory: its filesystem is the one synced.
    dir: PathBuf,
    saved: AtomicU64,
    synced: tokio::sync::Mutex<Synced>,
}

#[derive(Default)]
struct Synced {
    /// Every ticket up to this one is durable.
    through: u64,
    /// The photo directory, open for the platform's life: `syncfs` reports
    /// the filesystem's write-back errors since the last call *on this
    /// descriptor*, so a fresh one each time could miss an error that
    /// happened before it was opened.
    dir: Option<Arc<std::fs::File>>,
    /// `syncfs` calls made (the tests count them).
    rounds: u64,
}

impl Durability {
    pub fn new(dir: PathBuf) -> Durability {
        Durability { dir, saved: AtomicU64::new(0), synced: Default::default() }
    }

    /// A ticket for a file [`save`] just saved or found.
    pub fn saved(&self) -> u64 {
        self.saved.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Returns once every file saved before `ticket` was taken is durable.
    /// An error (a write-back failure anywhere on the filesystem) fails
    /// every caller of that round: none may answer 200.
    pub async fn durable(&self, ticket: u64) -> std::io::Result<()> {
        if !GROUPED {
            return Ok(());
        }
        let mut synced = self.synced.lock().await;
        if synced.through >= ticket {
            return Ok(());
        }
        // Every ticket up to here belongs to a file already saved.
        let target = self.saved.load(Ordering::SeqCst);
        let fd = match &synced.dir {
            Some(fd) => fd.clone(),
            None => synced.dir.insert(Arc::new(std::fs::File::open(&self.dir)?)).clone(),
        };
        tokio::task::spawn_blocking(move || sync_filesystem(&fd)).await.map_err(std::io::Error::other)??;
        synced.through = target;
        synced.rounds += 1;
        Ok(())
    }
}

#[cfg(target_os = "linux")]
fn sync_filesystem(fd: &std::fs::File) -> std::io::Result<()> {
    rustix::fs::syncfs(fd).map_err(std::io::Error::from)
}

#[cfg(not(target_os = "linux"))]
fn sync_filesystem(_: &std::fs::File) -> std::io::Result<()> {
    Ok(())
}

/// Removes a file no row refers to (a row that did not commit).
pub fn remove(dir: &Path, sha256: &str) -> std::io::Result<()> {
    match std::fs::remove_file(path(dir, sha256)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Uploads of each photo file between writing it and committing its row,
/// so that a failed upload's clean-up never removes a file another upload
/// still needs. Bookkeeping only (no lock is held across the database
/// write): concurrent uploads of one file do not wait for each other.
#[derive(Default)]
pub struct InFlight {
    files: std::sync::Mutex<std::collections::HashMap<String, (usize, u64)>>,
}

/// A ticket for one upload of one file; [`InFlight::may_remove`] decides.
pub struct Ticket {
    sha256: String,
    /// The file's activity count when the clean-up began.
    seen: u64,
}

impl InFlight {
    /// Registers an upload of `sha256` (before its file is checked or written).
    pub fn start(&self, sha256: &str) {
        let mut files = self.files.lock().unwrap_or_else(|p| p.into_inner());
        let (n, epoch) = files.entry(sha256.to_owned()).or_default();
        *n += 1;
        *epoch += 1;
    }

    /// Ends an upload that needs no clean-up.
    pub fn end(&self, sha256: &str) {
        let mut files = self.files.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((n, epoch)) = files.get_mut(sha256) {
            *n -= 1;
            *epoch += 1;
            if *n == 0 {
                files.remove(sha256);
            }
        }
    }

    /// Begins a clean-up: call before checking that no row refers to the file.
    pub fn ticket(&self, sha256: &str) -> Ticket {
        let files = self.files.lock().unwrap_or_else(|p| p.into_inner());
        Ticket { sha256: sha256.to_owned(), seen: files.get(sha256).map_or(0, |(_, e)| *e) }
    }

    /// Ends the upload; true when its file may be removed: no other upload
    /// of it is in flight and none started or ended since the ticket (so no
    /// row committed after the check refers to it). `remove` runs under the
    /// bookkeeping lock, so no upload can start using the file meanwhile.
    pub fn finish(&self, ticket: Ticket, remove: impl FnOnce()) {
        let mut files = self.files.lock().unwrap_or_else(|p| p.into_inner());
        let Some((n, epoch)) = files.get_mut(&ticket.sha256) else { return };
        if *n == 1 && *epoch == ticket.seen {
            remove();
        }
        *n -= 1;
        *epoch += 1;
        if *n == 0 {
            files.remove(&ticket.sha256);
        }
    }
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_addressed_and_idempotent() {
        let dir = std::env::temp_dir().join(format!("onepark-photo-{}", std::process::id()));
        let jpeg = [0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3];
        let sha = digest(&jpeg);
        assert!(save(&dir, &sha, &jpeg).expect("save"), "created");
        assert!(!save(&dir, &sha, &jpeg).expect("save again"), "shared");
        assert_eq!(std::fs::read(path(&dir, &sha)).expect("read"), jpeg);
        remove(&dir, &sha).expect("remove");
        assert!(!path(&dir, &sha).exists());
        remove(&dir, &sha).expect("removing twice is fine");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn one_sync_covers_every_file_saved_before_it() {
        let dir = std::env::temp_dir().join(format!("onepark-photo-sync-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let d = Durability::new(dir.clone());
        let (first, second) = (d.saved(), d.saved());
        d.durable(second).await.expect("synced");
        d.durable(first).await.expect("covered");
        let rounds = if GROUPED { 1 } else { 0 };
        assert_eq!(d.synced.lock().await.rounds, rounds, "the earlier ticket rode on the same sync");
        let third = d.saved();
        d.durable(third).await.expect("synced");
        assert_eq!(d.synced.lock().await.rounds, 2 * rounds, "a file saved after a sync needs another");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_failed_upload_removes_its_file_only_when_no_other_upload_touched_it() {
        let f = InFlight::default();
        f.start("a");
        let t = f.ticket("a");
        let mut removed = false;
        f.finish(t, || removed = true);
        assert!(removed, "alone: removed");

        f.start("b");
        let t = f.ticket("b");
        f.start("b"); // another upload of the same file begins meanwhile
        let mut removed = false;
        f.finish(t, || removed = true);
        assert!(!removed, "another upload still needs it");
        f.end("b");

        f.start("c");
        f.start("c");
        let t = f.ticket("c");
        f.end("c"); // the other one committed after the check
        let mut removed = false;
        f.finish(t, || removed = true);
        assert!(!removed, "a row committed since the check may refer to it");
        assert!(f.files.lock().expect("lock").is_empty());
    }

    #[test]
    fn concurrent_saves_of_one_photo_all_succeed() {
        let dir = std::env::temp_dir().join(format!("onepark-photo-race-{}", std::process::id()));
        let jpeg: Vec<u8> = [0xFF, 0xD8, 0xFF].into_iter().chain((0..50_000).map(|i| i as u8)).collect();
        let sha = digest(&jpeg);
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..8).map(|_| s.spawn(|| save(&dir, &sha, &jpeg))).collect();
            for h in handles {
                assert!(h.join().expect("thread").is_ok());
            }
        });
        let _ = std::fs::remove_dir_all(&dir);
    }
}
