//! Issue 27 item 3: the records' history exports 100,000 records as Excel
//! and CSV through the real platform, streamed: the platform's resident
//! memory stays flat while the file goes out (measured from /proc, printed
//! in the log), and the file opens as a workbook in an independent reader
//! (Python's openpyxl; skipped with a notice when it is missing).

use std::time::Duration;

mod common;
use common::{add_user, console_login, platform_config, start};
use onepark_testkit::config::lot_access;
use onepark_testkit::dirs::TempDir;
use onepark_testkit::net::free_port;

const RECORDS: usize = 100_000;

/// The platform's resident set, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Fills the platform's SQLite file with `RECORDS` entries (every other one
/// with its exit) over the last 30 days, with Python's sqlite3: the test's
/// own writer, not onepark's.
fn fill(db: &std::path::Path) {
    let script = format!(
        r#"
import sqlite3, datetime
db = sqlite3.connect({db:?})
start = datetime.datetime(2026, 11, 1)
rows, exits = [], []
for i in range({RECORDS}):
    t = start + datetime.timedelta(seconds=i * 25)
    at = t.strftime('%Y-%m-%d %H:%M:%S')
    plate = '鲁B%05d' % (i % 100000)
    rows.append(('1001', 'u%06d' % i, '234', 'a%d' % i, plate, 1, 1, 0, 'E1', at, at, at, 1, 0, '{{}}'))
    if i % 2 == 0:
        out = (t + datetime.timedelta(minutes=95)).strftime('%Y-%m-%d %H:%M:%S')
        exits.append(('1001', 'u%06d' % i, '234', 'x%d' % i, plate, at, out, 1250, 1250, out, out, 1, 0, '{{}}'))
db.executemany('INSERT INTO entries (parking_code, uid, access_id, arrival_id, plate_no, plate_color, car_type, parking_type, entry_num, arrive_time, upload_time, received_at, plate_valid, deleted, content) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)', rows)
db.executemany('INSERT INTO exits (parking_code, uid, access_id, exit_id, plate_no, arrive_time, end_time, charge_fee, should_pay, upload_time, received_at, plate_valid, without_entry, content) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)', exits)
db.commit()
"#,
        db = db.display().to_string()
    );
    let out = std::process::Command::new("python3").args(["-c", &script]).output().expect("python3");
    assert!(out.status.success(), "filling: {}", String::from_utf8_lossy(&out.stderr));
}

/// Downloads `path` to `file`, sampling the platform's RSS meanwhile: (bytes, peak KiB).
async fn download(base: &str, path: &str, cookie: &str, pid: u32, file: &std::path::Path) -> (usize, u64) {
    let mut response =
        common::client().get(format!("{base}{path}")).header("cookie", cookie).send().await.expect("export");
    assert_eq!(response.status(), 200, "{path}");
    let mut bytes = Vec::new();
    let mut peak = rss_kib(pid);
    let mut last = std::time::Instant::now();
    while let Some(chunk) = response.chunk().await.expect("chunk") {
        bytes.extend_from_slice(&chunk);
        if last.elapsed() > Duration::from_millis(20) {
            peak = peak.max(rss_kib(pid));
            last = std::time::Instant::now();
        }
    }
    peak = peak.max(rss_kib(pid));
    std::fs::write(file, &bytes).expect("write");
    (bytes.len(), peak)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_records_export_streamed_with_flat_memory() {
    let dir = TempDir::new("exports");
    let (http, mqtt) = (free_port(), free_port());
    let config = platform_config(&dir, http, mqtt, &lot_access("234", &["1001"]));
    // The account first: it makes the database (migrated) the test fills.
    add_user(&config, "chen", "admin", &[], "chen password 1");
    fill(&dir.join("platform.db"));
    let platform = start(&dir, &["platform", "serve"], &config, http).await;
    let pid = platform.0.id();
    let base = format!("http://127.0.0.1:{http}");
    let cookie = console_login(&base, "chen", "chen password 1").await;
    // Warm up (the first page loads the code and the database's first pages).
    let page = common::client().get(format!("{base}/records?plate=B00042")).header("cookie", &cookie).send().await;
    let page = page.expect("page").text().await.expect("body");
    assert!(page.contains("鲁B00042"), "a plate by a part");
    let xlsx = dir.join("records.xlsx");
    // The first export fills the database's page caches and the allocator's
    // arenas (bounded, whatever the export's size); the second shows what an
    // export itself holds.
    let cold = rss_kib(pid);
    let (_, first_peak) = download(&base, "/records?format=xlsx", &cookie, pid, &xlsx).await;
    let baseline = rss_kib(pid);
    let (size, peak) = download(&base, "/records?format=xlsx", &cookie, pid, &xlsx).await;
    let mib = |kib: u64| kib as f64 / 1024.0;
    eprintln!(
        "xlsx export: {RECORDS} records, {:.1} MiB; platform RSS {:.1} MiB before the first, peak {:.1} MiB; \
         {:.1} MiB before the second, peak {:.1} MiB (+{:.1} MiB)",
        size as f64 / 1048576.0,
        mib(cold),
        mib(first_peak),
        mib(baseline),
        mib(peak),
        mib(peak.saturating_sub(baseline))
    );
    // Streamed: the platform never holds the file (a tenth of it is a generous margin).
    assert!(
        (peak.saturating_sub(baseline) as usize) * 1024 < size / 10,
        "RSS grew {peak} KiB from {baseline} KiB for a {size}-byte file"
    );

    let csv = dir.join("records.csv");
    let (csv_size, csv_peak) = download(&base, "/records?format=csv", &cookie, pid, &csv).await;
    eprintln!(
        "csv export: {:.1} MiB; platform RSS peak {:.1} MiB",
        csv_size as f64 / 1048576.0,
        csv_peak as f64 / 1024.0
    );
    let text = std::fs::read_to_string(&csv).expect("csv");
    assert!(text.starts_with("\u{feff}车场编号,车场名称,车牌"), "Chinese headers, a BOM for Excel");
    assert_eq!(text.lines().count(), RECORDS + 1, "every record once");
    assert!(
        text.contains(",鲁B00000,1,2026-11-01 00:00:00,2026-11-01 01:35:00,95,12.50,已离场,u000000"),
        "fen as yuan"
    );

    let check = format!(
        r#"
import openpyxl
wb = openpyxl.load_workbook({path:?}, read_only=True)
ws = wb.active
rows = ws.iter_rows(values_only=True)
head = next(rows)
assert head[:3] == ('车场编号', '车场名称', '车牌'), head
n, paid = 0, 0
for r in rows:
    n += 1
    if r[7] is not None:
        paid += round(r[7] * 100)
print(n, paid)
"#,
        path = xlsx.display().to_string()
    );
    match std::process::Command::new("python3").args(["-c", "import openpyxl"]).status() {
        Ok(s) if s.success() => {
            let out = std::process::Command::new("python3").args(["-c", &check]).output().expect("python3");
            assert!(out.status.success(), "openpyxl: {}", String::from_utf8_lossy(&out.stderr));
            let said = String::from_utf8_lossy(&out.stdout);
            assert_eq!(said.trim(), format!("{RECORDS} {}", RECORDS / 2 * 1250), "every record, the money exact");
        }
        _ => eprintln!("SKIPPED reading the .xlsx back: pip install openpyxl (.ci/run does)"),
    }
    drop(platform);
}
