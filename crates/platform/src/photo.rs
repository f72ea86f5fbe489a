//! Photo files: content-addressed on disk (`{dir}/{sha[0..2]}/{sha}.jpg`),
//! written durably before the metadata row is committed.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Where a photo with this digest lives.
pub fn path(dir: &Path, sha256: &str) -> PathBuf {
    dir.join(&sha256[..2.min(sha256.len())]).join(format!("{sha256}.jpg"))
}

/// Stores a JPEG and returns its SHA-256 (hex). Identical photos share a
/// file; a half-written file never takes the final name.
pub fn save(dir: &Path, jpeg: &[u8]) -> std::io::Result<String> {
    let sha256: String = openssl::sha::sha256(jpeg).iter().map(|b| format!("{b:02x}")).collect();
    let target = path(dir, &sha256);
    if target.is_file() {
        return Ok(sha256);
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
    Ok(sha256)
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
        let a = save(&dir, &jpeg).expect("save");
        let b = save(&dir, &jpeg).expect("save again");
        assert_eq!(a, b);
        assert_eq!(std::fs::read(path(&dir, &a)).expect("read"), jpeg);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn concurrent_saves_of_one_photo_all_succeed() {
        let dir = std::env::temp_dir().join(format!("onepark-photo-race-{}", std::process::id()));
        let jpeg: Vec<u8> = [0xFF, 0xD8, 0xFF].into_iter().chain((0..50_000).map(|i| i as u8)).collect();
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..8).map(|_| s.spawn(|| save(&dir, &jpeg))).collect();
            for h in handles {
                assert!(h.join().expect("thread").is_ok());
            }
        });
        let _ = std::fs::remove_dir_all(&dir);
    }
}
