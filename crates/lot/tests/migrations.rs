//! One migration mechanism (sqlx's migrator, as on the platform): a lot
//! database made by onepark 0.1 (`PRAGMA user_version`) upgrades in place.

use onepark_lot::store::Store;
use onepark_testkit::dirs::fresh_dir;

/// Written by the 0.1 binary: one session (鲁B12345, delivered), one month
/// card (`tests/fixtures/lot-0.1.db`).
#[tokio::test]
async fn a_database_of_version_0_1_upgrades_in_place() {
    let dir = fresh_dir("lot-migrate");
    let file = dir.join("lot.db");
    std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/lot-0.1.db"), &file).expect("fixture");
    for _ in 0..2 {
        let store = Store::open(&format!("sqlite://{}", file.display())).await.expect("upgrade");
        let session = store.open_session("1001120261201080000943").await.expect("read").expect("the session");
        assert_eq!(session.plate_no, "鲁B12345");
        let cards = store.cards().await.expect("cards");
        assert_eq!((cards.len(), cards[0].plates.as_slice()), (1, ["鲁B55555".to_owned()].as_slice()));
        assert_eq!(store.backlog("qdpark").await.expect("backlog"), (0, 0), "delivered records stay delivered");
    }
    let fresh = Store::open(&format!("sqlite://{}", dir.join("fresh.db").display())).await.expect("fresh");
    assert!(fresh.cards().await.expect("cards").is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}
