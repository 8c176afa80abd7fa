//! Frames (format 5): new small chunks compressed together. The first
//! snapshot of a text-heavy database through `sqlite:` stays within 1.15 ×
//! restic's repository for the same file; a format-4 repository (pages one
//! by one with a dictionary) is larger; prune repacks frames with dead
//! members, and everything still restores and checks.

#[path = "../benches/appdb.rs"]
mod appdb;
mod common;

use common::peers::{dir_size, restic};
use common::*;
use std::path::Path;

fn init(repo: &Path, version: &str) {
    ok(cairn(repo).args(["init", "--no-encryption", "--repository-version", version]));
}

fn backup_db(repo: &Path, db: &Path) -> serde_json::Value {
    let out = ok(cairn(repo).args(["backup", "--json"]).arg(format!("sqlite:{}", db.display())));
    serde_json::from_str(out.trim()).unwrap()
}

#[test]
fn first_database_snapshot_within_restic_bound() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("app.db");
    appdb::generate(&db, 48);
    let (framed, paged, peer) = (tmp.path().join("v5"), tmp.path().join("v4"), tmp.path().join("restic"));
    init(&framed, "5");
    init(&paged, "4");
    backup_db(&framed, &db);
    backup_db(&paged, &db);
    let st = restic(&peer).arg("init").output().unwrap();
    assert!(st.status.success(), "restic init: {}", String::from_utf8_lossy(&st.stderr));
    let st = restic(&peer).arg("backup").arg(&db).output().unwrap();
    assert!(st.status.success(), "restic backup: {}", String::from_utf8_lossy(&st.stderr));
    let (c, p, r) = (dir_size(&framed), dir_size(&paged), dir_size(&peer));
    let file = std::fs::metadata(&db).unwrap().len();
    eprintln!("database {file} B: cairn {c} B, cairn format 4 {p} B, restic {r} B ({:.3}×)", c as f64 / r as f64);
    assert!(c as f64 <= 1.15 * r as f64, "cairn {c} B is more than 1.15 × restic's {r} B");
    assert!(c < p, "frames ({c} B) are not smaller than pages with a dictionary ({p} B)");
    // Both restore the database byte-exact, and check reads every frame.
    for repo in [&framed, &paged] {
        let out = tmp.path().join(format!("out-{}", repo.file_name().unwrap().to_string_lossy()));
        ok(cairn(repo).args(["restore", "latest", "--target"]).arg(&out));
        assert_eq!(std::fs::read(out.join("app.db")).unwrap(), std::fs::read(&db).unwrap());
        ok(cairn(repo).args(["check", "--read-data"]));
    }
}

#[test]
fn prune_repacks_frames_with_dead_members() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, db) = (tmp.path().join("repo"), tmp.path().join("app.db"));
    appdb::generate(&db, 8);
    init(&repo, "5");
    backup_db(&repo, &db);
    // Rewrite a third of the bodies: their pages change all over the file.
    let c = rusqlite::Connection::open(&db).unwrap();
    c.execute("UPDATE episodes SET body = body || ' rewritten' WHERE id % 3 = 0", []).unwrap();
    c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
    drop(c);
    backup_db(&repo, &db);
    let before = dir_size(&repo.join("data"));
    ok(cairn(&repo).args(["forget", "--group-by", "", "--keep-last", "1"]));
    let out = ok(cairn(&repo).args(["prune", "--grace", "0s", "--max-unused", "0", "--json"]));
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert!(v["plan"]["packs_to_repack"].as_u64().unwrap() >= 1, "{v}");
    let unreferenced = v["plan"]["bytes_unreferenced"].as_u64().unwrap();
    let after = dir_size(&repo.join("data"));
    assert!(after < before, "prune freed nothing: {before} → {after} B");
    // The shares of dead members add up to what was freed, within the
    // packs' headers and trailers.
    let freed = before - after;
    assert!(freed as f64 >= 0.8 * unreferenced as f64, "freed {freed} B of {unreferenced} B unreferenced");
    ok(cairn(&repo).args(["check", "--read-data"]));
    let out = tmp.path().join("out");
    ok(cairn(&repo).args(["restore", "latest", "--target"]).arg(&out));
    assert_eq!(std::fs::read(out.join("app.db")).unwrap(), std::fs::read(&db).unwrap());
}
