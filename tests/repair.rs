//! `cairn repair index`: after lost index files, after all of them, after a
//! damaged pack, and killed at each of its steps. `cairn repair snapshots`:
//! a damaged pack's file dropped from a new snapshot, the rest kept.

mod common;
use common::*;
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

fn files(dir: &Path) -> BTreeSet<PathBuf> {
    if !dir.exists() {
        return BTreeSet::new();
    }
    walkdir::WalkDir::new(dir).into_iter().map(|e| e.unwrap().into_path()).filter(|p| p.is_file()).collect()
}

/// Three snapshots of three states, each written by its own backup (so each
/// has its own packs and index file). Returns (repo, [(snapshot, hour)]).
fn three(tmp: &Path) -> (PathBuf, Vec<(String, u64)>) {
    let (repo, data) = (tmp.join("repo"), tmp.join("data"));
    init_small(&repo);
    let mut snaps = vec![];
    for h in [3, 40, 90] {
        state(&data, h);
        snaps.push((backup(&repo, &[&data]), h));
    }
    (repo, snaps)
}

fn all_restore(repo: &Path, snaps: &[(String, u64)], scratch: &Path) {
    for (id, h) in snaps {
        restores_as(repo, id, *h, scratch);
    }
}

#[test]
fn repair_after_one_and_after_all_index_files_are_deleted() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, snaps) = three(tmp.path());
    let index = files(&repo.join("index"));
    assert_eq!(index.len(), 3);
    fs::remove_file(index.iter().nth(1).unwrap()).unwrap();
    let (code, _) = fails(cairn(&repo).arg("check"));
    assert_eq!(code, 3);
    // Prune refuses to touch a repository whose snapshots are not indexed.
    let before = digest(&repo);
    fails(cairn(&repo).args(["prune", "--grace", "0s"]));
    assert_eq!(digest(&repo), before);
    let out = ok(cairn(&repo).args(["repair", "index", "--json"]));
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert!(v["packs_read"].as_u64().unwrap() > 0, "the unindexed packs were read: {v}");
    assert_eq!(v["index_files_removed"], 2);
    ok(cairn(&repo).args(["check", "--read-data"]));
    all_restore(&repo, &snaps, tmp.path());

    for f in files(&repo.join("index")) {
        fs::remove_file(f).unwrap();
    }
    fails(cairn(&repo).arg("check"));
    ok(cairn(&repo).args(["repair", "index"]));
    let out = ok(cairn(&repo).args(["check", "--read-data"]));
    assert!(!out.contains("not indexed"), "{out}");
    all_restore(&repo, &snaps, tmp.path());
    // The repaired index is complete: a prune finds nothing referenced missing.
    ok(cairn(&repo).args(["prune", "--grace", "0s"]));
    all_restore(&repo, &snaps, tmp.path());
}

/// One flipped byte inside a blob: `repair index --read-all-packs` leaves
/// exactly that blob out and keeps the rest of its pack; the snapshot using
/// it is reported, the others restore, and the next backup of the same data
/// stores the lost blob again.
#[test]
fn repair_after_a_damaged_pack_keeps_every_good_blob() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, data) = (tmp.path().join("repo"), tmp.path().join("data"));
    init_small(&repo);
    state(&data, 3);
    let first = backup(&repo, &[&data]);
    let before = files(&repo.join("data"));
    state(&data, 50);
    let second = backup(&repo, &[&data]);
    // The largest pack of the second backup holds its file chunks.
    let pack =
        files(&repo.join("data")).difference(&before).max_by_key(|p| fs::metadata(p).unwrap().len()).unwrap().clone();
    let mut bytes = fs::read(&pack).unwrap();
    let at = bytes.len() / 3;
    bytes[at] ^= 0x20;
    fs::write(&pack, bytes).unwrap();

    let out = run(cairn(&repo).args(["repair", "index", "--read-all-packs", "--json"]));
    assert_eq!(out.status.code(), Some(3), "damage found must exit 3");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let problems: Vec<&str> = v["problems"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
    let name = pack.file_name().unwrap().to_string_lossy().to_string();
    assert_eq!(problems.iter().filter(|p| p.contains("left out of the index")).count(), 1, "{problems:?}");
    assert_eq!(problems.iter().filter(|p| p.contains("BLAKE3 no longer matches")).count(), 1, "{problems:?}");
    assert!(problems.iter().all(|p| p.contains(&name)), "{problems:?}");

    assert_eq!(v["packs_salvaged"], 1, "{v}");
    assert!(v["blobs_salvaged"].as_u64().unwrap() > 0, "{v}");

    // Only the one blob is lost, and check says which file of which snapshot.
    let rep = check_json(&repo);
    let blobs = rep["damaged_blobs"].as_array().unwrap();
    assert_eq!(blobs.len(), 1, "{rep}");
    assert_eq!(blobs[0]["why"], "not in any index");
    assert_eq!(blobs[0]["used_by"].as_array().unwrap().len(), 1, "{rep}");
    assert_eq!(blobs[0]["used_by"][0]["snapshot"], &second[..8]);
    assert!(blobs[0]["used_by"][0]["paths"][0].as_str().unwrap().starts_with("data/file-"), "{rep}");
    restores_as(&repo, &first, 3, tmp.path());
    // Backing the same data up again stores the lost chunk anew, which
    // heals the damaged snapshot too (same chunk id).
    let third = backup(&repo, &[&data]);
    ok(cairn(&repo).args(["check", "--read-data"]));
    restores_as(&repo, &second, 50, tmp.path());
    restores_as(&repo, &third, 50, tmp.path());
    // The altered pack is no longer indexed: prune removes it.
    ok(cairn(&repo).args(["prune", "--grace", "0s"]));
    assert!(!pack.exists(), "the altered pack is still there");
    ok(cairn(&repo).args(["check", "--read-data"]));
    restores_as(&repo, &first, 3, tmp.path());
}

