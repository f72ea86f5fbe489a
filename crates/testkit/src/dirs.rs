//! Temp directories of one test: fresh (a previous run's files removed), and
//! removed again when the test is done.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// `$TMP/onepark-{name}-{pid}`, emptied (removed first if a run left it).
pub fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("onepark-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    dir
}

/// A [`fresh_dir`] removed (with its files) when dropped, passed or failed.
pub struct TempDir(PathBuf);

/// Tests of one binary run side by side in one process: a sequence number
/// keeps two `TempDir`s of the same name apart.
static SEQUENCE: AtomicUsize = AtomicUsize::new(0);

impl TempDir {
    /// `$TMP/onepark-{name}-{pid}-{n}`, `n` unique in this process.
    pub fn new(name: &str) -> TempDir {
        TempDir(fresh_dir(&format!("{name}-{}", SEQUENCE.fetch_add(1, Ordering::Relaxed))))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl std::ops::Deref for TempDir {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
