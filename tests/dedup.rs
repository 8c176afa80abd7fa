//! Deduplication: unchanged data costs (almost) nothing; a small insert
//! costs a few chunks.

mod common;
use common::*;
use std::fs;

fn repo_size(repo: &std::path::Path) -> u64 {
    digest(repo).values().map(|(s, _)| s).sum()
}

#[test]
fn unchanged_tree_adds_under_one_percent() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, src) = (tmp.path().join("repo"), tmp.path().join("data"));
    cairn::sample::generate(&src, 32, 1).unwrap();
    init_small(&repo);
    backup(&repo, &[&src]);
    let before = repo_size(&repo);
    let v = backup_json(&repo, &[&src]);
    let added = repo_size(&repo) - before;
    assert!((added as f64) < 0.01 * (32 << 20) as f64, "second backup added {added} bytes");
    assert_eq!(v["files_changed"], 0);
    assert_eq!(v["bytes_read"], 0, "unchanged files must not be read again");
    // --force re-reads everything but still stores nothing new.
    let forced: serde_json::Value =
        serde_json::from_str(ok(cairn(&repo).args(["backup", "--force", "--json"]).arg(&src)).trim()).unwrap();
    assert!(forced["bytes_read"].as_u64().unwrap() >= 32 << 20);
    assert_eq!(forced["blobs_new"], 0);
}

#[test]
fn insert_in_the_middle_adds_few_chunks() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, src) = (tmp.path().join("repo"), tmp.path().join("data"));
    fs::create_dir(&src).unwrap();
    let mut big = vec![0u8; 16 << 20];
    cairn::sample::Rng::new(9).fill(&mut big);
    fs::write(src.join("big.bin"), &big).unwrap();
    init_small(&repo);
    backup(&repo, &[&src]);
    big.splice(8 << 20..8 << 20, b"a few inserted bytes".iter().copied());
    fs::write(src.join("big.bin"), &big).unwrap();
    let v = backup_json(&repo, &[&src]);
    // One or two data chunks around the edit, plus the changed tree blobs.
    let new = v["blobs_new"].as_u64().unwrap();
    assert!(new <= 5, "{new} new blobs for a 20-byte insert into 16 MiB (~1000 chunks)");
    assert!(v["bytes_new_raw"].as_u64().unwrap() < 300_000, "{v}");
}

#[test]
fn only_changed_files_are_read_again() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, src) = (tmp.path().join("repo"), tmp.path().join("data"));
    cairn::sample::generate(&src, 8, 2).unwrap();
    init_small(&repo);
    let first = backup_json(&repo, &[&src]);
    std::thread::sleep(std::time::Duration::from_millis(20)); // a visible mtime change
    cairn::sample::modify(&src, 2).unwrap(); // edits one script, appends to app.db, adds a file
    let v = backup_json(&repo, &[&src]);
    assert_eq!(v["files_changed"], 2, "{v}");
    assert_eq!(v["files_new"], 1, "{v}");
    assert_eq!(v["files_unmodified"].as_u64().unwrap() + 2, first["files_new"].as_u64().unwrap(), "{v}");
    restore_and_compare(&repo, v["snapshot_id"].as_str().unwrap(), &src, tmp.path());
}