fn check_json(repo: &Path) -> serde_json::Value {
    let out = run(cairn(repo).args(["check", "--json"]));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Killed at every step, repair loses nothing: the repository stays as
/// restorable as before it started, and running it again finishes.
#[test]
fn repair_killed_at_each_step() {
    for point in ["repair-before-index", "repair-after-index", "repair-retire-index", "repair-retire-index:2"] {
        let tmp = tempfile::tempdir().unwrap();
        let (repo, snaps) = three(tmp.path());
        // One index file lost, so the repair has work to do and two old files to retire.
        fs::remove_file(files(&repo.join("index")).into_iter().next().unwrap()).unwrap();
        let packs = files(&repo.join("data"));
        let out = run(cairn(&repo).args(["repair", "index"]).env("CAIRN_FAILPOINT", point));
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(out.status.signal(), Some(9), "{point} was not reached");
        assert_eq!(files(&repo.join("data")), packs, "{point}: repair touched a pack");
        if point != "repair-before-index" {
            // The new index is durable before any old file goes.
            ok(cairn(&repo).arg("check"));
            all_restore(&repo, &snaps, tmp.path());
        }
        ok(cairn(&repo).args(["repair", "index"]));
        ok(cairn(&repo).args(["check", "--read-data"]));
        all_restore(&repo, &snaps, tmp.path());
    }
}

/// `repair snapshots`: a pack that only one file uses is damaged; the new
/// snapshot keeps every other file (restored byte-exact) and records the
/// dropped one in its tags; the original is kept.
#[test]
fn repair_snapshots_keeps_exactly_the_undamaged_part() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, src) = (tmp.path().join("repo"), tmp.path().join("data"));
    fs::create_dir_all(src.join("sub")).unwrap();
    let mut rng = cairn::sample::Rng::new(11);
    for name in ["a.bin", "sub/b.bin", "c.bin"] {
        let mut b = vec![0u8; 1 << 20];
        rng.fill(&mut b);
        fs::write(src.join(name), b).unwrap();
    }
    fs::write(src.join("sub/note.txt"), "small").unwrap();
    init_small(&repo);
    let original = backup(&repo, &[&src]);
    // A pack whose damage only sub/b.bin sees.
    let found = packs_largest_first(&repo).into_iter().any(|p| {
        let mut b = fs::read(&p).unwrap();
        let at = b.len() / 2;
        b[at] ^= 0x20;
        fs::write(&p, &b).unwrap();
        let (_, paths) = damaged_paths(&repo);
        let good = !paths.is_empty() && paths.iter().all(|x| x == "data/sub/b.bin");
        if !good {
            b[at] ^= 0x20;
            fs::write(&p, &b).unwrap();
        }
        good
    });
    assert!(found, "no pack used only by sub/b.bin");
    let dry = ok(cairn(&repo).args(["repair", "snapshots", "--read-data", "--dry-run"]));
    assert!(dry.contains("dropped data/sub/b.bin"), "{dry}");
    assert_eq!(snapshots(&repo).len(), 1, "--dry-run wrote a snapshot");
    let v: serde_json::Value =
        serde_json::from_str(&ok(cairn(&repo).args(["repair", "snapshots", "--read-data", "--json"]))).unwrap();
    assert_eq!(v[0]["original"].as_str().unwrap(), original.as_str());
    assert_eq!(v[0]["dropped"], serde_json::json!(["data/sub/b.bin"]));
    let new = v[0]["new"].as_str().unwrap().to_string();
    let snaps = snapshots(&repo);
    assert_eq!(snaps.len(), 2, "the original is kept");
    let repaired = snaps.iter().find(|s| s["id"] == new.as_str()).unwrap();
    let tags: Vec<&str> = repaired["tags"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    assert!(
        tags.contains(&"dropped:data/sub/b.bin") && tags.iter().any(|t| t.starts_with("repaired-from:")),
        "{tags:?}"
    );
    // Restoring it gives every other file, byte-exact.
    let out = tmp.path().join("out");
    ok(cairn(&repo).args(["restore", &new, "--target"]).arg(&out));
    for name in ["a.bin", "c.bin", "sub/note.txt"] {
        assert_eq!(fs::read(out.join("data").join(name)).unwrap(), fs::read(src.join(name)).unwrap(), "{name}");
    }
    assert!(!out.join("data/sub/b.bin").exists());
    // Nothing left to repair in the new snapshot: only the original needs it.
    let again: serde_json::Value =
        serde_json::from_str(&ok(cairn(&repo).args(["repair", "snapshots", "--read-data", "--json", "--dry-run"])))
            .unwrap();
    let originals: Vec<&str> = again.as_array().unwrap().iter().map(|r| r["original"].as_str().unwrap()).collect();
    assert_eq!(originals, [original.as_str()]);
}
