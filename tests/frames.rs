//! Format 5's small-chunk storage. Frames: the first snapshot of a
//! text-heavy database through `sqlite:` stays within 1.15 × restic's
//! repository for the same file; a format-4 repository (pages one by one
//! with a dictionary) is larger; prune repacks frames with dead members.
//! List patches: a snapshot's list cost is 36 bytes per changed page, the
//! lists are written whole again past the bound, and every snapshot of a
//! patched series restores byte-exact, also after prune.

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

/// The database node of the latest snapshot, its manifest and page ids.
fn latest_pages(repo: &Path) -> (cairn::source::sqlite::manifest::SqliteManifest, Vec<cairn::format::Id>) {
    let r = cairn::repo::Repository::open_local(repo, None).unwrap();
    let (_, snap) = r.list_snapshots().unwrap().into_iter().max_by_key(|(_, s)| s.time_ns).unwrap();
    let node =
        r.load_tree(&snap.tree).unwrap().into_iter().find(|n| n.kind == cairn::source::sqlite::NODE_KIND).unwrap();
    let (_, m) = cairn::source::sqlite::restore::load_manifest(&r, &node).unwrap();
    let ids = cairn::source::sqlite::restore::page_ids(&r, &node, &m).unwrap();
    (m, ids)
}

fn blake(p: &Path) -> String {
    blake3::hash(&std::fs::read(p).unwrap()).to_hex().to_string()
}

#[test]
fn list_cost_follows_the_change() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, db) = (tmp.path().join("repo"), tmp.path().join("app.db"));
    appdb::generate(&db, 16);
    init(&repo, "5");
    let mut hashes = vec![];
    backup_db(&repo, &db);
    hashes.push(blake(&db));
    let (m0, ids0) = latest_pages(&repo);
    assert!(m0.patches.is_empty() && m0.base_pages == m0.page_count);
    // Three hours of scattered changes: each snapshot adds one patch of
    // exactly the pages that changed, and no page list.
    let mut prev = (m0, ids0);
    for hour in 1..=3u64 {
        appdb::activity(&db, hour);
        rusqlite::Connection::open(&db).unwrap().execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
        backup_db(&repo, &db);
        hashes.push(blake(&db));
        let (m, ids) = latest_pages(&repo);
        let changed = ids.iter().enumerate().filter(|(i, id)| prev.1.get(*i) != Some(id)).count() as u64;
        assert!(changed > 0 && changed * 8 < m.page_count, "hour {hour}: {changed} of {} pages changed", m.page_count);
        assert_eq!(m.page_lists, prev.0.page_lists, "hour {hour}: the page lists were written again");
        assert_eq!(m.patches.len(), hour as usize);
        assert_eq!(&m.patches[..hour as usize - 1], &prev.0.patches[..], "earlier patches are shared");
        assert_eq!(m.patched, prev.0.patched + changed, "hour {hour}: the patch lists exactly the changed pages");
        prev = (m, ids);
    }
    // A change to most pages: the lists are written whole again.
    let c = rusqlite::Connection::open(&db).unwrap();
    c.execute("UPDATE episodes SET body = body || '.'", []).unwrap();
    c.execute_batch("VACUUM; PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
    drop(c);
    backup_db(&repo, &db);
    hashes.push(blake(&db));
    let (m, _) = latest_pages(&repo);
    assert!(m.patches.is_empty() && m.base_pages == m.page_count, "past the bound the lists are full again");
    assert_ne!(m.page_lists, prev.0.page_lists);
    // Every snapshot restores byte-exact, before and after the older ones
    // (whose lists the patched ones build on) are forgotten and pruned.
    let snaps = common::snapshots(&repo);
    assert_eq!(snaps.len(), hashes.len());
    let restore = |id: &str, n: usize| {
        let out = tmp.path().join(format!("out-{n}-{}", rand_suffix()));
        ok(cairn(&repo).args(["restore", id, "--target"]).arg(&out));
        assert_eq!(blake(&out.join("app.db")), hashes[n], "snapshot {n} restored differently");
    };
    for (n, s) in snaps.iter().enumerate() {
        restore(s["id"].as_str().unwrap(), n);
    }
    let third = snaps[3]["id"].as_str().unwrap().to_string();
    ok(cairn(&repo).args(["forget", "--group-by", "", "--keep-last", "2"]));
    assert_eq!(common::snapshots(&repo).len(), 2);
    ok(cairn(&repo).args(["prune", "--grace", "0s", "--max-unused", "0"]));
    ok(cairn(&repo).args(["check", "--read-data"]));
    restore(&third, 3);
}
