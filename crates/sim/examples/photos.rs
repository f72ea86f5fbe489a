//! Writes a few generated lane photos to a directory, to look at them:
//! `cargo run -p onepark-sim --example photos -- /tmp/photos`.

use chrono::{Duration, NaiveDate};
use onepark_sim::photo::lane_photo;

fn main() -> std::io::Result<()> {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "photos".into()));
    std::fs::create_dir_all(&dir)?;
    let day = NaiveDate::from_ymd_opt(2026, 12, 1).and_then(|d| d.and_hms_opt(0, 0, 0)).unwrap_or_default();
    let cars = [(Some(("鲁B12345", 1)), 10), (Some(("鲁BD8Z123", 5)), 14), (Some(("京A5S888", 2)), 19), (None, 23)];
    for (i, (plate, hour)) in cars.into_iter().enumerate() {
        let jpeg = lane_photo(plate, day + Duration::hours(hour), i as u64);
        let path = dir.join(format!("car{i}.jpg"));
        std::fs::write(&path, &jpeg)?;
        println!("{} ({} bytes)", path.display(), jpeg.len());
    }
    Ok(())
}
