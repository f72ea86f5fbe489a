//! Photo files: content-addressed on disk (`{dir}/{sha[0..2]}/{sha}.jpg`),
//! written durably before the metadata row is committed.

use std::io::Write;
use std::path::{Path, PathBuf};
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
        sync_dir(dir)?;
    }
    // Unique per call: two uploads of the same photo may race here.
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let temp = parent.join(format!(".{sha256}.{}.{}.tmp", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed)));
    let mut file = std::fs::File::create(&temp)?;
    file.write_all(jpeg)?;
    file.sync_all()?;
    std::fs::rename(&temp, &target)?;
    // The rename is durable only once the directory itself is synced.
    sync_dir(parent)?;
    Ok(true)
}

/// Removes a file no row refers to (a row that did not commit).
pub fn remove(dir: &Path, sha256: &str) -> std::io::Result<()> {
    match std::fs::remove_file(path(dir, sha256)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
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
